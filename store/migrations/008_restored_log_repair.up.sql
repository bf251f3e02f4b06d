-- eventscope schema, version 8: repairing a global log restored into another
-- cluster.
--
-- Every event records the id of the transaction that wrote it (tx_id, xid8),
-- and readers of the global log read only below the oldest running
-- transaction. A pg_dump restored into another cluster, or a logical
-- replication copy, keeps the source cluster's transaction ids, which may be
-- far ahead of the new server's: readers then see none of those events, and
-- new appends (with the new server's smaller ids) sort before them. Every
-- eventscope command detects this (store.CheckLogOrder) and `eventscope
-- migrate` calls this function to repair it.
--
-- The repair keeps the log's order exactly. Transaction ids below the new
-- server's are scarce (a fresh cluster is only a few hundred transactions
-- old), so every event gets one small transaction id, T, and its position
-- is renumbered 1..N in the old (tx_id, position) order; the global order of
-- (T, position) is then the old order, and every new append (a larger
-- transaction id) sorts after it. Subscriptions' checkpoints are remapped to
-- the new checkpoint of the last event at or before them (and fenced, so a
-- running holder reloads instead of writing an old-numbered checkpoint
-- back), parked events to their events' new checkpoints, and streams.last_tx
-- to T. T is the smallest id from 100 (so that T:POS never reads as a time
-- of day) that no event uses (so the renumbering never collides with an
-- event not yet moved); a repaired log repaired again alternates 100, 101.
--
-- All of it runs in the caller's transaction, under exclusive locks taken
-- first, and does nothing when the log is not ahead of the server: atomic
-- and idempotent. It returns the number of events renumbered (0: nothing to
-- do).
CREATE FUNCTION eventscope.repair_restored_log() RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    max_tx  xid8;
    horizon xid8;
    t       xid8;
    n       bigint;
BEGIN
    -- Writers first wait for us, and nobody reads a half-renumbered log.
    LOCK TABLE eventscope.events, eventscope.streams IN ACCESS EXCLUSIVE MODE;
    LOCK TABLE eventscope.subscriptions, eventscope.parked_events IN EXCLUSIVE MODE;

    SELECT max(e.tx_id) INTO max_tx FROM eventscope.events e;
    IF max_tx IS NULL OR max_tx < pg_snapshot_xmax(pg_current_snapshot()) THEN
        RETURN 0;  -- not ahead of this server: nothing to repair
    END IF;

    horizon := pg_snapshot_xmin(pg_current_snapshot());
    SELECT min(c)::text::xid8 INTO t
      FROM generate_series(100, 1000) c
     WHERE c::text::xid8 < horizon
       AND NOT EXISTS (SELECT 1 FROM eventscope.events e WHERE e.tx_id = c::text::xid8);
    IF t IS NULL THEN
        RAISE EXCEPTION 'cannot repair the restored log: this server has run fewer than 100 transactions (oldest running %), or ids 100-1000 are all in use', horizon
            USING HINT = 'run any transaction a few hundred times (or wait), then eventscope migrate again';
    END IF;

    DROP TABLE IF EXISTS pg_temp.eventscope_remap;
    CREATE TEMP TABLE eventscope_remap ON COMMIT DROP AS
        SELECT e.tx_id AS old_tx, e.position AS old_pos,
               row_number() OVER (ORDER BY e.tx_id, e.position) AS new_pos
          FROM eventscope.events e;
    CREATE UNIQUE INDEX ON eventscope_remap (old_tx, old_pos);
    ANALYZE eventscope_remap;

    UPDATE eventscope.subscriptions s
       SET (checkpoint_tx, checkpoint_pos) = (
               SELECT coalesce(t_of.tx, '0'::xid8), coalesce(t_of.pos, 0)
                 FROM (SELECT t AS tx, m.new_pos AS pos FROM eventscope_remap m
                        WHERE (m.old_tx, m.old_pos) <= (s.checkpoint_tx, s.checkpoint_pos)
                        ORDER BY m.old_tx DESC, m.old_pos DESC LIMIT 1) t_of
                 RIGHT JOIN (SELECT 1) one ON true),
           reset_version = s.reset_version + 1,
           control_version = s.control_version + 1;

    UPDATE eventscope.parked_events p
       SET tx_id = t, position = m.new_pos
      FROM eventscope_remap m
     WHERE (m.old_tx, m.old_pos) = (p.tx_id, p.position);

    UPDATE eventscope.events e
       SET tx_id = t, position = m.new_pos
      FROM eventscope_remap m
     WHERE (e.tx_id, e.position) = (m.old_tx, m.old_pos);
    GET DIAGNOSTICS n = ROW_COUNT;

    UPDATE eventscope.streams s SET last_tx = t WHERE s.last_tx IS DISTINCT FROM t;

    -- New positions continue after the renumbered ones.
    PERFORM setval('eventscope.events_position_seq',
                   greatest(n, (SELECT last_value FROM eventscope.events_position_seq)));
    RETURN n;
END $fn$;
