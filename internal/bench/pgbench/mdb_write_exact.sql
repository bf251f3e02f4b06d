-- Message DB's exact expected version: two calls, stream_version then
-- write_message with it (each client its own category and stream; the first
-- call of a client, on no stream, expects -1 and creates it).
SELECT coalesce(message_store.stream_version(:prefix || 'c' || :client_id || '-1'), -1) AS sv \gset
SELECT message_store.write_message(gen_random_uuid()::varchar, :prefix || 'c' || :client_id || '-1', 'OrderPlaced', :data, :meta, :sv);
