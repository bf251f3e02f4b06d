-- eventscope schema, version 11: least privilege.
--
-- Three cluster-wide group roles (NOLOGIN), granted by the operator to
-- login roles: eventscope_reader ⊂ eventscope_writer ⊂ eventscope_admin.
-- The functions that write run as their owner (SECURITY DEFINER with a
-- fixed search_path), and no role but the owner has INSERT, UPDATE, DELETE
-- or TRUNCATE on the log's tables. The roles and every grant are not made
-- here but by store/migrations/privileges.sql, which store.Migrate runs at
-- the end of every migration (idempotent), so that functions and tables
-- added by later migrations are covered by the same rules. This migration
-- adds what those rules need:
--
--   * eventscope.privileges: the one list of who may do what with each
--     function, table, view and sequence of the schema (privileges.sql
--     refills it). A function or table that is in no row gets no grant at
--     all (fail closed), and a test fails until it is listed.
--   * eventscope.log_blocker(): the "held back by" look-up for readers.
--     pg_stat_activity hides the transaction ids of other roles' sessions
--     from a role that is not a member of pg_read_all_stats, so a reader
--     querying it directly could not tell what holds the log back. The
--     function runs as the owner (a superuser, or a role granted
--     pg_read_all_stats) and returns the one session that holds the log
--     back; its query text only when the caller's session user may read it
--     in pg_stat_activity itself (a member of pg_read_all_stats, or the
--     session's own role), as PostgreSQL's own rule.
--   * A guard on the subscription tables. Running a subscriber (writer)
--     needs UPDATE on its row (checkpoint, lease, heartbeat) and INSERT,
--     UPDATE and DELETE on its parked events; administration (admin) needs
--     the rest. Column privileges keep paused, reset_version and
--     control_version for the admin; the guard trigger keeps for the admin
--     what a column privilege cannot tell apart: clearing "stopped" (a
--     resume), asking for a retry (retry_requested from false to true) and
--     deleting a parked event no retry was asked for (a skip). The guard
--     fires only on those changes (a WHEN clause, evaluated without calling
--     the function), so a subscriber's checkpoint writes do not pay for it.

CREATE TABLE eventscope.privileges (
    kind     text NOT NULL CHECK (kind IN ('function', 'table', 'sequence')),
    name     text NOT NULL,
    role     text NOT NULL CHECK (role IN ('owner', 'reader', 'writer', 'admin')),
    -- For tables and sequences: what is granted (GRANT <grants> ON ...),
    -- e.g. 'SELECT' or 'UPDATE (checkpoint_tx, ...)'. For functions:
    -- EXECUTE, always.
    grants   text NOT NULL DEFAULT '',
    -- Functions only: how the function runs, 'definer' (SECURITY DEFINER,
    -- search_path pg_catalog, eventscope, pg_temp) or 'invoker'.
    runs_as  text CHECK (runs_as IN ('definer', 'invoker')),
    -- Definer functions only: planner settings the function keeps beside
    -- its search_path, as 'name=value' (e.g. 'enable_seqscan=off').
    config   text[] NOT NULL DEFAULT '{}',
    why      text NOT NULL,
    PRIMARY KEY (kind, name, role),
    CHECK ((kind = 'function') = (runs_as IS NOT NULL))
);

CREATE FUNCTION eventscope.log_blocker()
RETURNS TABLE (pid int, age_ns bigint, state text, query text, app text, db text, gid text)
LANGUAGE sql STABLE AS $$
    SELECT t.pid, t.age_ns, t.state,
           CASE WHEN t.visible THEN t.query ELSE '' END,
           t.app, t.db, t.gid
      FROM (
        SELECT a.pid,
               (extract(epoch FROM clock_timestamp() - coalesce(a.xact_start, a.backend_start)) * 1e9)::bigint AS age_ns,
               coalesce(a.state, '') AS state, coalesce(a.query, '') AS query,
               coalesce(a.application_name, '') AS app, coalesce(a.datname, '') AS db, '' AS gid,
               age(a.backend_xid) AS xid_age,
               (pg_catalog.pg_has_role(session_user, 'pg_read_all_stats', 'USAGE')
                OR pg_catalog.pg_has_role(session_user, a.usesysid, 'USAGE')) AS visible
          FROM pg_catalog.pg_stat_activity a
         WHERE a.backend_xid IS NOT NULL AND a.pid <> pg_catalog.pg_backend_pid()
        UNION ALL
        SELECT 0, (extract(epoch FROM clock_timestamp() - p.prepared) * 1e9)::bigint, 'prepared', '', '', p.database, p.gid,
               age(p.transaction), true
          FROM pg_catalog.pg_prepared_xacts p) t
     ORDER BY t.xid_age DESC
     LIMIT 1
$$;

CREATE FUNCTION eventscope.subscription_admin_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE what text;
BEGIN
    -- Whoever may set "paused" administers subscriptions: the admin role,
    -- the owner, a superuser (the trigger runs as the role doing the change).
    IF pg_catalog.has_column_privilege('eventscope.subscriptions', 'paused', 'UPDATE') THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    what := CASE
        WHEN TG_TABLE_NAME = 'subscriptions' THEN 'resuming a stopped subscription'
        WHEN TG_OP = 'DELETE' THEN 'skipping a parked event'
        ELSE 'asking for a parked event''s retry' END;
    RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
        MESSAGE = format('permission denied: %s needs role eventscope_admin (role %s lacks it)', what, current_user),
        HINT = format('GRANT eventscope_admin TO %I;', current_user);
END $$;

CREATE TRIGGER subscriptions_admin_guard BEFORE UPDATE ON eventscope.subscriptions
    FOR EACH ROW WHEN (OLD.stopped AND NOT NEW.stopped)
    EXECUTE FUNCTION eventscope.subscription_admin_guard();
CREATE TRIGGER parked_events_retry_guard BEFORE UPDATE ON eventscope.parked_events
    FOR EACH ROW WHEN (NEW.retry_requested AND NOT OLD.retry_requested)
    EXECUTE FUNCTION eventscope.subscription_admin_guard();
CREATE TRIGGER parked_events_insert_guard BEFORE INSERT ON eventscope.parked_events
    FOR EACH ROW WHEN (NEW.retry_requested)
    EXECUTE FUNCTION eventscope.subscription_admin_guard();
CREATE TRIGGER parked_events_skip_guard BEFORE DELETE ON eventscope.parked_events
    FOR EACH ROW WHEN (NOT OLD.retry_requested)
    EXECUTE FUNCTION eventscope.subscription_admin_guard();
