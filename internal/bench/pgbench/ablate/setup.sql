-- Ablation tables and function for the plain-SQL append's cost breakdown
-- (README, "Where a plain-SQL append's server time goes"). Load into a
-- scratch database migrated with `eventscope migrate`, as its owner:
--   psql "$URL" -f setup.sql
-- abl.events has every column and index of eventscope.events; abl.streams
-- is the streams table with one row per pgbench client; abl.append_min is
-- the append's fast path without its screen, defined as invoker;
-- abl.ins_only and abl.nostreams (at the end) are the INSERT alone in
-- PL/pgSQL and the append without a streams row. variants.sh makes copies
-- of the installed append with one piece taken out.
CREATE SCHEMA IF NOT EXISTS abl;
CREATE TABLE IF NOT EXISTS abl.events (LIKE eventscope.events INCLUDING ALL);
ALTER TABLE abl.events ALTER COLUMN position SET DEFAULT nextval('eventscope.events_position_seq');
CREATE TABLE IF NOT EXISTS abl.streams (LIKE eventscope.streams INCLUDING ALL);
INSERT INTO abl.streams (stream_id, category, version, event_count)
SELECT 'ablc' || i || '-1', 'ablc' || i, -1, 0 FROM generate_series(0, 64) i ON CONFLICT DO NOTHING;
INSERT INTO eventscope.streams (stream_id, category, version, event_count)
SELECT 'ablminc' || i || '-1', 'ablminc' || i, -1, 0 FROM generate_series(0, 64) i ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION abl.append_min(stream_id text, expected_version bigint, events jsonb) RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE p_stream ALIAS FOR stream_id; new_ver bigint;
BEGIN
        IF NOT pg_try_advisory_xact_lock(1702064754, hashtext(p_stream)) THEN
            PERFORM eventscope.lock_stream(p_stream);
        END IF;
        WITH s AS (
            UPDATE eventscope.streams AS s
               SET version = s.version + 1, event_count = s.event_count + 1,
                   updated_at = greatest(clock_timestamp(), s.updated_at), last_tx = pg_current_xact_id()
             WHERE s.stream_id = p_stream AND s.closed_at IS NULL
               AND (expected_version IS NULL OR expected_version = -2 OR s.version = expected_version)
               AND s.last_tx <= pg_current_xact_id()
            RETURNING s.version, s.updated_at)
        INSERT INTO eventscope.events (stream_id, version, event_id, type, data, metadata, recorded_at)
        SELECT p_stream, s.version, gen_random_uuid(), events -> 0 ->> 'type', events -> 0 -> 'data',
               coalesce(nullif(events -> 0 -> 'metadata', 'null'::jsonb), '{}'::jsonb), s.updated_at
          FROM s
        RETURNING version INTO new_ver;
        RETURN new_ver;
END $fn$;

-- abl.ins_only: the INSERT of full_insert inside a PL/pgSQL function (the
-- cost of the call around one statement).
CREATE OR REPLACE FUNCTION abl.ins_only(p_stream text, v bigint, events jsonb) RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE new_ver bigint;
BEGIN
    INSERT INTO abl.events (stream_id, version, event_id, type, data, metadata)
    VALUES (p_stream, v, gen_random_uuid(), events -> 0 ->> 'type', events -> 0 -> 'data', events -> 0 -> 'metadata')
    RETURNING version INTO new_ver;
    RETURN new_ver;
END $fn$;

-- abl.nostreams: the try-lock and the INSERT with the version read from the
-- log's primary key, no streams row written (the design lever "no streams
-- row per append").
CREATE OR REPLACE FUNCTION abl.nostreams(p_stream text, expected_version bigint, events jsonb) RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE new_ver bigint;
BEGIN
    IF pg_try_advisory_xact_lock(1702064754, hashtext(p_stream)) THEN
        INSERT INTO abl.events (stream_id, version, event_id, type, data, metadata)
        SELECT p_stream, coalesce((SELECT max(e.version) FROM abl.events e WHERE e.stream_id = p_stream), -1) + 1,
               gen_random_uuid(), events -> 0 ->> 'type', events -> 0 -> 'data', events -> 0 -> 'metadata'
        RETURNING version INTO new_ver;
    END IF;
    RETURN new_ver;
END $fn$;
