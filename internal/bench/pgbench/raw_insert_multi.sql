-- The raw limit beside append_multi: the same 4 rows in one multi-row INSERT.
\set v random(1, 9000000000000000000)
INSERT INTO bench_raw.events (stream_id, version, type, data, metadata) VALUES
    ('raw-' || :client_id::text || '-a', :v, 'OrderPlaced', :data::jsonb, :metadata::jsonb),
    ('raw-' || :client_id::text || '-b', :v, 'OrderPlaced', :data::jsonb, :metadata::jsonb),
    ('raw-' || :client_id::text || '-c', :v, 'OrderPlaced', :data::jsonb, :metadata::jsonb),
    ('raw-' || :client_id::text || '-d', :v, 'OrderPlaced', :data::jsonb, :metadata::jsonb);
