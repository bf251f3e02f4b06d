-- eventscope schema, version 5: a lean append that refuses what readers
-- cannot take, with server-side limits and a bounded wait for the stream.
--
-- What changed in eventscope.append (its signature is fixed):
--   * No NOTIFY in the append's transaction unless the session opts in with
--     SET eventscope.notify = 'on' (NOTIFY serialises every notifying commit
--     on a database-wide lock). Subscribers are woken another way.
--   * Events are refused (ES400, DETAIL {"field","index","reason"}) when they
--     hold a field other than id, type, data and metadata; when data or
--     metadata nest deeper than 100 levels (eventscope.max_json_depth());
--     when a type holds a C0 or C1 control character, DEL, U+2028/U+2029 or a
--     Unicode format character (category Cf: bidi controls such as U+202E,
--     zero-width characters, the BOM); when a stream id holds whitespace, a
--     control character or a format character. The Go client applies the
--     same rules (store/append.go, internal/textsafe.Unsafe).
--   * The event size cap is a server-side setting, eventscope.settings
--     (max_event_bytes), that only the schema's owner (or whoever it grants
--     UPDATE) changes; the session setting eventscope.max_event_bytes has no
--     effect any more. The append reads it at no per-call cost: a trigger on
--     the settings table compiles each value into an IMMUTABLE function, which
--     the append's cached plans fold to a constant (replacing the function
--     invalidates those plans in every session).
--   * recorded_at is the wall clock (clock_timestamp()) taken under the
--     stream's lock, and never below the stream's previous event: the streams
--     row's updated_at is the last event's recorded_at, and the next append
--     records greatest(clock_timestamp(), updated_at). So the events of a
--     stream recorded at or before T are a prefix of the stream.
--   * The append waits for the stream's lock at most
--     append_lock_timeout_ms (settings; default 10000) and then fails with
--     SQLSTATE ES423, DETAIL {"stream_id": ...}: retryable, the stream is busy
--     (another transaction holds its append lock: an open transaction that
--     appended to it, or any role that took the advisory lock).
--   * Cost: one statement for the common case (one event, existing stream):
--     the streams UPDATE and the events INSERT run as one data-modifying CTE;
--     the lock is a try-lock first (the bounded wait, which needs a
--     subtransaction, only runs when the stream is busy).

CREATE TABLE eventscope.settings (
    name        text   PRIMARY KEY,
    value       bigint NOT NULL,
    description text   NOT NULL,
    CONSTRAINT settings_known CHECK (name IN ('max_event_bytes', 'append_lock_timeout_ms')),
    CONSTRAINT settings_range CHECK (
        (name = 'max_event_bytes' AND value BETWEEN 64 AND 268435455)
     OR (name = 'append_lock_timeout_ms' AND value BETWEEN 1 AND 86400000))
);
REVOKE ALL ON eventscope.settings FROM PUBLIC;
GRANT SELECT ON eventscope.settings TO PUBLIC;

-- The compiled values. Never edit these: UPDATE eventscope.settings.
CREATE FUNCTION eventscope.max_event_bytes() RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 1048576::bigint $$;
CREATE FUNCTION eventscope.append_lock_timeout_ms() RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 10000::bigint $$;

CREATE FUNCTION eventscope.settings_compile() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE r record;
BEGIN
    FOR r IN SELECT s.name, s.value FROM eventscope.settings s LOOP
        EXECUTE format('CREATE OR REPLACE FUNCTION eventscope.%I() RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS %L',
                       r.name, format('SELECT %s::bigint', r.value));
    END LOOP;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION eventscope.settings_compile() FROM PUBLIC;

CREATE TRIGGER settings_compile AFTER INSERT OR UPDATE OR DELETE ON eventscope.settings
    FOR EACH STATEMENT EXECUTE FUNCTION eventscope.settings_compile();

-- A deleted setting falls back to its default (the migration's value).
CREATE FUNCTION eventscope.settings_keep() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'ES400', MESSAGE = format('setting %s cannot be deleted; UPDATE it instead', OLD.name),
        DETAIL = json_build_object('field', OLD.name, 'index', NULL, 'reason', 'cannot be deleted')::text;
END $$;
CREATE TRIGGER settings_keep BEFORE DELETE ON eventscope.settings
    FOR EACH ROW EXECUTE FUNCTION eventscope.settings_keep();

INSERT INTO eventscope.settings (name, value, description) VALUES
    ('max_event_bytes', 1048576, 'largest event accepted by eventscope.append, in bytes of its JSON text as stored'),
    ('append_lock_timeout_ms', 10000, 'longest an append waits for its stream''s lock before failing with ES423 (retryable)');

-- How deep data and metadata may nest: {"a":1} is 1 level, {"a":{"b":[]}} 3.
-- Fixed (readers depend on it: Go's decoder stops at 10,000, others sooner).
CREATE FUNCTION eventscope.max_json_depth() RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 100 $$;

-- Characters refused, as regular-expression bracket expressions. Types: C0
-- and C1 controls, DEL, the line and paragraph separators and the Unicode
-- format characters (category Cf, Unicode 15.0: the set of Go's unicode.Cf
-- and of internal/textsafe.Unsafe). Stream ids: those, plus whitespace
-- (Go's unicode.IsSpace) and NBSP. A test checks both against Go, rune by rune.
CREATE FUNCTION eventscope.type_refused_chars() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT E'[\\x01-\\x1f\\x7f-\\x9f\\u2028\\u2029\\u00ad\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890\\u0891\\u08e2\\u180e\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff\\ufff9-\\ufffb\\U000110bd\\U000110cd\\U00013430-\\U0001343f\\U0001bca0-\\U0001bca3\\U0001d173-\\U0001d17a\\U000e0001\\U000e0020-\\U000e007f]' $$;
CREATE FUNCTION eventscope.stream_id_refused_chars() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT E'[\\x01-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u2064\\u2066-\\u206f\\u3000\\u00ad\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890\\u0891\\u08e2\\u180e\\ufeff\\ufff9-\\ufffb\\U000110bd\\U000110cd\\U00013430-\\U0001343f\\U0001bca0-\\U0001bca3\\U0001d173-\\U0001d17a\\U000e0001\\U000e0020-\\U000e007f]' $$;

-- "U+202E" for the first refused character of s.
CREATE FUNCTION eventscope.first_refused(s text, chars text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 'U+' || upper(lpad(h, greatest(4, length(h)), '0'))
      FROM to_hex(ascii(substring(s FROM chars))) AS h
$$;

-- eventscope.event_screen(event): true when the event certainly passes
-- append_check's per-event rules other than depth and size: an object with
-- only type, data and metadata, a type of at most 200 bytes without refused
-- characters, a data object and a metadata object or null. False sends the
-- event to append_check (which also accepts ids and types of 50 bytes or
-- more). Inlined into the append: plain operators, no jsonpath.
CREATE FUNCTION eventscope.event_screen(ev jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(CASE WHEN jsonb_typeof(ev) = 'object' THEN
                (ev - '{type,data,metadata}'::text[]) = '{}'::jsonb
            AND jsonb_typeof(ev -> 'type') = 'string'
            AND octet_length(ev ->> 'type') BETWEEN 1 AND 200
            AND (ev ->> 'type') !~ eventscope.type_refused_chars()
            AND jsonb_typeof(ev -> 'data') = 'object'
            AND coalesce(jsonb_typeof(ev -> 'metadata') IN ('object', 'null'), true)
           ELSE false END, false)
$$;

-- eventscope.append_check(events, max_bytes): the detailed
-- validation of an events array, raising ES400 for the first bad field.
-- The append calls it only when its one-expression screen finds something
-- to look at (or the batch carries event ids), so it may be thorough.
CREATE FUNCTION eventscope.append_check(events jsonb, max_bytes bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    n      int := jsonb_array_length(events);
    ev     jsonb;
    k      text;
    t      text;
    depth  int := eventscope.max_json_depth();
    deep   jsonpath := format('strict $.**{%s} ? (@.type() == "object" || @.type() == "array")', depth)::jsonpath;
    dupidx int;
BEGIN
    FOR i IN 0 .. n - 1 LOOP
        ev := events -> i;
        IF jsonb_typeof(ev) <> 'object' THEN
            PERFORM eventscope.invalid('event', i, 'must be a JSON object');
        END IF;
        SELECT key INTO k FROM jsonb_object_keys(ev) AS key
         WHERE key NOT IN ('id', 'type', 'data', 'metadata') ORDER BY key LIMIT 1;
        IF k = '' THEN
            PERFORM eventscope.invalid('event', i, 'holds a field with an empty name; event fields are id, type, data, metadata');
        ELSIF k IS NOT NULL THEN
            PERFORM eventscope.invalid(k, i, 'is not an event field (id, type, data, metadata)');
        END IF;
        IF jsonb_typeof(ev -> 'type') IS DISTINCT FROM 'string' OR ev ->> 'type' = '' THEN
            PERFORM eventscope.invalid('type', i, 'must be a non-empty string');
        END IF;
        t := ev ->> 'type';
        IF octet_length(t) > 200 THEN
            PERFORM eventscope.invalid('type', i, 'is longer than 200 bytes');
        ELSIF t ~ eventscope.type_refused_chars() THEN
            PERFORM eventscope.invalid('type', i, format('must not contain control or format characters (found %s)',
                                                         eventscope.first_refused(t, eventscope.type_refused_chars())));
        END IF;
        IF jsonb_typeof(ev -> 'data') IS DISTINCT FROM 'object' THEN
            PERFORM eventscope.invalid('data', i, 'must be a JSON object');
        ELSIF (ev -> 'data') @? deep THEN
            PERFORM eventscope.invalid('data', i, format('nests deeper than %s levels', depth));
        END IF;
        IF jsonb_typeof(ev -> 'metadata') NOT IN ('object', 'null') THEN
            PERFORM eventscope.invalid('metadata', i, 'must be a JSON object');
        ELSIF (ev -> 'metadata') @? deep THEN
            PERFORM eventscope.invalid('metadata', i, format('nests deeper than %s levels', depth));
        END IF;
        IF jsonb_typeof(ev -> 'id') NOT IN ('string', 'null') THEN
            PERFORM eventscope.invalid('id', i, 'must be a UUID string');
        ELSIF jsonb_typeof(ev -> 'id') = 'string'
              AND ev ->> 'id' !~* '^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$' THEN
            PERFORM eventscope.invalid('id', i, 'is not a UUID');
        END IF;
        IF octet_length(ev::text) > max_bytes THEN
            PERFORM eventscope.invalid('event', i, format('is %s bytes, at most %s allowed', octet_length(ev::text), max_bytes));
        END IF;
    END LOOP;
    IF events @? '$[*].id ? (@.type() == "string")' THEN
        SELECT min(e.ord) - 1 INTO dupidx
          FROM jsonb_array_elements(events) WITH ORDINALITY AS e(v, ord)
         WHERE jsonb_typeof(e.v -> 'id') = 'string'
         GROUP BY (e.v ->> 'id')::uuid HAVING count(*) > 1
         ORDER BY 1 LIMIT 1;
        IF dupidx IS NOT NULL THEN
            PERFORM eventscope.invalid('id', dupidx, 'appears more than once in the batch');
        END IF;
    END IF;
END $$;

-- eventscope.lock_stream(stream_id): the stream's append lock, waiting at
-- most append_lock_timeout_ms; then ES423 (retryable). Called by append only
-- when the try-lock failed, so the subtransaction its EXCEPTION clause
-- starts is paid only by appends that wait anyway.
CREATE FUNCTION eventscope.lock_stream(stream_id text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    p_stream ALIAS FOR stream_id;
    old      text := current_setting('lock_timeout');
    ms       bigint := eventscope.append_lock_timeout_ms();
BEGIN
    BEGIN
        PERFORM set_config('lock_timeout', ms || 'ms', true);
        PERFORM pg_advisory_xact_lock(1702064754, hashtext(p_stream));
        PERFORM set_config('lock_timeout', old, true);
    EXCEPTION WHEN lock_not_available THEN
        RAISE EXCEPTION USING ERRCODE = 'ES423',
            MESSAGE = format('append to %s: the stream is busy (its append lock was held for over %s ms); retry', p_stream, ms),
            DETAIL = json_build_object('stream_id', p_stream, 'waited_ms', ms)::text,
            HINT = 'another transaction holds the stream''s append lock: one that appended to it and is still open, or any session that took the advisory lock';
    END;
END $$;

-- eventscope.append_replayed(stream_id, events, n): idempotency. When every
-- event of the batch is stored already with the same content, the version of
-- the last of them (the append is then a no-op); NULL when none is stored;
-- ES422 when some are stored with other content, or only some are stored.
CREATE FUNCTION eventscope.append_replayed(stream_id text, events jsonb, n int) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    p_stream ALIAS FOR stream_id;
    dup      record;
BEGIN
    SELECT count(*) AS matched,
           count(*) FILTER (WHERE s.stream_id IS DISTINCT FROM p_stream
                               OR s.type IS DISTINCT FROM e.v->>'type'
                               OR s.data IS DISTINCT FROM e.v->'data'
                               OR s.metadata IS DISTINCT FROM coalesce(nullif(e.v->'metadata', 'null'::jsonb), '{}'::jsonb)) AS differing,
           max(s.version) AS last_version,
           (array_agg(s.event_id::text) FILTER (WHERE s.stream_id IS DISTINCT FROM p_stream
                               OR s.type IS DISTINCT FROM e.v->>'type'
                               OR s.data IS DISTINCT FROM e.v->'data'
                               OR s.metadata IS DISTINCT FROM coalesce(nullif(e.v->'metadata', 'null'::jsonb), '{}'::jsonb)))[1] AS bad_id,
           (array_agg(s.event_id::text))[1] AS some_id
      INTO dup
      FROM jsonb_array_elements(events) AS e(v)
      JOIN eventscope.events s ON s.event_id = (e.v->>'id')::uuid
     WHERE jsonb_typeof(e.v->'id') = 'string';
    IF dup.matched = 0 THEN
        RETURN NULL;
    ELSIF dup.differing > 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'ES422',
            MESSAGE = format('event id %s is already stored with other content', dup.bad_id),
            DETAIL = json_build_object('event_id', dup.bad_id, 'stream_id', p_stream)::text;
    ELSIF dup.matched < n THEN
        RAISE EXCEPTION USING ERRCODE = 'ES422',
            MESSAGE = format('event id %s is already stored but the batch holds new events too', dup.some_id),
            DETAIL = json_build_object('event_id', dup.some_id, 'stream_id', p_stream)::text;
    END IF;
    RETURN dup.last_version;
END $$;

-- Whatever a later migration (or an operator) set on the append (SECURITY
-- DEFINER, a search_path) survives its replacement below.
SELECT set_config('eventscope.m005_append_secdef', prosecdef::text, true),
       set_config('eventscope.m005_append_config', coalesce(array_to_string(proconfig, chr(1)), ''), true)
  FROM pg_proc WHERE oid = 'eventscope.append(text, bigint, jsonb)'::regprocedure;

CREATE OR REPLACE FUNCTION eventscope.append(stream_id text, expected_version bigint, events jsonb)
RETURNS bigint
LANGUAGE plpgsql AS $fn$
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
    -- The fast path, for the common call: one plain event (no id) that is
    -- small, on an existing stream. Every statement of a PL/pgSQL function
    -- costs, so one expression clears the call (it implies every rule the
    -- full validation below checks: the depth walk is skipped because every
    -- level of jsonb nesting takes at least 8 bytes, so an array smaller
    -- than 8 * (depth + 2) bytes cannot nest too deep), one takes the lock,
    -- and one statement reserves the version and inserts the event.
    IF p_stream <> '' AND octet_length(p_stream) <= 200 AND p_stream !~ eventscope.stream_id_refused_chars()
       AND (expected_version IS NULL OR expected_version >= -2)
       AND jsonb_typeof(events) = 'array' AND jsonb_array_length(events) = 1
       AND eventscope.event_screen(events -> 0)
       AND pg_column_size(events) < 8 * (eventscope.max_json_depth() + 2)
       AND octet_length(events::text) <= eventscope.max_event_bytes()
       AND (expected_version IS NULL OR expected_version <> -1) THEN
        -- the stream's lock: see below
        IF NOT pg_try_advisory_xact_lock(1702064754, hashtext(p_stream)) THEN
            PERFORM eventscope.lock_stream(p_stream);
        END IF;
        -- reserve the version on the streams row (the recorded time is the
        -- wall clock now, under the lock, never below the stream's last
        -- event) and insert the event
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
        IF new_ver IS NOT NULL THEN
            -- Wake-ups: only for sessions that opt in (SET eventscope.notify = 'on').
            IF current_setting('eventscope.notify', true) = 'on' THEN
                PERFORM pg_notify('eventscope', eventscope.category(p_stream));
            END IF;
            RETURN new_ver;
        END IF;
        -- a new stream, a conflict, a closed stream: the general path
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

    IF n = 1 THEN
        INSERT INTO eventscope.events (stream_id, version, event_id, type, data, metadata, recorded_at)
        VALUES (p_stream, new_ver, coalesce((events -> 0 ->> 'id')::uuid, gen_random_uuid()),
                events -> 0 ->> 'type', events -> 0 -> 'data',
                coalesce(nullif(events -> 0 -> 'metadata', 'null'::jsonb), '{}'::jsonb), at);
    ELSE
        INSERT INTO eventscope.events (stream_id, version, event_id, type, data, metadata, recorded_at)
        SELECT p_stream, new_ver - n + e.ord,
               coalesce((e.v ->> 'id')::uuid, gen_random_uuid()),
               e.v ->> 'type', e.v -> 'data', coalesce(nullif(e.v -> 'metadata', 'null'::jsonb), '{}'::jsonb), at
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

DO $$
DECLARE kv text;
BEGIN
    IF current_setting('eventscope.m005_append_secdef', true) = 'true' THEN
        ALTER FUNCTION eventscope.append(text, bigint, jsonb) SECURITY DEFINER;
    END IF;
    FOREACH kv IN ARRAY coalesce(string_to_array(nullif(current_setting('eventscope.m005_append_config', true), ''), chr(1)), '{}') LOOP
        EXECUTE format('ALTER FUNCTION eventscope.append(text, bigint, jsonb) SET %I = %L', split_part(kv, '=', 1), substr(kv, strpos(kv, '=') + 1));
    END LOOP;
END $$;
