-- Message DB's write_message, no expected version, each client its own
-- category (so its category lock never contends). Needs Message DB's
-- functions in the database (not part of eventscope; see run.sh).
SELECT message_store.write_message(gen_random_uuid()::varchar, :prefix || 'c' || :client_id || '-1', 'OrderPlaced', :data, :meta);
