-- eventscope schema, version 19: the plain-SQL append's fast path, leaner
-- (issue 9, part 2). Same signature, guarantees, validation and errors.
--
-- Profile of the common call (one plain event, an existing stream), schema
-- 15, pgbench -M prepared, 16 clients, PostgreSQL 15: the server's samples
-- split into the function's one statement (the streams UPDATE and the
-- events INSERT with its six index insertions, ~37%), the commit and its
-- WAL flush (~18%), PL/pgSQL around the statement (~12%: every simple
-- expression of a PL/pgSQL function is set up again in each transaction,
-- and each call is its own transaction) and the definer's switch of user
-- and search_path (~4%). This migration cuts what PL/pgSQL evaluates per
-- call from five expressions to two:
--   * the screen and the stream's try-lock are one expression (the lock is
--     tried only when the screen cleared the call; a busy stream now goes
--     to the general path, which waits for the lock as before: bounded by
--     append_lock_timeout_ms, then ES423);
--   * the session's wake-up setting (eventscope.notify) comes back from the
--     statement with the new version, so the common call returns after one
--     test of a variable.
-- Everything after the fast path is migration 012's append, unchanged.

CREATE OR REPLACE FUNCTION eventscope.append(stream_id text, expected_version bigint, events jsonb)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, eventscope, pg_temp AS $fn$
DECLARE
    p_stream  ALIAS FOR stream_id;
    n         int;
    new_ver   bigint;
    at        timestamptz;
    cur       record;
    max_bytes bigint;
    checked   boolean;
    screened  boolean;
    quiet     boolean;
BEGIN
    -- The fast path, for the common call: one plain event (no id) that is
    -- small, on an existing stream. Every statement of a PL/pgSQL function
    -- costs, so one expression clears the call (it implies every rule the
    -- full validation below checks: the depth walk is skipped because every
    -- level of jsonb nesting takes at least 8 bytes, so an array smaller
    -- than 8 * (depth + 2) bytes cannot nest too deep), one takes the lock,
    -- and one statement reserves the version and inserts the event.
    IF (CASE WHEN p_stream <> '' AND octet_length(p_stream) <= 200 AND p_stream !~ eventscope.stream_id_refused_chars()
                 AND (expected_version IS NULL OR expected_version >= -2)
                 AND jsonb_typeof(events) = 'array' AND jsonb_array_length(events) = 1
                 AND eventscope.event_screen(events -> 0)
                 AND pg_column_size(events) < 8 * (eventscope.max_json_depth() + 2)
                 AND octet_length(events::text) <= eventscope.max_event_bytes()
                 AND (expected_version IS NULL OR expected_version <> -1)
            -- the stream's lock (see below), tried only for a call the
            -- screen cleared; a busy stream goes to the general path, which
            -- waits for it (bounded, ES423)
            THEN pg_try_advisory_xact_lock(1702064754, hashtext(p_stream))
            ELSE false END) THEN
        -- reserve the version on the streams row (the recorded time is the
        -- wall clock now, under the lock, never below the stream's last
        -- event) and insert the event; the session's wake-up setting comes
        -- back with the version, so the common call evaluates nothing more
        WITH s AS (
            UPDATE eventscope.streams AS s
               SET version = s.version + 1, event_count = s.event_count + 1,
                   updated_at = greatest(clock_timestamp(), s.updated_at), last_tx = pg_current_xact_id()
             WHERE s.stream_id = p_stream AND s.closed_at IS NULL
               AND (expected_version IS NULL OR expected_version = -2 OR s.version = expected_version)
               AND s.last_tx <= pg_current_xact_id()
            RETURNING s.version, s.updated_at)
        INSERT INTO eventscope.events AS e (stream_id, version, event_id, type, data, metadata, recorded_at)
        SELECT p_stream, s.version, gen_random_uuid(), events -> 0 ->> 'type', events -> 0 -> 'data',
               coalesce(nullif(events -> 0 -> 'metadata', 'null'::jsonb), '{}'::jsonb), s.updated_at
          FROM s
        RETURNING e.version, current_setting('eventscope.notify', true) IS DISTINCT FROM 'on' INTO new_ver, quiet;
        IF quiet THEN
            RETURN new_ver;
        ELSIF new_ver IS NOT NULL THEN
            -- Wake-ups: only for sessions that opt in (SET eventscope.notify = 'on').
            PERFORM pg_notify('eventscope', eventscope.category(p_stream));
            RETURN new_ver;
        END IF;
        -- a new stream, a conflict, a closed stream, a busy stream: the
        -- general path
    END IF;

    -- validation: every failure names the field
    max_bytes := eventscope.max_event_bytes();
    checked := false;
    IF p_stream IS NULL OR p_stream = '' THEN
        PERFORM eventscope.invalid('stream_id', NULL, 'must not be empty');
    ELSIF octet_length(p_stream) > 200 THEN
        PERFORM eventscope.invalid('stream_id', NULL, format('is %s bytes, at most 200 allowed', octet_length(p_stream)));
    ELSIF p_stream ~ eventscope.stream_id_refused_chars() THEN
        PERFORM eventscope.invalid('stream_id', NULL, format('must not contain whitespace, control or format characters (found %s)',
                                                              eventscope.first_refused(p_stream, eventscope.stream_id_refused_chars())));
    END IF;
    IF expected_version < -2 THEN
        PERFORM eventscope.invalid('expected_version', NULL, format('%s is not NULL, -1, -2 or a version >= 0', expected_version));
    END IF;
    IF jsonb_typeof(events) IS DISTINCT FROM 'array' THEN
        PERFORM eventscope.invalid('events', NULL, 'must be a JSON array');
    END IF;
    n := jsonb_array_length(events);
    IF n = 0 THEN
        PERFORM eventscope.invalid('events', NULL, 'must hold at least one event');
    END IF;

    -- The screen clears plain events cheaply; anything it does not clear
    -- (explicit ids, an unknown field, a bad or long type, ...) gets the
    -- detailed check, which names the first bad field exactly.
    IF n = 1 THEN
        screened := eventscope.event_screen(events -> 0);
    ELSE
        SELECT bool_and(eventscope.event_screen(e.v)) INTO screened FROM jsonb_array_elements(events) AS e(v);
    END IF;
    IF NOT screened
       OR (pg_column_size(events) >= 8 * (eventscope.max_json_depth() + 2)
           AND events @? 'strict $.**{102} ? (@.type() == "object" || @.type() == "array")')
       OR octet_length(events::text) > max_bytes THEN
        PERFORM eventscope.append_check(events, max_bytes);
        checked := true;
    END IF;

    -- Serialise appends to this stream on a transaction advisory lock, taken
    -- before anything assigns this transaction an id. The global log is
    -- ordered by transaction id: a writer that waits for the stream must get
    -- its id after the previous writer's, or its later versions would sort
    -- before that writer's events. (A row lock does not do: an UPDATE's
    -- qualification runs, and assigns the id, before it waits for the row.)
    -- Appends to different streams take different locks. The wait is
    -- bounded (append_lock_timeout_ms, then ES423). Taking it twice (the
    -- fast path fell through) is harmless.
    IF NOT pg_try_advisory_xact_lock(1702064754, hashtext(p_stream)) THEN
        PERFORM eventscope.lock_stream(p_stream);
    END IF;

    -- idempotency: ids already stored are a no-op when they match exactly
    IF checked AND events @? '$[*].id ? (@.type() == "string")' THEN
        new_ver := eventscope.append_replayed(p_stream, events, n);
        IF new_ver IS NOT NULL THEN
            RETURN new_ver; -- the whole batch was stored before: a no-op
        END IF;
    END IF;

    -- reserve the versions: the streams row is the per-stream state
    IF expected_version IS NULL OR expected_version <> -1 THEN
        UPDATE eventscope.streams AS s
           SET version = s.version + n, event_count = s.event_count + n,
               updated_at = greatest(clock_timestamp(), s.updated_at), last_tx = pg_current_xact_id()
         WHERE s.stream_id = p_stream AND s.closed_at IS NULL
           AND (expected_version IS NULL OR expected_version = -2 OR s.version = expected_version)
           AND s.last_tx <= pg_current_xact_id()
        RETURNING s.version, s.updated_at INTO new_ver, at;
    END IF;
    IF new_ver IS NULL AND (expected_version IS NULL OR expected_version = -1) THEN
        -- a new stream (under the lock nobody else creates it meanwhile)
        INSERT INTO eventscope.streams AS s (stream_id, category, version, event_count, updated_at)
        VALUES (p_stream, eventscope.category(p_stream), n - 1, n, clock_timestamp())
        ON CONFLICT ON CONSTRAINT streams_pkey DO NOTHING
        RETURNING s.version, s.updated_at INTO new_ver, at;
    END IF;

    IF new_ver IS NULL THEN
        SELECT s.version, s.closed_at, s.last_tx INTO cur FROM eventscope.streams s WHERE s.stream_id = p_stream;
        IF FOUND AND cur.closed_at IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'ES410',
                MESSAGE = format('stream %s is closed', p_stream),
                DETAIL = json_build_object('stream_id', p_stream)::text;
        ELSIF FOUND AND cur.last_tx > pg_current_xact_id()
              AND (expected_version IS NULL OR expected_version = -2 OR cur.version = expected_version) THEN
            RAISE EXCEPTION USING ERRCODE = '40001',
                MESSAGE = format('stream %s was written by a newer transaction; retry the transaction', p_stream),
                HINT = 'this transaction wrote before appending, and a concurrent append to the stream committed meanwhile; appending now would break the global order';
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'ES409',
            MESSAGE = format('append to %s: expected version %s, stream is at %s', p_stream,
                             CASE expected_version WHEN -1 THEN 'no-stream' WHEN -2 THEN 'exists' ELSE expected_version::text END,
                             CASE WHEN FOUND THEN cur.version::text ELSE 'no-stream' END),
            DETAIL = json_build_object('stream_id', p_stream, 'expected', expected_version,
                                       'actual', CASE WHEN FOUND THEN cur.version ELSE -1 END)::text;
    END IF;

    -- Personal fields (only checked events can hold them): the values are
    -- sealed under the subject's key and leave data (migration 012).
    IF checked AND events @? '$[*].personal ? (@.type() == "object")' THEN
        events := eventscope.personal_seal_events(events);
    END IF;

    IF n = 1 THEN
        INSERT INTO eventscope.events (stream_id, version, event_id, type, data, metadata, recorded_at, personal)
        VALUES (p_stream, new_ver, coalesce((events -> 0 ->> 'id')::uuid, gen_random_uuid()),
                events -> 0 ->> 'type', events -> 0 -> 'data',
                coalesce(nullif(events -> 0 -> 'metadata', 'null'::jsonb), '{}'::jsonb), at,
                nullif(events -> 0 -> 'personal', 'null'::jsonb));
    ELSE
        INSERT INTO eventscope.events (stream_id, version, event_id, type, data, metadata, recorded_at, personal)
        SELECT p_stream, new_ver - n + e.ord,
               coalesce((e.v ->> 'id')::uuid, gen_random_uuid()),
               e.v ->> 'type', e.v -> 'data', coalesce(nullif(e.v -> 'metadata', 'null'::jsonb), '{}'::jsonb), at,
               nullif(e.v -> 'personal', 'null'::jsonb)
          FROM jsonb_array_elements(events) WITH ORDINALITY AS e(v, ord)
         ORDER BY e.ord;
    END IF;

    -- Wake-ups: only for sessions that opt in (SET eventscope.notify = 'on').
    IF current_setting('eventscope.notify', true) = 'on' THEN
        PERFORM pg_notify('eventscope', eventscope.category(p_stream));
    END IF;
    RETURN new_ver;
END
$fn$;
