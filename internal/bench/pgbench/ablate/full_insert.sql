-- The same row as raw_insert_seq into abl.events (every index of eventscope.events).
\set n :n + 1
INSERT INTO abl.events (stream_id, version, event_id, type, data, metadata) VALUES (:prefix || 'c' || :client_id || '-1', :n, gen_random_uuid(), 'OrderPlaced', :data, :meta);
