-- eventscope schema, version 21: an append commits durably even in a
-- session whose synchronous_commit is off (found in review, issue 9).
--
-- A session may SET synchronous_commit = off. Its commits then return, and
-- become visible to every reader, before their WAL reaches the disk; if the
-- server crashes within the next few hundred milliseconds they are gone,
-- although subscribers may have delivered them already. Worse for the
-- global order: the transaction ids of lost transactions may be handed out
-- again after recovery, or lower ones, so events written after the crash
-- can sort below a checkpoint a subscriber took from a lost event, and it
-- would skip them. The no-skip guarantee holds only for durable commits.
--
-- So every function that writes the log (append, and the set path of
-- append_batch and append_multi; their per-append path calls append) sets
-- synchronous_commit back to on for the rest of the transaction (set_config
-- with is_local) when it finds it off. The common call pays one more
-- setting read, folded into the statement that already returns the
-- wake-up setting; the session's own setting is back after the
-- transaction. ('local', 'remote_write', 'remote_apply' and 'on' all flush
-- the WAL locally before the commit is visible, and are left alone; so the
-- guarantee is against a crash of this server, not a failover to a standby
-- that 'local' did not wait for.) What this does not stop: the same
-- transaction turning the setting off again after the append (SET LOCAL,
-- set_config, a function with its own SET clause for it restoring the
-- session's off at its exit). Only code that runs after all of the
-- caller's could, which SQL cannot put at commit (a deferred trigger of
-- the caller's can run after ours); see the README's guarantees.

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
        RETURNING e.version,
                  coalesce(pg_catalog.current_setting('eventscope.notify', true) OPERATOR(pg_catalog.<>) 'on', true)
                  AND pg_catalog.current_setting('synchronous_commit') OPERATOR(pg_catalog.<>) 'off'
          INTO new_ver, quiet;
        IF quiet THEN
            RETURN new_ver;
        ELSIF new_ver IS NOT NULL THEN
            IF pg_catalog.current_setting('synchronous_commit') OPERATOR(pg_catalog.=) 'off' THEN
                PERFORM pg_catalog.set_config('synchronous_commit', 'on', true);
            END IF;
            -- Wake-ups: only for sessions that opt in (SET eventscope.notify = 'on').
            IF pg_catalog.current_setting('eventscope.notify', true) OPERATOR(pg_catalog.=) 'on' THEN
                PERFORM pg_catalog.pg_notify('eventscope', eventscope.category(p_stream));
            END IF;
            RETURN new_ver;
        END IF;
        -- a new stream, a conflict, a closed stream: the general path
    END IF;
    IF pg_catalog.current_setting('synchronous_commit') OPERATOR(pg_catalog.=) 'off' THEN
        PERFORM pg_catalog.set_config('synchronous_commit', 'on', true);
    END IF;
    RETURN eventscope.append_general(p_stream, expected_version, events);
END
$fn$;

CREATE OR REPLACE FUNCTION eventscope.append_set(appends jsonb, busy int[])
RETURNS TABLE (r_ord int, r_version bigint, r_code text, r_message text, r_detail text)
LANGUAGE plpgsql SET search_path = pg_catalog, eventscope, pg_temp SET enable_seqscan = off AS $fn$
DECLARE
    plain boolean;
    sids  text[];
    vers  bigint[];
BEGIN
    -- Durable before visible, as eventscope.append (migration 021).
    IF current_setting('synchronous_commit') = 'off' THEN
        PERFORM set_config('synchronous_commit', 'on', true);
    END IF;

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
