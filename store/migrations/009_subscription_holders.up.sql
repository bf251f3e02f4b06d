-- eventscope schema, version 9: subscription holders as the lock manager sees
-- them (owned by subscriptions/).
--
-- A holder records which backend holds its lease (its lease connection's pid)
-- and the lease's advisory lock key, so monitoring can tell a holder that is
-- alive but silent (its process frozen: it still holds the lock, its heartbeat
-- is stale) from no holder at all, by looking the lock up in pg_locks.
ALTER TABLE eventscope.subscriptions
    ADD COLUMN holder_backend integer,  -- pid of the backend holding the lease's advisory lock
    ADD COLUMN lease_key      bigint;   -- the lease's advisory lock key (bigint form)

-- eventscope.page_fit(after_tx, after_position, max_count, max_bytes, categories, types):
-- how many events a read of the global log after the checkpoint may scan (at
-- least 1, at most max_count) for the matching events' data and metadata to
-- stay within max_bytes (their JSON text). Readers that bound their pages by
-- bytes ask it before reading (subscriptions, followers, the shared log). Small
-- uncompressed values are measured by their stored size; large or compressed
-- ones by their text, expanding only the events that will be read (and one
-- more).
CREATE FUNCTION eventscope.page_fit(after_tx xid8, after_position bigint, max_count int, max_bytes bigint,
                                    categories text[] DEFAULT '{}', types text[] DEFAULT '{}')
RETURNS int LANGUAGE plpgsql STABLE AS $$
DECLARE
    r     record;
    n     int := 0;
    total bigint := 0;
    sz    bigint;
BEGIN
    FOR r IN SELECT e.stream_id, e.version, e.type, pg_column_size(e.data) + pg_column_size(e.metadata) AS stored,
                    pg_column_compression(e.data) IS NOT NULL OR pg_column_compression(e.metadata) IS NOT NULL AS packed
               FROM eventscope.events e
              WHERE (e.tx_id, e.position) > (after_tx, after_position)
                AND e.tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
              ORDER BY e.tx_id, e.position
              LIMIT max_count
    LOOP
        IF (cardinality(categories) = 0 OR eventscope.category(r.stream_id) = ANY (categories))
           AND (cardinality(types) = 0 OR r.type = ANY (types)) THEN
            sz := r.stored;
            IF sz > 1024 OR r.packed THEN
                SELECT octet_length(e.data::text) + octet_length(e.metadata::text) INTO sz
                  FROM eventscope.events e WHERE e.stream_id = r.stream_id AND e.version = r.version;
            END IF;
            total := total + sz;
            IF total > max_bytes AND n > 0 THEN
                RETURN n;
            END IF;
        END IF;
        n := n + 1;
    END LOOP;
    RETURN greatest(n, 1);
END
$$;
