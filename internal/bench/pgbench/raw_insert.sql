-- The raw limit: a plain single-row INSERT of the same event into
-- bench_raw.events (the events table's columns and indexes, no function).
-- Variables: data, metadata, given with -D by `eventscope bench`.
\set v random(1, 9000000000000000000)
INSERT INTO bench_raw.events (stream_id, version, type, data, metadata)
VALUES ('raw-' || :client_id::text, :v, 'OrderPlaced', :data::jsonb, :metadata::jsonb);
