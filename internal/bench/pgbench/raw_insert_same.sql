-- The raw limit with the log's indexes: one plain INSERT of the same row into
-- bench_raw.events_same, which has every index eventscope.events has (see
-- run.sh), one autocommitted statement per transaction, no function.
\set n :n + 1
INSERT INTO bench_raw.events_same (stream_id, version, type, data, metadata)
VALUES (:prefix || 'c' || :client_id || '-1', :n, 'OrderPlaced', :data, :meta);
