-- eventscope schema, version 20: the plain-SQL append without the definer's
-- setting switch (issue 9, part 2). Same signature, guarantees, validation
-- and errors.
--
-- Measured on a quiet machine (server CPU per transaction, pgbench -M
-- prepared, 8 clients; internal/bench/pgbench/ablate): the append cost 193
-- µs; the same function as SECURITY DEFINER without its SET search_path
-- clause 181 µs, as SECURITY INVOKER 181 µs. The SET clause, not the change
-- of user, costs those 12 µs (6%): on every call PostgreSQL saves the
-- settings, sets search_path (which invalidates the session's resolved
-- search path) and restores them at the end.
--
-- So eventscope.append is now a definer function without a SET clause, and
-- its body, the common call's fast path (one plain event, an existing
-- stream, the stream's lock free), names every function, operator and type
-- by its schema: pg_catalog.octet_length, OPERATOR(pg_catalog.=),
-- pg_catalog.jsonb. Nothing in it is looked up on the caller's search_path,
-- which the caller controls, and the SQL functions it inlines
-- (event_screen, category, the refused characters and limits) are
-- qualified the same way, because the planner parses an inlined body under
-- the caller's search_path too. Constructs that look an operator up by name
-- and cannot be qualified (NULLIF, IS DISTINCT FROM, IN, BETWEEN, simple
-- CASE) are not used, and OPERATOR(...) binds as any named operator does
-- (left to right, one precedence), so mixed expressions are parenthesised.
-- Everything else, the general path, is migration 019's, unchanged, in
-- eventscope.append_general: a definer function with the fixed
-- search_path, called only by append (owner only).
-- store/searchpath_test.go (TestAppendUnderHostileSearchPath) shadows every
-- pg_catalog function and operator these bodies could reach on a
-- search_path that puts a hostile schema before pg_catalog, and appends.
--
-- Also fixed here (found in review; there since migration 005): the depth
-- screen trusted pg_column_size, which is the compressed size of a value
-- passed from a table, so a writer could store about 220 levels of nesting
-- through a compressed argument. The screens now size an uncompressed
-- value: the event extracted with ->, or events || '[]'
-- (TestCompressedDeepEventRefused).

CREATE OR REPLACE FUNCTION eventscope.category(stream_id text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT pg_catalog.split_part(stream_id, '-', 1) $$;

CREATE OR REPLACE FUNCTION eventscope.event_screen(ev jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(CASE WHEN pg_catalog.jsonb_typeof(ev) OPERATOR(pg_catalog.=) 'object' THEN
                (ev OPERATOR(pg_catalog.-) '{type,data,metadata}'::pg_catalog.text[]) OPERATOR(pg_catalog.=) '{}'::pg_catalog.jsonb
            AND pg_catalog.jsonb_typeof(ev OPERATOR(pg_catalog.->) 'type') OPERATOR(pg_catalog.=) 'string'
            AND pg_catalog.octet_length(ev OPERATOR(pg_catalog.->>) 'type') OPERATOR(pg_catalog.>=) 1
            AND pg_catalog.octet_length(ev OPERATOR(pg_catalog.->>) 'type') OPERATOR(pg_catalog.<=) 200
            AND (ev OPERATOR(pg_catalog.->>) 'type') OPERATOR(pg_catalog.!~) eventscope.type_refused_chars()
            AND pg_catalog.jsonb_typeof(ev OPERATOR(pg_catalog.->) 'data') OPERATOR(pg_catalog.=) 'object'
            AND coalesce(pg_catalog.jsonb_typeof(ev OPERATOR(pg_catalog.->) 'metadata') OPERATOR(pg_catalog.=) 'object'
                         OR pg_catalog.jsonb_typeof(ev OPERATOR(pg_catalog.->) 'metadata') OPERATOR(pg_catalog.=) 'null', true)
            AND NOT coalesce((ev OPERATOR(pg_catalog.->) 'metadata') OPERATOR(pg_catalog.?) '$personal', false)
           ELSE false END, false)
$$;

-- The general path: migration 019's append after its fast path.
CREATE FUNCTION eventscope.append_general(stream_id text, expected_version bigint, events jsonb)
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
BEGIN
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
    -- (pg_column_size is the size as passed, and a value read from a table
    -- may arrive compressed, smaller than the nesting it holds: the size is
    -- taken of events || '[]', which is the argument decompressed.)
    IF NOT screened
       OR (pg_column_size(events || '[]'::jsonb) >= 8 * (eventscope.max_json_depth() + 2)
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
REVOKE ALL ON FUNCTION eventscope.append_general(text, bigint, jsonb) FROM PUBLIC;

-- The append: the fast path, every name qualified (see above); anything it
-- does not clear goes to append_general.
CREATE OR REPLACE FUNCTION eventscope.append(stream_id text, expected_version bigint, events jsonb)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
    p_stream ALIAS FOR stream_id;
    new_ver  bigint;
    quiet    boolean;
BEGIN
    -- One expression clears the common call and takes the stream's lock (see
    -- migration 019: the depth walk is skipped because every level of jsonb
    -- nesting takes at least 8 bytes of an uncompressed value, and the event
    -- extracted with -> is never compressed, where the argument, read from a
    -- table, may be; the lock is tried only for a call the
    -- screen cleared, before anything gives the transaction an id; a busy
    -- stream goes to the general path, which waits for it, bounded, ES423).
    IF (CASE WHEN p_stream OPERATOR(pg_catalog.<>) '' AND pg_catalog.octet_length(p_stream) OPERATOR(pg_catalog.<=) 200
                 AND p_stream OPERATOR(pg_catalog.!~) eventscope.stream_id_refused_chars()
                 AND (expected_version IS NULL OR expected_version OPERATOR(pg_catalog.=) -2
                      OR expected_version OPERATOR(pg_catalog.>=) 0)
                 AND pg_catalog.jsonb_typeof(events) OPERATOR(pg_catalog.=) 'array'
                 AND pg_catalog.jsonb_array_length(events) OPERATOR(pg_catalog.=) 1
                 AND eventscope.event_screen(events OPERATOR(pg_catalog.->) 0)
                 AND pg_catalog.pg_column_size(events OPERATOR(pg_catalog.->) 0)
                     OPERATOR(pg_catalog.<) (8 OPERATOR(pg_catalog.*) (eventscope.max_json_depth() OPERATOR(pg_catalog.+) 1))
                 AND pg_catalog.octet_length(events::pg_catalog.text) OPERATOR(pg_catalog.<=) eventscope.max_event_bytes()
            THEN pg_catalog.pg_try_advisory_xact_lock(1702064754, pg_catalog.hashtext(p_stream))
            ELSE false END) THEN
        -- reserve the version on the streams row (the recorded time is the
        -- wall clock now, under the lock, never below the stream's last
        -- event) and insert the event; the session's wake-up setting comes
        -- back with the version
        WITH s AS (
            UPDATE eventscope.streams AS s
               SET version = s.version OPERATOR(pg_catalog.+) 1, event_count = s.event_count OPERATOR(pg_catalog.+) 1,
                   updated_at = GREATEST(pg_catalog.clock_timestamp(), s.updated_at), last_tx = pg_catalog.pg_current_xact_id()
             WHERE s.stream_id OPERATOR(pg_catalog.=) p_stream AND s.closed_at IS NULL
               AND (expected_version IS NULL OR expected_version OPERATOR(pg_catalog.=) -2 OR s.version OPERATOR(pg_catalog.=) expected_version)
               AND s.last_tx OPERATOR(pg_catalog.<=) pg_catalog.pg_current_xact_id()
            RETURNING s.version, s.updated_at)
        INSERT INTO eventscope.events AS e (stream_id, version, event_id, type, data, metadata, recorded_at)
        SELECT p_stream, s.version, pg_catalog.gen_random_uuid(),
               (events OPERATOR(pg_catalog.->) 0) OPERATOR(pg_catalog.->>) 'type',
               (events OPERATOR(pg_catalog.->) 0) OPERATOR(pg_catalog.->) 'data',
               CASE WHEN pg_catalog.jsonb_typeof((events OPERATOR(pg_catalog.->) 0) OPERATOR(pg_catalog.->) 'metadata') OPERATOR(pg_catalog.=) 'object'
                    THEN (events OPERATOR(pg_catalog.->) 0) OPERATOR(pg_catalog.->) 'metadata'
                    ELSE '{}'::pg_catalog.jsonb END,
               s.updated_at
          FROM s
        RETURNING e.version, coalesce(pg_catalog.current_setting('eventscope.notify', true) OPERATOR(pg_catalog.<>) 'on', true)
          INTO new_ver, quiet;
        IF quiet THEN
            RETURN new_ver;
        ELSIF new_ver IS NOT NULL THEN
            -- Wake-ups: only for sessions that opt in (SET eventscope.notify = 'on').
            PERFORM pg_catalog.pg_notify('eventscope', eventscope.category(p_stream));
            RETURN new_ver;
        END IF;
        -- a new stream, a conflict, a closed stream: the general path
    END IF;
    RETURN eventscope.append_general(p_stream, expected_version, events);
END
$fn$;
