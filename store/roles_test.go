package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"eventscope/internal/pgserver"
	"eventscope/internal/testdb"
	"eventscope/store"
)

// roleSetup: a fresh database with one stream (order-1, version 0) and a
// closed stream (order-closed), written by the owner, and a login role of
// the test's own in groups.
func roleSetup(t *testing.T, groups ...string) (owner *store.Store, url string, ctx context.Context) {
	t.Helper()
	ctx = context.Background()
	db := testdb.URL(t)
	owner = testdb.Open(t, db, store.Options{})
	if _, err := owner.Append(ctx, "order-1", store.NoStream, store.NewEvent{Type: "OrderPlaced", Data: []byte(`{"n":1}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Append(ctx, "order-closed", store.NoStream, store.NewEvent{Type: "OrderPlaced", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := owner.CloseStream(ctx, "order-closed"); err != nil {
		t.Fatal(err)
	}
	return owner, testdb.LoginRole(t, db, groups...), ctx
}

func wantSQLState(t *testing.T, what string, err error, code string) {
	t.Helper()
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || pg.Code != code {
		t.Fatalf("%s: want SQLSTATE %s, got %v", what, code, err)
	}
}

// forgeries are what the issue says a role with table DML could do; no
// group role may do any of them.
var forgeries = []struct{ name, sql string }{
	{"forged event below every checkpoint", `INSERT INTO eventscope.events (stream_id, version, tx_id, position, event_id, type, data, metadata, recorded_at)
		VALUES ('order-1', 1, '1', 1000000, gen_random_uuid(), 'Forged', '{}', '{}', now())`},
	{"version 7 after 1", `UPDATE eventscope.streams SET version = 7 WHERE stream_id = 'order-1'`},
	{"reopen a closed stream", `UPDATE eventscope.streams SET closed_at = NULL WHERE stream_id = 'order-closed'`},
	{"delete an event", `DELETE FROM eventscope.events WHERE stream_id = 'order-1'`},
	{"delete a stream", `DELETE FROM eventscope.streams WHERE stream_id = 'order-1'`},
	{"truncate the log", `TRUNCATE eventscope.events`},
	{"raise the event size cap", `UPDATE eventscope.settings SET value = 268435455 WHERE name = 'max_event_bytes'`},
	{"call a helper of the append", `SELECT eventscope.lock_stream('order-1')`},
	{"renumber the log", `SELECT eventscope.repair_restored_log()`},
}

func checkForgeriesRefused(t *testing.T, ctx context.Context, owner *store.Store, url string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, f := range forgeries {
		_, err := conn.Exec(ctx, f.sql)
		wantSQLState(t, f.name, err, "42501")
	}
	// Nothing changed.
	info, err := owner.StreamInfo(ctx, "order-1")
	if err != nil || info.Version != 0 || info.Closed() {
		t.Fatalf("order-1 after the forgeries: %+v %v", info, err)
	}
	if info, err := owner.StreamInfo(ctx, "order-closed"); err != nil || !info.Closed() {
		t.Fatalf("order-closed after the forgeries: %+v %v", info, err)
	}
}

func TestRoleReader(t *testing.T) {
	t.Parallel()
	owner, url, ctx := roleSetup(t, store.RoleReader)
	rd := testdb.Open(t, url, store.Options{})

	caps, err := rd.Capabilities(ctx)
	if err != nil || !caps.Read || caps.Write || caps.Admin || caps.Forget || !strings.HasPrefix(caps.User, "es_role_") {
		t.Fatalf("reader capabilities: %+v %v", caps, err)
	}
	if m := caps.Missing("write"); m != store.RoleWriter {
		t.Fatalf("Missing(write) = %q", m)
	}
	visible(t, rd, 2) // below the cluster's horizon (other tests' transactions)
	// Everything that reads.
	if evs, err := rd.ReadStream(ctx, "order-1", store.ReadStreamOptions{}); err != nil || len(evs) != 1 {
		t.Fatalf("reader ReadStream: %d %v", len(evs), err)
	}
	if page, err := rd.ReadAll(ctx, store.Checkpoint{}, store.ReadAllOptions{}); err != nil || len(page.Events) != 2 {
		t.Fatalf("reader ReadAll: %+v %v", page, err)
	}
	if st, err := rd.Stats(ctx, store.StatsOptions{Types: true}); err != nil || st.Events != 2 {
		t.Fatalf("reader Stats: %+v %v", st, err)
	}
	if _, _, err := rd.CatalogTypes(ctx, store.CatalogOptions{Budget: time.Second}); err != nil {
		t.Fatalf("reader types: %v", err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM eventscope.read_stream('order-1', 0, 10, false)`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("reader read_stream from SQL: %d %v", n, err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM eventscope.subscriptions`).Scan(&n); err != nil {
		t.Fatalf("reader lists subscriptions: %v", err)
	}

	// Nothing that writes.
	_, err = rd.Append(ctx, "order-1", store.Any, store.NewEvent{Type: "OrderPaid", Data: []byte(`{}`)})
	var pe *store.PermissionError
	if !errors.Is(err, store.ErrPermission) || !errors.As(err, &pe) || pe.Role != store.RoleWriter {
		t.Fatalf("reader append: want a PermissionError naming %s, got %v", store.RoleWriter, err)
	}
	wantSQLState(t, "reader append (unwrapped)", err, "42501")
	if err := rd.CloseStream(ctx, "order-1"); !errors.Is(err, store.ErrPermission) {
		t.Fatalf("reader close: %v", err)
	}
	_, err = conn.Exec(ctx, `SELECT eventscope.append('order-1', NULL, '[{"type":"X","data":{}}]')`)
	wantSQLState(t, "reader append from SQL", err, "42501")
	checkForgeriesRefused(t, ctx, owner, url)
}

func TestRoleWriter(t *testing.T) {
	t.Parallel()
	owner, url, ctx := roleSetup(t, store.RoleWriter)
	wr := testdb.Open(t, url, store.Options{})
	caps, err := wr.Capabilities(ctx)
	if err != nil || !caps.Read || !caps.Write || caps.Admin {
		t.Fatalf("writer capabilities: %+v %v", caps, err)
	}
	if v, err := wr.Append(ctx, "order-1", store.Exact(0), store.NewEvent{Type: "OrderPaid", Data: []byte(`{}`)}); err != nil || v != 1 {
		t.Fatalf("writer append: %d %v", v, err)
	}
	if vs, err := wr.AppendMulti(ctx, []store.StreamAppend{
		{Stream: "order-2", Expected: store.NoStream, Events: []store.NewEvent{{Type: "OrderPlaced", Data: []byte(`{}`)}}},
		{Stream: "order-1", Expected: store.Exact(1), Events: []store.NewEvent{{Type: "OrderShipped", Data: []byte(`{}`)}}},
	}); err != nil || len(vs) != 2 || vs[1] != 2 {
		t.Fatalf("writer append_multi: %v %v", vs, err)
	}
	if err := wr.CloseStream(ctx, "order-2"); err != nil {
		t.Fatalf("writer close: %v", err)
	}
	if _, err := wr.Append(ctx, "order-2", store.Any, store.NewEvent{Type: "X", Data: []byte(`{}`)}); !errors.Is(err, store.ErrStreamClosed) {
		t.Fatalf("append to the closed stream: %v", err)
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// The definer functions do not look at the caller's temporary objects:
	// a temporary "streams" table does not capture the append.
	if _, err := conn.Exec(ctx, `CREATE TEMP TABLE streams (stream_id text, version bigint)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SET search_path = pg_temp, eventscope, public`); err != nil {
		t.Fatal(err)
	}
	var v int64
	if err := conn.QueryRow(ctx, `SELECT eventscope.append('order-3', -1, '[{"type":"OrderPlaced","data":{}}]')`).Scan(&v); err != nil || v != 0 {
		t.Fatalf("append with a hostile search_path: %d %v", v, err)
	}
	if info, err := owner.StreamInfo(ctx, "order-3"); err != nil || info.Version != 0 {
		t.Fatalf("order-3 went elsewhere: %+v %v", info, err)
	}
	conn.Close(ctx)

	// Now order-1 is at version 2; the forgeries must leave it there.
	conn2, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close(ctx)
	for _, f := range forgeries {
		_, err := conn2.Exec(ctx, f.sql)
		wantSQLState(t, "writer: "+f.name, err, "42501")
	}
	if info, err := owner.StreamInfo(ctx, "order-1"); err != nil || info.Version != 2 || info.Closed() {
		t.Fatalf("order-1 after the writer's forgeries: %+v %v", info, err)
	}
	if info, err := owner.StreamInfo(ctx, "order-closed"); err != nil || !info.Closed() {
		t.Fatalf("order-closed after the writer's forgeries: %+v %v", info, err)
	}
}

func TestRoleAdminAndNone(t *testing.T) {
	t.Parallel()
	owner, url, ctx := roleSetup(t, store.RoleAdmin)
	ad := testdb.Open(t, url, store.Options{})
	caps, err := ad.Capabilities(ctx)
	if err != nil || !caps.Read || !caps.Write || !caps.Admin {
		t.Fatalf("admin capabilities: %+v %v", caps, err)
	}
	if _, err := ad.Append(ctx, "order-1", store.Exact(0), store.NewEvent{Type: "OrderPaid", Data: []byte(`{}`)}); err != nil {
		t.Fatalf("admin append: %v", err)
	}
	checkForgeriesRefusedAt(t, ctx, owner, url, 1)

	// A role in no group: reads are refused too, with a typed error from
	// the store where it knows the role.
	none := testdb.LoginRole(t, testdb.URL(t))
	nst, err := store.Open(ctx, none, store.Options{NoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer nst.Close()
	caps, err = nst.Capabilities(ctx)
	if err != nil || caps.Read || caps.Write || caps.Admin {
		t.Fatalf("no-group capabilities: %+v %v", caps, err)
	}
	if caps.Missing("read") != store.RoleReader {
		t.Fatalf("Missing(read) = %q", caps.Missing("read"))
	}
	_, err = nst.ReadStream(ctx, "order-1", store.ReadStreamOptions{})
	wantSQLState(t, "no-group read", err, "42501")
}

func checkForgeriesRefusedAt(t *testing.T, ctx context.Context, owner *store.Store, url string, version int64) {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, f := range forgeries {
		_, err := conn.Exec(ctx, f.sql)
		wantSQLState(t, f.name, err, "42501")
	}
	if info, err := owner.StreamInfo(ctx, "order-1"); err != nil || info.Version != version || info.Closed() {
		t.Fatalf("order-1 after the forgeries: %+v %v", info, err)
	}
}

// TestPrivilegesListEverything: every function, table, view and sequence
// of the schema is in eventscope.privileges (privileges.sql), so a function
// or table added by a later migration cannot go without a decision; and
// the list's promises hold in the catalog.
func TestPrivilegesListEverything(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testdb.Store(t)
	q := func(sql string) []string {
		t.Helper()
		rows, err := st.Pool().Query(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// (An extension's functions installed in the schema are the
	// extension's: not listed, never altered, only revoked from PUBLIC.)
	if missing := q(`SELECT p.oid::regprocedure::text FROM pg_proc p
		WHERE p.pronamespace = 'eventscope'::regnamespace
		  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
		  AND NOT EXISTS (SELECT 1 FROM eventscope.privileges l WHERE l.kind = 'function' AND l.name = p.proname)`); len(missing) > 0 {
		t.Errorf("functions in no row of eventscope.privileges (add them to store/migrations/privileges.sql): %v", missing)
	}
	if missing := q(`SELECT c.relname::text FROM pg_class c
		WHERE c.relnamespace = 'eventscope'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
		  AND NOT EXISTS (SELECT 1 FROM eventscope.privileges l WHERE l.kind IN ('table', 'sequence') AND l.name = c.relname)`); len(missing) > 0 {
		t.Errorf("tables, views or sequences in no row of eventscope.privileges: %v", missing)
	}
	if bad := q(`SELECT p.oid::regprocedure::text FROM pg_proc p JOIN eventscope.privileges l ON l.kind = 'function' AND l.name = p.proname
		WHERE p.pronamespace = 'eventscope'::regnamespace AND l.runs_as = 'definer'
		  AND NOT (p.prosecdef AND p.proconfig = ARRAY['search_path=pg_catalog, eventscope, pg_temp'] || l.config)`); len(bad) > 0 {
		t.Errorf("definer functions without SECURITY DEFINER and the fixed search_path: %v", bad)
	}
	if bad := q(`SELECT p.oid::regprocedure::text FROM pg_proc p JOIN eventscope.privileges l ON l.kind = 'function' AND l.name = p.proname
		WHERE p.pronamespace = 'eventscope'::regnamespace AND l.runs_as = 'invoker' AND (p.prosecdef OR p.proconfig IS NOT NULL)`); len(bad) > 0 {
		t.Errorf("invoker functions that are SECURITY DEFINER or SET something: %v", bad)
	}
	if bad := q(`SELECT p.oid::regprocedure::text FROM pg_proc p JOIN eventscope.privileges l ON l.kind = 'function' AND l.name = p.proname
		WHERE p.pronamespace = 'eventscope'::regnamespace AND l.runs_as = 'qualified' AND NOT (p.prosecdef AND p.proconfig IS NULL)`); len(bad) > 0 {
		t.Errorf("qualified functions that are not SECURITY DEFINER without a SET clause: %v", bad)
	}
	if bad := q(`SELECT p.oid::regprocedure::text FROM pg_proc p
		WHERE p.pronamespace = 'eventscope'::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE')`); len(bad) > 0 {
		t.Errorf("functions PUBLIC may execute: %v", bad)
	}
	// No group role may write the log's tables, nor truncate anything.
	for _, role := range []string{"public", store.RoleReader, store.RoleWriter, store.RoleAdmin} {
		for _, table := range []string{"events", "streams", "settings", "schema_migrations", "privileges"} {
			for _, priv := range []string{"INSERT", "UPDATE", "DELETE", "TRUNCATE"} {
				var ok bool
				if err := st.Pool().QueryRow(ctx, `SELECT has_table_privilege($1, $2, $3)`, role, "eventscope."+table, priv).Scan(&ok); err != nil {
					t.Fatal(err)
				}
				if ok {
					t.Errorf("%s has %s on eventscope.%s", role, priv, table)
				}
			}
		}
	}
	if bad := q(`SELECT c.relname::text FROM pg_class c WHERE c.relnamespace = 'eventscope'::regnamespace AND c.relkind = 'r'
		AND (has_table_privilege('eventscope_admin', c.oid, 'TRUNCATE') OR has_table_privilege('public', c.oid, 'SELECT'))`); len(bad) > 0 {
		t.Errorf("tables an admin may truncate or PUBLIC may read: %v", bad)
	}
	// The hierarchy: admin ⊃ writer ⊃ reader, none can log in.
	var ok bool
	if err := st.Pool().QueryRow(ctx, `SELECT pg_has_role('eventscope_admin', 'eventscope_writer', 'USAGE')
		AND pg_has_role('eventscope_writer', 'eventscope_reader', 'USAGE')
		AND NOT pg_has_role('eventscope_reader', 'eventscope_writer', 'USAGE')
		AND NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname LIKE 'eventscope\_%' AND rolcanlogin)`).Scan(&ok); err != nil || !ok {
		t.Errorf("role hierarchy is not admin > writer > reader, NOLOGIN: %v", err)
	}
	// Migrating again restores what was changed by hand (or by a function
	// replaced without its attributes), and grants nothing more.
	if _, err := st.Pool().Exec(ctx, `ALTER FUNCTION eventscope.append(text, bigint, jsonb) SECURITY INVOKER;
		ALTER FUNCTION eventscope.append(text, bigint, jsonb) RESET ALL;
		ALTER FUNCTION eventscope.append(text, bigint, jsonb) SET search_path = public;
		REVOKE EXECUTE ON FUNCTION eventscope.append(text, bigint, jsonb) FROM eventscope_writer;
		GRANT INSERT ON eventscope.events TO eventscope_writer;
		GRANT EXECUTE ON FUNCTION eventscope.lock_stream(text) TO PUBLIC`); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Migrate(ctx, st.Pool()); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	if err := st.Pool().QueryRow(ctx, `SELECT p.prosecdef AND p.proconfig IS NULL
		AND has_function_privilege('eventscope_writer', p.oid, 'EXECUTE')
		AND NOT has_table_privilege('eventscope_writer', 'eventscope.events', 'INSERT')
		AND NOT has_function_privilege('public', 'eventscope.lock_stream(text)', 'EXECUTE')
		FROM pg_proc p WHERE p.oid = 'eventscope.append(text, bigint, jsonb)'::regprocedure`).Scan(&ok); err != nil || !ok {
		t.Fatalf("migrate did not restore the privilege model: %v", err)
	}
}

// TestRolesConcurrentMigrate: eight databases of one fresh cluster (no
// eventscope roles yet) migrate at once; every one succeeds, and the roles
// exist once, with their memberships. On a private cluster of the test's
// own, so the roles are really created by the race.
func TestRolesConcurrentMigrate(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a private cluster")
	}
	srv, _ := testdb.Private(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, srv.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var n int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname LIKE 'eventscope\_%'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the fresh cluster has %d eventscope roles (%v)", n, err)
	}
	const dbs = 8
	for i := range dbs {
		if _, err := admin.Exec(ctx, fmt.Sprintf(`CREATE DATABASE race_%d`, i)); err != nil {
			t.Fatal(err)
		}
	}
	// An owner that may not create roles cannot migrate before the roles
	// exist: it is told how, and nothing is created.
	plain := testdb.LoginRoleOn(t, srv.AdminURL(), pgserver.WithDatabase(srv.URL(), "race_0"))
	pcfg, err := pgconn.ParseConfig(plain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, `GRANT CREATE ON DATABASE race_0 TO `+pcfg.User); err != nil {
		t.Fatal(err)
	}
	pconn, err := pgx.Connect(ctx, plain)
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.Migrate(ctx, pconn)
	if !errors.Is(err, store.ErrPermission) || !strings.Contains(err.Error(), "may not create it") || !strings.Contains(err.Error(), "CREATE ROLE eventscope_reader NOLOGIN") {
		t.Fatalf("migrate by a role without CREATEROLE: %v", err)
	}
	var schema bool
	if err := pconn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'eventscope')`).Scan(&schema); err != nil || schema {
		t.Fatalf("the refused migrate created the schema: %v %v", schema, err)
	}
	pconn.Close(ctx)
	var wg sync.WaitGroup
	errs := make([]error, dbs)
	start := make(chan struct{})
	for i := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := pgx.Connect(ctx, pgserver.WithDatabase(srv.URL(), fmt.Sprintf("race_%d", i)))
			if err != nil {
				errs[i] = err
				return
			}
			defer conn.Close(ctx)
			<-start
			_, errs[i] = store.Migrate(ctx, conn)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("database race_%d: %v", i, err)
		}
	}
	var ok bool
	if err := admin.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_roles WHERE rolname IN ('eventscope_reader', 'eventscope_writer', 'eventscope_admin')) = 3
		AND pg_has_role('eventscope_admin', 'eventscope_writer', 'USAGE') AND pg_has_role('eventscope_writer', 'eventscope_reader', 'USAGE')`).Scan(&ok); err != nil || !ok {
		t.Fatalf("roles after the race: %v %v", ok, err)
	}
	// A reader of one of them reads there: the grants are per database.
	url := testdb.LoginRoleOn(t, srv.AdminURL(), pgserver.WithDatabase(srv.URL(), "race_3"), store.RoleReader)
	rd := testdb.Open(t, url, store.Options{})
	if _, err := rd.Stats(ctx, store.StatsOptions{}); err != nil {
		t.Fatalf("reader on race_3 (SCRAM): %v", err)
	}
}

// TestRoleReaderSeesWhatHoldsTheLogBack: a reader's stats name the
// session holding the global log back (through eventscope.log_blocker: a
// reader cannot see other roles' transaction ids in pg_stat_activity), but
// not that session's SQL, which PostgreSQL shows only to its own role and
// members of pg_read_all_stats. On a private cluster (SCRAM), since the
// open transaction holds back every database of its cluster.
func TestRoleReaderSeesWhatHoldsTheLogBack(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a private cluster")
	}
	srv, _ := testdb.Private(t)
	ctx := context.Background()
	owner := testdb.Open(t, srv.URL(), store.Options{})
	rd := testdb.Open(t, testdb.LoginRoleOn(t, srv.AdminURL(), srv.URL(), store.RoleReader), store.Options{})

	hold, err := owner.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback(ctx) //nolint:errcheck
	var pid int
	var xid string
	if err := hold.QueryRow(ctx, `SELECT pg_backend_pid(), pg_current_xact_id()::text /* secret 42 */`).Scan(&pid, &xid); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Append(ctx, "order-1", store.Any, store.NewEvent{Type: "OrderPlaced", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	st, err := rd.Stats(ctx, store.StatsOptions{FullQuery: true})
	if err != nil {
		t.Fatalf("reader stats: %v", err)
	}
	if st.Pending != 1 || st.Blocker == nil || st.Blocker.PID != pid {
		t.Fatalf("reader: pending %d, blocker %+v; want pid %d", st.Pending, st.Blocker, pid)
	}
	if st.Blocker.Query != "" {
		t.Fatalf("reader sees another role's SQL: %q", st.Blocker.Query)
	}
	ost, err := owner.Stats(ctx, store.StatsOptions{FullQuery: true})
	if err != nil || ost.Blocker == nil || !strings.Contains(ost.Blocker.Query, "secret 42") {
		t.Fatalf("owner stats: %+v %v", ost.Blocker, err)
	}
}

// TestRoleBehindSchema: a reader whose binary is newer than the schema
// cannot migrate it; the error says the owner must.
func TestRoleBehindSchema(t *testing.T) {
	t.Parallel()
	owner, url, ctx := roleSetup(t, store.RoleWriter)
	if _, err := owner.Pool().Exec(ctx, `DELETE FROM eventscope.schema_migrations WHERE version = $1`, store.Latest()); err != nil {
		t.Fatal(err)
	}
	_, err := store.Open(ctx, url, store.Options{})
	var pe *store.PermissionError
	if !errors.As(err, &pe) || pe.Role != store.RoleOwner || !strings.Contains(err.Error(), "must run as the eventscope schema's owner") {
		t.Fatalf("a writer opening a schema that is behind: %v", err)
	}
}
