-- eventscope schema, version 13: set-based batches.
--
-- append_batch (the Go client's group commit) and append_multi took every
-- append of a call through eventscope.append, one PL/pgSQL call per append:
-- profiled under 16 writers, 55% of the server's time went to PL/pgSQL and
-- a third to the SPI statements of those nested calls, so a batch of 8
-- cost nearly 8 appends and group commit lost to plain appends.
--
-- Now a call whose appends are plain (every event cleared by
-- eventscope.event_screen, no event ids, each stream once) is one lock pass
-- and one statement for all of it: versions are reserved with one UPDATE of
-- the streams rows (one INSERT for new streams) and all events of all
-- streams go in with one INSERT ... SELECT, in input order. Anything else
-- (event ids: idempotent retries; an event the screen does not clear, which
-- eventscope.append then checks in detail and names; a stream twice in one
-- call) takes the per-append path of migration 010, unchanged.
--
-- Guarantees kept: the locks are taken first, in ascending key order, before
-- anything gives the transaction an id (migration 001); append_batch never
-- waits for a lock ('busy'), append_multi waits at most
-- append_lock_timeout_ms per stream and then fails with ES423 (it used to
-- wait without bound); expected versions are checked against the streams
-- row under the lock; the same rules, errors, SQLSTATEs and JSON details as
-- eventscope.append (append_multi adds append_index).

-- eventscope.append_set(appends, busy): the set-based body. The caller holds
-- the append lock of every stream of appends whose key is not in busy.
-- Returns one row per append, in input order: r_version when stored, else
-- r_code ('busy', ES409, ES410, or 40001: the transaction wrote before the
-- stream's last writer committed) with append's message and JSON detail.
-- Returns no rows, and stores nothing, when the call is not plain (see
-- above): the caller then takes the per-append path. Internal: callable only
-- by the schema's owner (through append_batch and append_multi).
CREATE FUNCTION eventscope.append_set(appends jsonb, busy int[])
RETURNS TABLE (r_ord int, r_version bigint, r_code text, r_message text, r_detail text)
LANGUAGE plpgsql SET search_path = pg_catalog, eventscope, pg_temp SET enable_seqscan = off AS $fn$
DECLARE
    plain boolean;
    sids  text[];
    vers  bigint[];
BEGIN
    -- Plain? The checks of append's fast path, for every append and event.
    -- (CASE, not AND: the later tests are only safe once the earlier hold.)
    SELECT count(*) = count(DISTINCT x.sid) AND bool_and(x.ok), array_agg(x.sid) INTO plain, sids
      FROM (SELECT a.v->>'stream_id' AS sid,
                   CASE WHEN (a.v->>'stream_id') = '' OR octet_length(a.v->>'stream_id') > 200
                             OR (a.v->>'stream_id') ~ eventscope.stream_id_refused_chars() THEN false
                        WHEN (a.v->>'expected_version')::bigint < -2 THEN false
                        WHEN jsonb_typeof(a.v->'events') IS DISTINCT FROM 'array' THEN false
                        WHEN jsonb_array_length(a.v->'events') = 0 THEN false
                        WHEN pg_column_size(a.v->'events') >= 8 * (eventscope.max_json_depth() + 2)
                             AND (a.v->'events') @? 'strict $.**{102} ? (@.type() == "object" || @.type() == "array")' THEN false
                        ELSE (SELECT bool_and(eventscope.event_screen(e.v) AND NOT (e.v ? 'personal')
                                              AND octet_length(e.v::text) <= eventscope.max_event_bytes())
                                FROM jsonb_array_elements(a.v->'events') AS e(v))
                   END AS ok
              FROM jsonb_array_elements(appends) AS a(v)) x;
    IF NOT coalesce(plain, false) THEN
        RETURN;
    END IF;

    -- Reserve every version and insert every event: one statement. The
    -- streams UPDATE gives the transaction its id (after the locks). The
    -- streams rows are found through their key (= ANY, and no sequential
    -- scans in this function): profiled, a cached plan that hash-joined a
    -- sequential scan of the streams table took a third of the batch.
    WITH it AS (
        SELECT a.ord::int AS ord, a.v->>'stream_id' AS sid, (a.v->>'expected_version')::bigint AS exp,
               a.v->'events' AS evs, jsonb_array_length(a.v->'events') AS n,
               hashtext(a.v->>'stream_id') = ANY (busy) AS held
          FROM jsonb_array_elements(appends) WITH ORDINALITY AS a(v, ord)
    ), upd AS (
        UPDATE eventscope.streams AS s
           SET version = s.version + it.n, event_count = s.event_count + it.n,
               updated_at = greatest(clock_timestamp(), s.updated_at), last_tx = pg_current_xact_id()
          FROM it
         WHERE s.stream_id = ANY (sids) AND s.stream_id = it.sid AND NOT it.held AND it.exp IS DISTINCT FROM -1
           AND s.closed_at IS NULL
           AND (it.exp IS NULL OR it.exp = -2 OR s.version = it.exp)
           AND s.last_tx <= pg_current_xact_id()
        RETURNING it.ord, s.version, s.updated_at
    ), ins AS (
        -- new streams (under the lock nobody else creates them meanwhile)
        INSERT INTO eventscope.streams AS s (stream_id, category, version, event_count, updated_at)
        SELECT it.sid, eventscope.category(it.sid), it.n - 1, it.n, clock_timestamp()
          FROM it
         WHERE NOT it.held AND (it.exp IS NULL OR it.exp = -1)
           AND NOT EXISTS (SELECT 1 FROM upd WHERE upd.ord = it.ord)
        ON CONFLICT ON CONSTRAINT streams_pkey DO NOTHING
        RETURNING s.stream_id, s.version, s.updated_at
    ), res AS (
        SELECT upd.ord, upd.version, upd.updated_at FROM upd
        UNION ALL
        SELECT it.ord, ins.version, ins.updated_at FROM ins JOIN it ON it.sid = ins.stream_id
    ), ev AS (
        INSERT INTO eventscope.events (stream_id, version, event_id, type, data, metadata, recorded_at)
        SELECT it.sid, res.version - it.n + e.ord, gen_random_uuid(), e.v->>'type', e.v->'data',
               coalesce(nullif(e.v->'metadata', 'null'::jsonb), '{}'::jsonb), res.updated_at
          FROM res
          JOIN it ON it.ord = res.ord
         CROSS JOIN LATERAL jsonb_array_elements(it.evs) WITH ORDINALITY AS e(v, ord)
         ORDER BY res.ord, e.ord
        RETURNING 1
    )
    SELECT array_agg(res.version ORDER BY it.ord) INTO vers
      FROM it LEFT JOIN res ON res.ord = it.ord;

    -- Wake-ups: only for sessions that opt in, as append.
    IF current_setting('eventscope.notify', true) = 'on' THEN
        PERFORM pg_notify('eventscope', c.cat)
           FROM (SELECT DISTINCT eventscope.category(a.v->>'stream_id') AS cat
                   FROM jsonb_array_elements(appends) WITH ORDINALITY AS a(v, ord)
                  WHERE vers[a.ord] IS NOT NULL) c;
    END IF;

    -- One row per append; the failed ones say why, as append would.
    RETURN QUERY
    SELECT a.ord::int, vers[a.ord],
           CASE WHEN vers[a.ord] IS NOT NULL THEN NULL
                WHEN a.held THEN 'busy'
                WHEN s.closed THEN 'ES410'
                WHEN s.last_tx > pg_current_xact_id() AND (a.exp IS NULL OR a.exp = -2 OR s.version = a.exp) THEN '40001'
                ELSE 'ES409' END,
           CASE WHEN vers[a.ord] IS NOT NULL OR a.held THEN NULL
                WHEN s.closed THEN format('stream %s is closed', a.sid)
                WHEN s.last_tx > pg_current_xact_id() AND (a.exp IS NULL OR a.exp = -2 OR s.version = a.exp)
                     THEN format('stream %s was written by a newer transaction; retry the transaction', a.sid)
                ELSE format('append to %s: expected version %s, stream is at %s', a.sid,
                            CASE a.exp WHEN -1 THEN 'no-stream' WHEN -2 THEN 'exists' ELSE a.exp::text END,
                            coalesce(s.version::text, 'no-stream')) END,
           CASE WHEN vers[a.ord] IS NOT NULL OR a.held THEN NULL
                WHEN s.closed THEN json_build_object('stream_id', a.sid)::text
                WHEN s.last_tx > pg_current_xact_id() AND (a.exp IS NULL OR a.exp = -2 OR s.version = a.exp) THEN NULL
                ELSE json_build_object('stream_id', a.sid, 'expected', a.exp, 'actual', coalesce(s.version, -1))::text END
      FROM (SELECT a.ord, a.v->>'stream_id' AS sid, (a.v->>'expected_version')::bigint AS exp,
                   hashtext(a.v->>'stream_id') = ANY (busy) AS held
              FROM jsonb_array_elements(appends) WITH ORDINALITY AS a(v, ord)) a
      LEFT JOIN LATERAL (SELECT s.version, s.closed_at IS NOT NULL AS closed, s.last_tx
                           FROM eventscope.streams s
                          WHERE vers[a.ord] IS NULL AND NOT a.held AND s.stream_id = a.sid) s ON true
     ORDER BY a.ord;
END
$fn$;
REVOKE ALL ON FUNCTION eventscope.append_set(jsonb, int[]) FROM PUBLIC;

-- Whatever a later migration (or an operator) set on the two functions
-- replaced below (grants stay with a replaced function; attributes do not)
-- is put back after them.
SELECT set_config('eventscope.m013_' || p.proname || '_config', coalesce(array_to_string(p.proconfig, chr(1)), ''), true)
  FROM pg_proc p
 WHERE p.oid IN ('eventscope.append_batch(jsonb)'::regprocedure, 'eventscope.append_multi(jsonb)'::regprocedure);

CREATE OR REPLACE FUNCTION eventscope.append_multi(appends jsonb) RETURNS bigint[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, eventscope, pg_temp AS $fn$
DECLARE
    l       record;
    r       record;
    i       int := -1;
    item    jsonb;
    out     bigint[] := '{}';
    st      text;
    msg     text;
    det     text;
    hnt     text;
BEGIN
    -- The shape of appends (ES400 naming the append), then the locks, sorted,
    -- before any write gives this transaction an id; each waits at most
    -- append_lock_timeout_ms (ES423).
    PERFORM count(*) FROM eventscope.multi_lock_keys(appends);
    FOR l IN SELECT DISTINCT ON (hashtext(a.v->>'stream_id')) hashtext(a.v->>'stream_id') AS k,
                    a.v->>'stream_id' AS sid, a.ord::int - 1 AS idx
               FROM jsonb_array_elements(appends) WITH ORDINALITY AS a(v, ord)
              ORDER BY hashtext(a.v->>'stream_id'), a.ord LOOP
        IF NOT pg_try_advisory_xact_lock(1702064754, l.k) THEN
            BEGIN
                PERFORM eventscope.lock_stream(l.sid);
            EXCEPTION WHEN SQLSTATE 'ES423' THEN
                GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
                RAISE EXCEPTION USING ERRCODE = 'ES423', MESSAGE = msg, HINT = coalesce(hnt, ''),
                    DETAIL = (det::jsonb || jsonb_build_object('append_index', l.idx))::text;
            END;
        END IF;
    END LOOP;

    -- Plain appends: one statement; the first failure fails the call.
    FOR r IN SELECT * FROM eventscope.append_set(appends, '{}') LOOP
        IF r.r_code IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = r.r_code, MESSAGE = r.r_message,
                DETAIL = CASE WHEN r.r_detail IS NULL THEN json_build_object('append_index', r.r_ord - 1)::text
                              ELSE (r.r_detail::jsonb || jsonb_build_object('append_index', r.r_ord - 1))::text END,
                HINT = CASE WHEN r.r_code = '40001'
                            THEN 'this transaction wrote before appending, and a concurrent append to the stream committed meanwhile; appending now would break the global order'
                            ELSE '' END;
        END IF;
        out := out || r.r_version;
    END LOOP;
    IF cardinality(out) > 0 THEN
        RETURN out;
    END IF;

    -- The rest: append by append (one subtransaction per call, not per
    -- append, to name the failing append).
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

-- append_batch: as in migration 010 (one row per append: a version, or
-- ES409 / ES410 with append's message and detail, or 'busy'), set-based for
-- plain calls.
CREATE OR REPLACE FUNCTION eventscope.append_batch(appends jsonb)
RETURNS TABLE (version bigint, error_code text, error_message text, error_detail text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, eventscope, pg_temp AS $fn$
#variable_conflict use_column
DECLARE
    busy     int[];
    r        record;
    done     boolean := false;
    item     jsonb;
    p_stream text;
    expected bigint;
    cur      record;
    vers     jsonb := '{}';   -- stream -> version as this batch leaves it (-1: none)
    closed   jsonb := '{}';   -- streams found closed
    actual   bigint;
BEGIN
    -- Try every stream's lock, ascending, before any write; never wait.
    SELECT coalesce(array_agg(k.k) FILTER (WHERE NOT pg_try_advisory_xact_lock(1702064754, k.k)), '{}')
      INTO busy
      FROM eventscope.multi_lock_keys(appends) AS k(k);

    FOR r IN SELECT * FROM eventscope.append_set(appends, busy) LOOP
        IF r.r_code = '40001' THEN
            RAISE EXCEPTION USING ERRCODE = '40001', MESSAGE = r.r_message,
                HINT = 'this transaction wrote before appending, and a concurrent append to the stream committed meanwhile; appending now would break the global order';
        END IF;
        version := r.r_version; error_code := r.r_code; error_message := r.r_message; error_detail := r.r_detail;
        done := true;
        RETURN NEXT;
    END LOOP;
    IF done THEN
        RETURN;
    END IF;

    -- Not plain: append by append (migration 010's path).
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

DO $$
DECLARE
    f  text;
    kv text;
BEGIN
    FOREACH f IN ARRAY ARRAY['append_batch', 'append_multi'] LOOP
        FOREACH kv IN ARRAY coalesce(string_to_array(nullif(current_setting('eventscope.m013_' || f || '_config', true), ''), chr(1)), '{}') LOOP
            IF split_part(kv, '=', 1) <> 'search_path' THEN
                EXECUTE format('ALTER FUNCTION eventscope.%I(jsonb) SET %I = %L', f, split_part(kv, '=', 1), substr(kv, strpos(kv, '=') + 1));
            END IF;
        END LOOP;
    END LOOP;
END $$;
