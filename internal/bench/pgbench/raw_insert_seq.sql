-- The raw limit: one plain INSERT of the same row into bench_raw.events (the
-- events table's columns and indexes, without the store's logic), one
-- autocommitted statement per transaction. Variables: see run.sh.
\set n :n + 1
INSERT INTO bench_raw.events (stream_id, version, type, data, metadata)
VALUES (:prefix || 'c' || :client_id || '-1', :n, 'OrderPlaced', :data, :meta);
