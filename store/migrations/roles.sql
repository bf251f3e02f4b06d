-- The cluster-wide group roles of the privilege model (see privileges.sql
-- for what each may do): created by store.Migrate before it migrates, in a
-- transaction of their own, idempotently. Creating roles needs CREATEROLE
-- (or a superuser); when the roles exist already nothing is needed.
--
-- Many databases of one cluster may migrate at once: a CREATE ROLE or a
-- membership that another session created meanwhile is fine (store.Migrate
-- also retries this step on a catalog race it cannot catch here).
DO $roles$
DECLARE
    r text;
    m record;
BEGIN
    FOREACH r IN ARRAY ARRAY['eventscope_reader', 'eventscope_writer', 'eventscope_admin'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION
                WHEN duplicate_object OR unique_violation THEN NULL; -- created meanwhile
                WHEN insufficient_privilege THEN
                    RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
                        MESSAGE = format('role %s does not exist and role %s may not create it', r, current_user),
                        HINT = 'Create the three roles once as a superuser (CREATE ROLE eventscope_reader NOLOGIN; CREATE ROLE eventscope_writer NOLOGIN IN ROLE eventscope_reader; CREATE ROLE eventscope_admin NOLOGIN IN ROLE eventscope_writer;), or migrate as a role with CREATEROLE.';
            END;
        END IF;
    END LOOP;
    FOR m IN SELECT * FROM (VALUES ('eventscope_reader', 'eventscope_writer'), ('eventscope_writer', 'eventscope_admin')) AS v(grp, member) LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members a
                        WHERE a.roleid = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = m.grp)
                          AND a.member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = m.member)) THEN
            BEGIN
                EXECUTE format('GRANT %I TO %I', m.grp, m.member);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END;
        END IF;
    END LOOP;
END $roles$;
