-- eventscope schema, version 1: streams, events, the append function and reads.
--
-- Global order: every event row records the id of the transaction that wrote it
-- (tx_id, xid8) beside a sequence position. Readers of the global log only read
-- rows whose tx_id is below the oldest transaction still running
-- (pg_snapshot_xmin(pg_current_snapshot())), in (tx_id, position) order, so an
-- event that commits late can never land behind a reader's checkpoint.



CREATE TABLE eventscope.streams (
    stream_id   text        PRIMARY KEY,
    category    text        NOT NULL,
    version     bigint      NOT NULL,               -- version of the last event (first event is 0)
    event_count bigint      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    closed_at   timestamptz,                        -- tombstone: set by eventscope.close
    last_tx     xid8        NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX streams_category_idx ON eventscope.streams (category, stream_id);
-- No index on updated_at: every append changes it, and an indexed column would
-- stop the streams update from being HOT (an index insert per index per append).
-- Listing by last update sorts instead.

CREATE SEQUENCE eventscope.events_position_seq AS bigint CACHE 1;

CREATE TABLE eventscope.events (
    stream_id   text        NOT NULL,
    version     bigint      NOT NULL,
    position    bigint      NOT NULL DEFAULT nextval('eventscope.events_position_seq'),
    tx_id       xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id    uuid        NOT NULL,
    type        text        NOT NULL,
    data        jsonb       NOT NULL,
    metadata    jsonb       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    -- optimistic concurrency's last line of defence: one event per (stream, version)
    PRIMARY KEY (stream_id, version)
);
ALTER SEQUENCE eventscope.events_position_seq OWNED BY eventscope.events.position;
CREATE UNIQUE INDEX events_global_idx ON eventscope.events (tx_id, position);
CREATE UNIQUE INDEX events_event_id_idx ON eventscope.events (event_id);

-- Errors raised by the SQL API use SQLSTATEs of class ES, with a JSON DETAIL:
--   ES400 invalid input       {"field": ..., "index": ..., "reason": ...}
--   ES409 version conflict    {"stream_id": ..., "expected": ..., "actual": ...}
--   ES410 stream closed       {"stream_id": ...}
--   ES422 duplicate event id  {"event_id": ..., "stream_id": ...}

CREATE FUNCTION eventscope.category(stream_id text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT split_part(stream_id, '-', 1) $$;

CREATE FUNCTION eventscope.invalid(field text, idx int, reason text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'ES400',
        MESSAGE = CASE WHEN idx IS NULL THEN format('invalid %s: %s', field, reason)
                       ELSE format('invalid events[%s].%s: %s', idx, field, reason) END,
        DETAIL = json_build_object('field', field, 'index', idx, 'reason', reason)::text;
END $$;

-- eventscope.append(stream_id, expected_version, events) RETURNS bigint
--   expected_version: NULL any, -1 no stream, -2 stream exists, else the exact
--   version of the stream's last event. events: JSON array of
--   {"id"?, "type", "data", "metadata"?}. Returns the stream's new version.
CREATE FUNCTION eventscope.append(stream_id text, expected_version bigint, events jsonb)
RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    p_stream   ALIAS FOR stream_id;
    n          int;
    new_ver    bigint;
    cur        record;
    max_bytes  bigint := coalesce(nullif(current_setting('eventscope.max_event_bytes', true), '')::bigint, 1048576);
    bad        record;
    dup        record;
    have_ids   boolean;
BEGIN
    -- validation: every failure names the field
    IF p_stream IS NULL OR p_stream = '' THEN
        PERFORM eventscope.invalid('stream_id', NULL, 'must not be empty');
    ELSIF octet_length(p_stream) > 200 THEN
        PERFORM eventscope.invalid('stream_id', NULL, format('is %s bytes, at most 200 allowed', octet_length(p_stream)));
    ELSIF p_stream ~ '[[:space:][:cntrl:]\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]' THEN
        PERFORM eventscope.invalid('stream_id', NULL, 'must not contain whitespace or control characters');
    END IF;
    IF expected_version IS NOT NULL AND expected_version < -2 THEN
        PERFORM eventscope.invalid('expected_version', NULL, format('%s is not NULL, -1, -2 or a version >= 0', expected_version));
    END IF;
    IF events IS NULL OR jsonb_typeof(events) <> 'array' THEN
        PERFORM eventscope.invalid('events', NULL, 'must be a JSON array');
    END IF;
    n := jsonb_array_length(events);
    IF n = 0 THEN
        PERFORM eventscope.invalid('events', NULL, 'must hold at least one event');
    END IF;

    -- One jsonpath expression clears the common case; anything it finds
    -- suspicious (or a large batch, or explicit ids) gets the detailed check,
    -- which names the first bad field exactly.
    IF events @? '$[*] ? (@.type() != "object" || !exists(@."type") || @."type".type() != "string"
                          || @."type" == "" || @."type" like_regex "^.{50}" flag "s" || !exists(@."data")
                          || @."data".type() != "object" || exists(@."id")
                          || (exists(@."metadata") && @."metadata".type() != "object" && @."metadata".type() != "null"))'
       OR octet_length(events::text) > max_bytes THEN
        SELECT e.ord - 1 AS idx,
               CASE
                 WHEN jsonb_typeof(e.v) <> 'object' THEN 'event|must be a JSON object'
                 WHEN jsonb_typeof(e.v->'type') IS DISTINCT FROM 'string' OR e.v->>'type' = '' THEN 'type|must be a non-empty string'
                 WHEN octet_length(e.v->>'type') > 200 THEN 'type|is longer than 200 bytes'
                 WHEN jsonb_typeof(e.v->'data') IS DISTINCT FROM 'object' THEN 'data|must be a JSON object'
                 WHEN e.v ? 'metadata' AND jsonb_typeof(e.v->'metadata') NOT IN ('object', 'null') THEN 'metadata|must be a JSON object'
                 WHEN e.v ? 'id' AND jsonb_typeof(e.v->'id') NOT IN ('string', 'null') THEN 'id|must be a UUID string'
                 WHEN jsonb_typeof(e.v->'id') = 'string' AND e.v->>'id' !~* '^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$' THEN 'id|is not a UUID'
                 WHEN octet_length(e.v::text) > max_bytes THEN format('event|is %s bytes, at most %s allowed', octet_length(e.v::text), max_bytes)
               END AS why
          INTO bad
          FROM jsonb_array_elements(events) WITH ORDINALITY AS e(v, ord)
         WHERE jsonb_typeof(e.v) <> 'object'
            OR jsonb_typeof(e.v->'type') IS DISTINCT FROM 'string' OR e.v->>'type' = ''
            OR octet_length(e.v->>'type') > 200
            OR jsonb_typeof(e.v->'data') IS DISTINCT FROM 'object'
            OR (e.v ? 'metadata' AND jsonb_typeof(e.v->'metadata') NOT IN ('object', 'null'))
            OR (e.v ? 'id' AND jsonb_typeof(e.v->'id') NOT IN ('string', 'null'))
            OR (jsonb_typeof(e.v->'id') = 'string' AND e.v->>'id' !~* '^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$')
            OR octet_length(e.v::text) > max_bytes
         ORDER BY e.ord
         LIMIT 1;
        IF FOUND THEN
            PERFORM eventscope.invalid(split_part(bad.why, '|', 1), bad.idx::int, split_part(bad.why, '|', 2));
        END IF;
        have_ids := events @? '$[*].id ? (@.type() == "string")';
        IF have_ids THEN
            SELECT min(e.ord) - 1 AS idx INTO bad
              FROM jsonb_array_elements(events) WITH ORDINALITY AS e(v, ord)
             WHERE jsonb_typeof(e.v->'id') = 'string'
             GROUP BY (e.v->>'id')::uuid HAVING count(*) > 1
             ORDER BY 1 LIMIT 1;
            IF FOUND THEN
                PERFORM eventscope.invalid('id', bad.idx::int, 'appears more than once in the batch');
            END IF;
        END IF;
    ELSE
        have_ids := false;
    END IF;

    -- Serialise appends to this stream on a transaction advisory lock, taken
    -- before anything assigns this transaction an id. The global log is
    -- ordered by transaction id: a writer that waits for the stream must get
    -- its id after the previous writer's, or its later versions would sort
    -- before that writer's events. (A row lock does not do: an UPDATE's
    -- qualification runs, and assigns the id, before it waits for the row.)
    -- Appends to different streams take different locks.
    PERFORM pg_advisory_xact_lock(1702064754, hashtext(p_stream));

    -- idempotency: ids already stored are a no-op when they match exactly
    IF have_ids THEN
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
               (array_agg(s.event_id::text))[1] AS some_id,
               (array_agg(s.stream_id))[1] AS some_stream
          INTO dup
          FROM jsonb_array_elements(events) AS e(v)
          JOIN eventscope.events s ON s.event_id = (e.v->>'id')::uuid
         WHERE jsonb_typeof(e.v->'id') = 'string';
        IF dup.matched > 0 THEN
            IF dup.differing > 0 THEN
                RAISE EXCEPTION USING ERRCODE = 'ES422',
                    MESSAGE = format('event id %s is already stored with other content', dup.bad_id),
                    DETAIL = json_build_object('event_id', dup.bad_id, 'stream_id', p_stream)::text;
            ELSIF dup.matched < n THEN
                RAISE EXCEPTION USING ERRCODE = 'ES422',
                    MESSAGE = format('event id %s is already stored but the batch holds new events too', dup.some_id),
                    DETAIL = json_build_object('event_id', dup.some_id, 'stream_id', p_stream)::text;
            END IF;
            RETURN dup.last_version; -- the whole batch was stored before: a no-op
        END IF;
    END IF;

    -- reserve the versions: the streams row is the per-stream lock
    IF expected_version IS NULL THEN
        INSERT INTO eventscope.streams AS s (stream_id, category, version, event_count)
        VALUES (p_stream, eventscope.category(p_stream), n - 1, n)
        ON CONFLICT ON CONSTRAINT streams_pkey DO UPDATE
           SET version = s.version + n, event_count = s.event_count + n,
               updated_at = now(), last_tx = pg_current_xact_id()
         WHERE s.closed_at IS NULL AND s.last_tx <= pg_current_xact_id()
        RETURNING s.version INTO new_ver;
    ELSIF expected_version = -1 THEN
        INSERT INTO eventscope.streams (stream_id, category, version, event_count)
        VALUES (p_stream, eventscope.category(p_stream), n - 1, n)
        ON CONFLICT ON CONSTRAINT streams_pkey DO NOTHING
        RETURNING version INTO new_ver;
    ELSE
        UPDATE eventscope.streams AS s
           SET version = s.version + n, event_count = s.event_count + n,
               updated_at = now(), last_tx = pg_current_xact_id()
         WHERE s.stream_id = p_stream AND s.closed_at IS NULL
           AND (expected_version = -2 OR s.version = expected_version)
           AND s.last_tx <= pg_current_xact_id()
        RETURNING s.version INTO new_ver;
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

    INSERT INTO eventscope.events (stream_id, version, event_id, type, data, metadata)
    SELECT p_stream, new_ver - n + e.ord,
           coalesce((nullif(e.v->>'id', ''))::uuid, gen_random_uuid()),
           e.v->>'type', e.v->'data', coalesce(nullif(e.v->'metadata', 'null'::jsonb), '{}'::jsonb)
      FROM jsonb_array_elements(events) WITH ORDINALITY AS e(v, ord)
     ORDER BY e.ord;

    -- Wake-up: a tiny payload (the category), never the event. Sessions that
    -- wake subscribers themselves after commit (the Go client) turn this off,
    -- because NOTIFY takes a database-wide lock at commit.
    IF coalesce(current_setting('eventscope.notify', true), '') <> 'off' THEN
        PERFORM pg_notify('eventscope', eventscope.category(p_stream));
    END IF;
    RETURN new_ver;
END
$fn$;

-- eventscope.close(stream_id): tombstone; the stream stays readable.
CREATE FUNCTION eventscope.close(stream_id text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE p_stream ALIAS FOR stream_id;
BEGIN
    UPDATE eventscope.streams s SET closed_at = coalesce(s.closed_at, now()), updated_at = now()
     WHERE s.stream_id = p_stream;
    RETURN FOUND;
END $$;

-- eventscope.read_stream(stream_id, from_version, max_count, backward)
CREATE FUNCTION eventscope.read_stream(stream_id text, from_version bigint DEFAULT 0,
                                       max_count int DEFAULT 1000, backward boolean DEFAULT false)
RETURNS SETOF eventscope.events
LANGUAGE sql STABLE AS $$
    (SELECT * FROM eventscope.events e
      WHERE NOT backward AND e.stream_id = read_stream.stream_id AND e.version >= from_version
      ORDER BY e.version LIMIT max_count)
    UNION ALL
    (SELECT * FROM eventscope.events e
      WHERE backward AND e.stream_id = read_stream.stream_id AND e.version <= from_version
      ORDER BY e.version DESC LIMIT max_count)
$$;

-- eventscope.read_all(after_tx, after_position, max_count): the global log after
-- a checkpoint, only below the oldest running transaction, so nothing is skipped.
CREATE FUNCTION eventscope.read_all(after_tx xid8 DEFAULT '0', after_position bigint DEFAULT 0, max_count int DEFAULT 1000)
RETURNS SETOF eventscope.events
LANGUAGE sql STABLE AS $$
    SELECT * FROM eventscope.events e
     WHERE (e.tx_id, e.position) > (after_tx, after_position)
       AND e.tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
     ORDER BY e.tx_id, e.position
     LIMIT max_count
$$;

-- eventscope.read_category(category, after_tx, after_position, max_count)
CREATE FUNCTION eventscope.read_category(category text, after_tx xid8 DEFAULT '0', after_position bigint DEFAULT 0, max_count int DEFAULT 1000)
RETURNS SETOF eventscope.events
LANGUAGE sql STABLE AS $$
    SELECT * FROM eventscope.events e
     WHERE (e.tx_id, e.position) > (after_tx, after_position)
       AND e.tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
       AND e.stream_id LIKE replace(replace(replace(read_category.category, '\', '\\'), '%', '\%'), '_', '\_') || '-%'
     ORDER BY e.tx_id, e.position
     LIMIT max_count
$$;
