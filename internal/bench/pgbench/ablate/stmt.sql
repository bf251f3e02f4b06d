-- The append's statement alone (streams UPDATE + events INSERT in one CTE), on the abl tables.
WITH s AS (UPDATE abl.streams s SET version = s.version + 1, event_count = s.event_count + 1, updated_at = greatest(clock_timestamp(), s.updated_at), last_tx = pg_current_xact_id() WHERE s.stream_id = 'ablc' || :client_id || '-1' AND s.closed_at IS NULL RETURNING s.version, s.updated_at)
INSERT INTO abl.events (stream_id, version, event_id, type, data, metadata, recorded_at) SELECT 'ablc' || :client_id || '-1', s.version, gen_random_uuid(), 'OrderPlaced', :data, :meta, s.updated_at FROM s;
