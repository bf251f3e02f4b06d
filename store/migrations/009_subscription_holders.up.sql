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
