-- The privilege model, applied by store.Migrate, as the schema's owner and
-- under the migration lock, inside the transaction of every numbered
-- migration from 011 on and once more at the end of every Migrate.
-- Idempotent. It is not a numbered migration because it must cover what
-- later migrations add, and in their own transaction: a migration that
-- replaces a function (CREATE OR REPLACE resets SECURITY DEFINER and SET)
-- commits with the function's privileges already restored, so callers
-- never see it without them. (Migration 005 kept the append's attributes
-- across its replacement by hand; this makes that general.) The roles
-- themselves are made by roles.sql. Every function and table of the schema
-- is listed below, and what is not listed gets no grant at all (fail
-- closed; a test, TestPrivilegesListEverything, fails until it is listed).
--
-- Roles (cluster-wide, NOLOGIN; the operator grants them to login roles):
--   eventscope_reader  reads everything: the log, streams, stats and what
--                      holds the log back, subscriptions, read models,
--                      trace, types, query; the console in read-only.
--   eventscope_writer  is a reader, and appends (append, append_multi,
--                      append_batch), closes streams and runs subscribers:
--                      their own checkpoints, leases and parked events, and
--                      the domain's read models and snapshots. A subscriber
--                      reads the log, so a writer must be a reader.
--   eventscope_admin   is a writer, and administers subscriptions (pause,
--                      resume, reset, retry, skip, delete) and forgets
--                      subjects (forget). An admin can do what it asks its
--                      subscribers to do, so it is a writer.
--
-- Functions run either
--   definer: SECURITY DEFINER with search_path pg_catalog, eventscope,
--            pg_temp (pg_temp last, so a caller's temporary objects never
--            shadow anything), as the owner: the only way to write the
--            log, and the way readers see what only the owner may see;
--   qualified: SECURITY DEFINER without a SET clause, as the owner: the
--            append (migration 020), whose search_path switch cost 6% of
--            a plain-SQL append. Every function, operator and type in its
--            body and in the SQL functions it inlines is named with its
--            schema, so the caller's search_path reaches nothing
--            (TestAppendUnderHostileSearchPath). Until its qualified body
--            exists (a fresh database migrating up to 020) it runs as a
--            definer;
--   invoker: as the caller, for five reasons: the SQL read functions
--            (read_stream, read_all, read_category, read_type), which the
--            planner inlines into the caller's query so that their filters
--            use the events indexes (a definer function is never inlined),
--            and which read only what their callers may SELECT anyway; pure
--            helpers that read nothing and run per row or in index
--            expressions (a SET clause stops inlining and switches the
--            setting on every call); the compiled settings, which must fold
--            to constants; helpers only the definer functions call (no one
--            else may execute them); and trigger functions, which run as
--            whoever changes the table (the subscription guard must see
--            that role).

-- 0. The list's own shape: runs_as gained 'qualified' after migration 011
-- made the table; this runs in 011's transaction and every later one.
DO $shape$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint
                    WHERE conrelid = 'eventscope.privileges'::regclass AND conname = 'privileges_runs_as_check'
                      AND pg_catalog.pg_get_constraintdef(oid) LIKE '%qualified%') THEN
        ALTER TABLE eventscope.privileges DROP CONSTRAINT IF EXISTS privileges_runs_as_check;
        ALTER TABLE eventscope.privileges ADD CONSTRAINT privileges_runs_as_check
            CHECK (runs_as IN ('definer', 'invoker', 'qualified'));
    END IF;
END $shape$;

-- 1. The list: who may do what. One row per function (its role and how it
-- runs) and per table, view or sequence and role (what that role gets).
-- 'owner' means nobody but the owner.
DELETE FROM eventscope.privileges;
INSERT INTO eventscope.privileges (kind, name, role, grants, runs_as, why) VALUES
-- the write path
('function', 'append',          'writer', 'EXECUTE', 'qualified', 'the one way to append to a stream; its fast path, every name qualified'),
('function', 'append_general',  'owner',  'EXECUTE', 'definer', 'the append''s general path, called only by append (migration 020)'),
('function', 'append_multi',    'writer', 'EXECUTE', 'definer', 'atomic appends to several streams'),
('function', 'append_batch',    'writer', 'EXECUTE', 'definer', 'group commit: many appends, one round trip'),
('function', 'close',           'writer', 'EXECUTE', 'definer', 'closes (tombstones) a stream'),
('function', 'append_check',    'owner',  'EXECUTE', 'invoker', 'called only inside the definer appends'),
('function', 'lock_stream',     'owner',  'EXECUTE', 'invoker', 'called only inside the definer appends'),
('function', 'append_replayed', 'owner',  'EXECUTE', 'invoker', 'called only inside the definer appends'),
('function', 'multi_lock_keys', 'owner',  'EXECUTE', 'invoker', 'called only inside append_multi'),
('function', 'invalid',         'owner',  'EXECUTE', 'invoker', 'raises the ES400 error of the definer appends'),
('function', 'repair_restored_log', 'owner', 'EXECUTE', 'invoker', 'run by eventscope migrate, as the owner'),
-- erasure (migration 012, listed ahead of it: rows for what does not
-- exist yet change nothing)
('function', 'forget',          'admin',  'EXECUTE', 'definer', 'deletes a subject''s key and records the audit event'),
('function', 'personal_data',   'reader', 'EXECUTE', 'definer', 'reads a subject''s key to open sealed fields'),
('function', 'personal_metadata', 'reader', 'EXECUTE', 'definer', 'says which fields are sealed or erased'),
('function', 'personal_marker', 'reader', 'EXECUTE', 'definer', 'says which fields are sealed or erased'),
('function', 'personal_key',    'owner',  'EXECUTE', 'definer', 'reads or makes a subject''s key'),
('function', 'personal_seal',   'owner',  'EXECUTE', 'definer', 'seals personal fields (the appends, bulk loads)'),
('function', 'personal_seal_events', 'owner', 'EXECUTE', 'definer', 'seals personal fields of an append''s events'),
('function', 'snapshots_seal',  'owner',  'EXECUTE', 'definer', 'trigger: seals a snapshot''s personal fields with the owner''s keys'),
('function', 'personal_encrypt', 'owner', 'EXECUTE', 'invoker', 'cipher wrapper, inlined into the owner''s functions'),
('function', 'personal_decrypt', 'owner', 'EXECUTE', 'invoker', 'cipher wrapper, inlined into the owner''s functions'),
('function', 'personal_new_key', 'owner', 'EXECUTE', 'invoker', 'cipher wrapper, inlined into the owner''s functions'),
('function', 'personal_path',   'reader', 'EXECUTE', 'invoker', 'pure; per field'),
('function', 'personal_paths',  'reader', 'EXECUTE', 'invoker', 'pure; per marking'),
('function', 'personal_problem', 'reader', 'EXECUTE', 'invoker', 'pure: checks a marking against its data'),
('table', 'personal_keys',     'owner',  '', NULL, 'the subjects'' keys: only the owner may read them'),
-- reads
('function', 'read_stream',     'reader', 'EXECUTE', 'invoker', 'SQL API read: inlined by the planner, so its filter uses the events indexes; reads only what the caller may SELECT'),
('function', 'read_all',        'reader', 'EXECUTE', 'invoker', 'SQL API read: inlined by the planner, so its filter uses the events indexes; reads only what the caller may SELECT'),
('function', 'read_category',   'reader', 'EXECUTE', 'invoker', 'SQL API read: inlined by the planner, so its filter uses the events indexes; reads only what the caller may SELECT'),
('function', 'read_type',       'reader', 'EXECUTE', 'invoker', 'SQL API read: inlined by the planner, so its filter uses the events indexes; reads only what the caller may SELECT'),
('function', 'page_fit',        'reader', 'EXECUTE', 'definer', 'sizes a page of the global log to a byte budget'),
('function', 'log_blocker',     'reader', 'EXECUTE', 'definer', 'what holds the log back: sees every session''s transaction id'),
-- pure helpers and compiled settings
('function', 'category',        'reader', 'EXECUTE', 'invoker', 'pure; per row and in index expressions'),
('function', 'max_event_bytes', 'reader', 'EXECUTE', 'invoker', 'compiled setting: folds to a constant'),
('function', 'append_lock_timeout_ms', 'reader', 'EXECUTE', 'invoker', 'compiled setting: folds to a constant'),
('function', 'max_json_depth',  'reader', 'EXECUTE', 'invoker', 'pure constant'),
('function', 'type_refused_chars', 'reader', 'EXECUTE', 'invoker', 'pure constant'),
('function', 'stream_id_refused_chars', 'reader', 'EXECUTE', 'invoker', 'pure constant'),
('function', 'first_refused',   'reader', 'EXECUTE', 'invoker', 'pure; per row'),
('function', 'event_screen',    'reader', 'EXECUTE', 'invoker', 'pure; per event'),
-- trigger functions (EXECUTE is checked when the trigger is created, by the owner)
('function', 'settings_compile', 'owner', 'EXECUTE', 'definer', 'trigger: recompiles the settings functions'),
('function', 'settings_keep',   'owner',  'EXECUTE', 'invoker', 'trigger: refuses deleting a setting'),
('function', 'subscription_admin_guard', 'owner', 'EXECUTE', 'invoker', 'trigger: must see the role that changes the row'),
-- the log: read by readers, written only by the definer functions
('table', 'events',            'reader', 'SELECT', NULL, 'the global log'),
('table', 'streams',           'reader', 'SELECT', NULL, 'streams and their versions'),
('table', 'settings',          'reader', 'SELECT', NULL, 'server-side limits; only the owner changes them'),
('table', 'schema_migrations', 'reader', 'SELECT', NULL, 'every command checks the schema version'),
('table', 'privileges',        'reader', 'SELECT', NULL, 'this list'),
('sequence', 'events_position_seq', 'reader', 'SELECT', NULL, 'stats reads the last position'),
-- the type catalog: a cache of what the log holds, advanced by whoever
-- reads it (eventscope types); it holds no events and --rebuild redoes it
('table', 'catalog_state',     'reader', 'SELECT, UPDATE', NULL, 'the type catalog''s checkpoint: a cache any reader advances'),
('table', 'catalog_types',     'reader', 'SELECT, INSERT, UPDATE, DELETE', NULL, 'the type catalog: a cache any reader advances'),
-- the domain's read models and snapshots: written by its subscribers
('table', 'snapshots',         'reader', 'SELECT', NULL, 'time-travel reads snapshots'),
('table', 'snapshots',         'writer', 'INSERT, UPDATE, DELETE', NULL, 'subscribers and time-travel store snapshots'),
('table', 'order_summary',     'reader', 'SELECT', NULL, 'a read model'),
('table', 'order_summary',     'writer', 'INSERT, UPDATE, DELETE', NULL, 'the domain worker maintains it'),
('table', 'customer_totals',   'reader', 'SELECT', NULL, 'a view over a read model (016)'),
('table', 'orders_by_status',  'reader', 'SELECT', NULL, 'a view over a read model'),
-- subscriptions: a subscriber writes its own row's running columns and
-- its parked events; the rest is administration (and the guard trigger)
('table', 'subscriptions',     'reader', 'SELECT', NULL, 'subscriptions list, monitoring'),
('table', 'subscriptions',     'writer',
 'INSERT, UPDATE (categories, types, checkpoint_tx, checkpoint_pos, stopped, applied_control_version, lease_epoch, holder_host, holder_pid, holder_instance, heartbeat, state, rate, processed, failures, last_error, last_error_at, holder_backend, lease_key, retry_event, retry_stream, retry_version, retry_attempt, retry_attempts, retry_next_at, handler_p99_us, handler_calls)',
 NULL, 'a subscriber registers, leases, checkpoints and reports'),
('table', 'subscriptions',     'admin',  'UPDATE, DELETE', NULL, 'pause, resume, reset, delete'),
('table', 'parked_events',     'reader', 'SELECT', NULL, 'parked events list'),
('table', 'parked_events',     'writer', 'INSERT, UPDATE, DELETE', NULL, 'a subscriber parks and redelivers (the guard keeps retry and skip for the admin)'),
('table', 'subscription_members', 'reader', 'SELECT', NULL, 'subs list shows a group''s members'),
('table', 'subscription_members', 'writer', 'INSERT, UPDATE, DELETE', NULL, 'a group member records itself, its heartbeat and its leaving'),
('table', 'subscription_members', 'admin', 'DELETE', NULL, 'subs delete removes a group''s members'),
('sequence', 'subscription_lease_seq', 'writer', 'USAGE', NULL, 'a subscriber takes a lease epoch');
INSERT INTO eventscope.privileges (kind, name, role, grants, runs_as, why, config) VALUES
('function', 'append_set',      'owner',  'EXECUTE', 'definer', 'the set-based plain batch, called only inside append_batch and append_multi; its streams lookups must use the key (migration 013)',
 ARRAY['enable_seqscan=off']);

-- 2. Apply it: revoke everything from PUBLIC and the three roles, then
-- grant what the list says and set how each function runs.
DO $apply$
DECLARE
    o record;
    f record;
    g text;
    cols text;
    kv text;
    want_config text[] := ARRAY['search_path=pg_catalog, eventscope, pg_temp'];
BEGIN
    REVOKE ALL ON SCHEMA eventscope FROM PUBLIC;
    GRANT USAGE ON SCHEMA eventscope TO eventscope_reader;
    REVOKE ALL ON ALL TABLES IN SCHEMA eventscope FROM PUBLIC, eventscope_reader, eventscope_writer, eventscope_admin;
    REVOKE ALL ON ALL SEQUENCES IN SCHEMA eventscope FROM PUBLIC, eventscope_reader, eventscope_writer, eventscope_admin;
    REVOKE ALL ON ALL FUNCTIONS IN SCHEMA eventscope FROM PUBLIC, eventscope_reader, eventscope_writer, eventscope_admin;

    FOR o IN SELECT p.kind, p.name, p.role, p.grants FROM eventscope.privileges p
              WHERE p.kind IN ('table', 'sequence') AND p.role <> 'owner' LOOP
        IF to_regclass(format('eventscope.%I', o.name)) IS NULL THEN
            CONTINUE; -- listed ahead of the migration that creates it
        END IF;
        -- A column list names only the columns that exist by now: this
        -- runs inside migration 011 and every later one, so columns a later
        -- migration adds are granted when they appear.
        g := o.grants;
        IF g ~ '\(' THEN
            SELECT string_agg(quote_ident(x.c), ', ') INTO cols
              FROM unnest(string_to_array(substring(g from '\((.*)\)'), ',')) AS t(c0),
                   LATERAL (SELECT btrim(t.c0) AS c) x
             WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                            WHERE a.attrelid = format('eventscope.%I', o.name)::regclass
                              AND a.attname = x.c AND NOT a.attisdropped);
            IF cols IS NULL THEN
                CONTINUE;
            END IF;
            g := substring(g from '^([^(]*)\(') || '(' || cols || ')';
        END IF;
        EXECUTE format('GRANT %s ON %s eventscope.%I TO %I', g,
                       CASE o.kind WHEN 'sequence' THEN 'SEQUENCE' ELSE 'TABLE' END, o.name, 'eventscope_' || o.role);
    END LOOP;

    FOR f IN SELECT pr.oid::regprocedure AS sig, pr.prosecdef, pr.proconfig, l.role,
                    CASE WHEN l.runs_as = 'qualified' AND to_regprocedure('eventscope.append_general(text, bigint, jsonb)') IS NULL
                         THEN 'definer' ELSE l.runs_as END AS runs_as, l.config
               FROM pg_catalog.pg_proc pr
               JOIN eventscope.privileges l ON l.kind = 'function' AND l.name = pr.proname
              WHERE pr.pronamespace = 'eventscope'::regnamespace LOOP
        -- Only what differs is altered: ALTER FUNCTION invalidates every
        -- session's cached plans of the function.
        IF f.runs_as = 'definer' AND (NOT f.prosecdef OR f.proconfig IS DISTINCT FROM want_config || f.config) THEN
            EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER', f.sig);
            EXECUTE format('ALTER FUNCTION %s RESET ALL', f.sig);
            EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, eventscope, pg_temp', f.sig);
            FOREACH kv IN ARRAY f.config LOOP
                EXECUTE format('ALTER FUNCTION %s SET %I = %L', f.sig, split_part(kv, '=', 1), substr(kv, strpos(kv, '=') + 1));
            END LOOP;
        ELSIF f.runs_as = 'qualified' AND (NOT f.prosecdef OR f.proconfig IS NOT NULL) THEN
            EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER', f.sig);
            EXECUTE format('ALTER FUNCTION %s RESET ALL', f.sig);
        ELSIF f.runs_as = 'invoker' AND (f.prosecdef OR f.proconfig IS NOT NULL) THEN
            -- (a SET clause would keep the planner from inlining it too)
            EXECUTE format('ALTER FUNCTION %s SECURITY INVOKER', f.sig);
            EXECUTE format('ALTER FUNCTION %s RESET ALL', f.sig);
        END IF;
        IF f.role <> 'owner' THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', f.sig, 'eventscope_' || f.role);
        END IF;
    END LOOP;
END $apply$;
