-- eventscope schema, version 10: appends to several streams in one call.
--
-- eventscope.append_multi(appends jsonb) RETURNS bigint[]
--   appends: JSON array of {"stream_id", "expected_version", "events"}, each
--   encoded as for eventscope.append. All or nothing; returns each append's
--   new version in input order. The same stream may appear more than once
--   (applied in order). Errors are append's, with "append_index" (0-based)
--   added to the JSON DETAIL.
--
-- eventscope.append_batch(appends jsonb): the Go client's group commit. The
--   same input, but each append has its own outcome: a conflict or a closed
--   stream is reported in its row and the others still commit; an append
--   whose stream is locked by another transaction comes back 'busy' (the
--   batch never waits for a lock). Anything else that goes wrong raises,
--   and the client then appends that batch's items one by one.
--
-- Both take every stream's advisory lock (the one append takes) first, in
-- ascending key order, before anything gives the transaction an id: stream
-- order and the global order stay one (see migration 001), and two calls
-- that share streams cannot deadlock on each other. All events of one call
-- share one transaction id, so they sit together in the global log.

-- The keys of the streams named by appends, each once, ascending; and the
-- shape checks both functions share.
CREATE FUNCTION eventscope.multi_lock_keys(appends jsonb) RETURNS SETOF int
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    IF appends IS NULL OR jsonb_typeof(appends) <> 'array' THEN
        RAISE EXCEPTION USING ERRCODE = 'ES400', MESSAGE = 'invalid appends: must be a JSON array',
            DETAIL = json_build_object('field', 'appends', 'index', NULL, 'reason', 'must be a JSON array')::text;
    END IF;
    IF jsonb_array_length(appends) = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'ES400', MESSAGE = 'invalid appends: must hold at least one append',
            DETAIL = json_build_object('field', 'appends', 'index', NULL, 'reason', 'must hold at least one append')::text;
    END IF;
    SELECT a.ord - 1 AS idx,
           CASE WHEN jsonb_typeof(a.v) <> 'object' THEN 'append|must be a JSON object'
                WHEN jsonb_typeof(a.v->'stream_id') IS DISTINCT FROM 'string' THEN 'stream_id|must be a string'
                WHEN a.v ? 'expected_version' AND jsonb_typeof(a.v->'expected_version') NOT IN ('number', 'null')
                     THEN 'expected_version|must be null or a number'
                WHEN jsonb_typeof(a.v->'expected_version') = 'number' AND (a.v->>'expected_version') !~ '^-?[0-9]{1,18}$'
                     THEN 'expected_version|must be an integer'
           END AS why
      INTO bad
      FROM jsonb_array_elements(appends) WITH ORDINALITY AS a(v, ord)
     WHERE jsonb_typeof(a.v) <> 'object'
        OR jsonb_typeof(a.v->'stream_id') IS DISTINCT FROM 'string'
        OR (a.v ? 'expected_version' AND jsonb_typeof(a.v->'expected_version') NOT IN ('number', 'null'))
        OR (jsonb_typeof(a.v->'expected_version') = 'number' AND (a.v->>'expected_version') !~ '^-?[0-9]{1,18}$')
     ORDER BY a.ord LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'ES400',
            MESSAGE = format('invalid appends[%s].%s: %s', bad.idx, split_part(bad.why, '|', 1), split_part(bad.why, '|', 2)),
            DETAIL = json_build_object('field', split_part(bad.why, '|', 1), 'index', NULL,
                                       'reason', split_part(bad.why, '|', 2), 'append_index', bad.idx)::text;
    END IF;
    RETURN QUERY SELECT DISTINCT hashtext(a.v->>'stream_id') AS k
                   FROM jsonb_array_elements(appends) AS a(v) ORDER BY k;
END $$;

CREATE FUNCTION eventscope.append_multi(appends jsonb) RETURNS bigint[]
LANGUAGE plpgsql AS $fn$
DECLARE
    k       int;
    i       int := -1;
    item    jsonb;
    out     bigint[] := '{}';
    st      text;
    msg     text;
    det     text;
    hnt     text;
BEGIN
    -- Locks first, sorted, before any write gives this transaction an id.
    FOR k IN SELECT eventscope.multi_lock_keys(appends) LOOP
        PERFORM pg_advisory_xact_lock(1702064754, k);
    END LOOP;
    -- One subtransaction per call (not per append), to name the failing append.
    BEGIN
        FOR item IN SELECT a.v FROM jsonb_array_elements(appends) WITH ORDINALITY AS a(v, ord) ORDER BY a.ord LOOP
            i := i + 1;
            out := out || eventscope.append(item->>'stream_id', (item->>'expected_version')::bigint, item->'events');
        END LOOP;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
        IF det ~ '^\s*\{' THEN
            det := (det::jsonb || jsonb_build_object('append_index', i))::text;
        ELSIF coalesce(det, '') = '' THEN
            det := json_build_object('append_index', i)::text;
        ELSE
            det := json_build_object('append_index', i, 'detail', det)::text;
        END IF;
        RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, DETAIL = det, HINT = coalesce(hnt, '');
    END;
    RETURN out;
END
$fn$;

-- eventscope.append_batch(appends) RETURNS TABLE (version, error_code, error_message, error_detail)
--   One row per append, in input order: version set when it committed with
--   the others, else error_code ES409 (conflict) or ES410 (closed) with
--   append's message and JSON detail, or 'busy'. It never waits for a lock:
--   it tries every stream's lock (ascending, before any write), and the
--   appends whose stream another transaction holds come back 'busy', for
--   the client to append on their own (where they wait as any append does).
--   A batch therefore cannot deadlock with anything, nor stall appends that
--   did not need the busy stream. Expected versions are checked before any
--   event is written, against the stream as the earlier items of the batch
--   leave it. An item with explicit event ids skips the check (a retried
--   append is append's idempotent no-op, which the check would call a
--   conflict); if append then raises, so does the batch.
CREATE FUNCTION eventscope.append_batch(appends jsonb)
RETURNS TABLE (version bigint, error_code text, error_message text, error_detail text)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    k        int;
    busy     int[] := '{}';
    item     jsonb;
    p_stream text;
    expected bigint;
    cur      record;
    vers     jsonb := '{}';   -- stream -> version as this batch leaves it (-1: none)
    closed   jsonb := '{}';   -- streams found closed
    actual   bigint;
BEGIN
    FOR k IN SELECT eventscope.multi_lock_keys(appends) LOOP
        IF NOT pg_try_advisory_xact_lock(1702064754, k) THEN
            busy := busy || k;
        END IF;
    END LOOP;
    FOR item IN SELECT a.v FROM jsonb_array_elements(appends) WITH ORDINALITY AS a(v, ord) ORDER BY a.ord LOOP
        p_stream := item->>'stream_id';
        expected := (item->>'expected_version')::bigint;
        version := NULL; error_code := NULL; error_message := NULL; error_detail := NULL;
        IF hashtext(p_stream) = ANY (busy) THEN
            error_code := 'busy';
            RETURN NEXT;
            CONTINUE;
        END IF;
        IF expected IS NULL THEN
            -- Any version: nothing to check first (a closed stream raises,
            -- and the client replays the batch call by call).
            version := eventscope.append(p_stream, NULL, item->'events');
            IF vers ? p_stream THEN
                vers := vers - p_stream;
            END IF;
            RETURN NEXT;
            CONTINUE;
        END IF;
        IF NOT vers ? p_stream THEN
            SELECT s.version, s.closed_at IS NOT NULL AS closed INTO cur
              FROM eventscope.streams s WHERE s.stream_id = p_stream;
            vers := vers || jsonb_build_object(p_stream, CASE WHEN FOUND THEN cur.version ELSE -1 END);
            IF FOUND AND cur.closed THEN
                closed := closed || jsonb_build_object(p_stream, true);
            END IF;
        END IF;
        actual := (vers->>p_stream)::bigint;
        IF closed ? p_stream THEN
            error_code := 'ES410';
            error_message := format('stream %s is closed', p_stream);
            error_detail := json_build_object('stream_id', p_stream)::text;
        ELSIF NOT coalesce(item->'events' @? '$[*].id ? (@.type() == "string")', false)
              AND ((expected = -1 AND actual >= 0) OR (expected = -2 AND actual < 0)
                   OR (expected >= 0 AND actual <> expected)) THEN
            error_code := 'ES409';
            error_message := format('append to %s: expected version %s, stream is at %s', p_stream,
                                    CASE expected WHEN -1 THEN 'no-stream' WHEN -2 THEN 'exists' ELSE expected::text END,
                                    CASE WHEN actual >= 0 THEN actual::text ELSE 'no-stream' END);
            error_detail := json_build_object('stream_id', p_stream, 'expected', expected, 'actual', actual)::text;
        ELSE
            version := eventscope.append(p_stream, expected, item->'events');
            IF coalesce(item->'events' @? '$[*].id ? (@.type() == "string")', false) THEN
                vers := vers - p_stream; -- maybe a no-op returning an older version: read again
            ELSE
                vers := vers || jsonb_build_object(p_stream, version);
            END IF;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$fn$;
