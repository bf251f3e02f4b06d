package cli

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"eventscope/internal/testdb"
	"eventscope/store"
	"eventscope/subscriptions"
)

// TestRolesCLI: the domain worker runs as a writer end to end (its
// subscriptions, checkpoints, read models and snapshots); what a role may
// not do exits with code 6 and a message naming the role to grant; a
// reader reads and an admin administers.
func TestRolesCLI(t *testing.T) {
	t.Parallel()
	db := testdb.URL(t)
	if code, _, errs := runCLI(t, nil, "seed", "--customers", "5", "--orders", "20", "--seed", "7", "--db", db); code != 0 {
		t.Fatalf("seed as owner: exit %d: %s", code, errs)
	}
	reader := testdb.LoginRole(t, db, store.RoleReader)
	writer := testdb.LoginRole(t, db, store.RoleWriter)
	admin := testdb.LoginRole(t, db, store.RoleAdmin)

	// The worker, as writer, until the order-summary read model has every order.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	var wout, werr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"worker", "--quiet", "--snapshot-every", "2", "--db", writer}, strings.NewReader(""), &wout, &werr)
	}()
	owner := testdb.Open(t, db, store.Options{})
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n int
		if err := owner.Pool().QueryRow(t.Context(), `SELECT count(*) FROM eventscope.order_summary`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 20 {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("the writer's worker built %d of 20 order summaries; stderr: %s", n, werr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("worker as writer: exit %d: %s", code, werr.String())
	}

	cases := []struct {
		name, db string
		args     []string
		code     int
		want     string
	}{
		{"reader reads", reader, []string{"read", "order-000001"}, 0, ""},
		{"reader stats", reader, []string{"stats"}, 0, ""},
		{"reader lists subscriptions", reader, []string{"subs", "list"}, 0, ""},
		{"reader lists parked events", reader, []string{"subs", "parked", "notifications"}, 0, ""},
		{"reader types", reader, []string{"types"}, 0, ""},
		{"reader queries", reader, []string{"query", "cat:order", "--limit", "3"}, 0, ""},
		{"reader tails", reader, []string{"tail", "--from", "start", "--count", "3"}, 0, ""},
		{"reader time-travels", reader, []string{"state", "order-000001", "--version", "1"}, 0, ""},
		{"reader imports", reader, []string{"import", "-"}, ExitPermission, "needs role eventscope_writer"},
		{"reader appends", reader, []string{"append", "order-000001", "OrderNoted", `{}`}, ExitPermission, "needs role eventscope_writer"},
		{"reader closes", reader, []string{"close", "order-000001"}, ExitPermission, "GRANT eventscope_writer TO"},
		{"writer appends", writer, []string{"append", "order-999", "OrderNoted", `{}`}, 0, ""},
		{"writer imports", writer, []string{"import", "-"}, 0, ""},
		{"writer subscribes", writer, []string{"subscribe", "roles-ndjson", "--count", "2"}, 0, ""},
		{"writer pauses", writer, []string{"subs", "pause", "order-summary"}, ExitPermission, "needs role eventscope_admin"},
		{"writer resets", writer, []string{"subs", "reset", "order-summary", "--to", "end"}, ExitPermission, "GRANT eventscope_admin TO"},
		{"writer seeds", testdb.LoginRole(t, testdb.URL(t), store.RoleWriter), []string{"seed", "--customers", "1", "--orders", "1"}, ExitPermission, "schema's owner"},
		{"admin pauses", admin, []string{"subs", "pause", "order-summary"}, 0, ""},
		{"admin resumes", admin, []string{"subs", "resume", "order-summary"}, 0, ""},
	}
	exported := `{"stream_id":"invoice-1","event_id":"6f1c1e0a-3b55-4a6e-9a53-2f0f6f7b2a11","type":"InvoiceSent","data":{},"metadata":{}}` + "\n"
	for _, c := range cases {
		code, _, errs := runCLI(t, strings.NewReader(exported), append(c.args, "--db", c.db)...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%s: exit %d (want %d), stderr %q (want %q)", c.name, code, c.code, errs, c.want)
		}
	}
}

// TestConsoleReadOnlyForRole: the console is read-only, saying why, for a
// role that may not administer; not for an admin or the owner.
func TestConsoleReadOnlyForRole(t *testing.T) {
	t.Parallel()
	db := testdb.URL(t)
	for _, c := range []struct {
		url  string
		want string
	}{
		{db, ""},
		{testdb.LoginRole(t, db, store.RoleAdmin), ""},
		{testdb.LoginRole(t, db, store.RoleWriter), "is not an eventscope_admin (GRANT eventscope_admin TO es_role_"},
		{testdb.LoginRole(t, db, store.RoleReader), "is not an eventscope_admin"},
	} {
		st := testdb.Open(t, c.url, store.Options{})
		caps, err := st.Capabilities(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		got := consoleReadOnlyReason(caps, false)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: reason %q, want %q", caps.User, got, c.want)
		}
		if consoleReadOnlyReason(caps, true) != "" {
			t.Errorf("%s: --read-only needs no reason", caps.User)
		}
	}
}

// TestPermissionExitCode: a refusal exits 6 whether the store typed it or
// it is the server's bare 42501, and the message names the command's role.
func TestPermissionExitCode(t *testing.T) {
	t.Parallel()
	bare := &pgconn.PgError{Code: "42501", Message: "permission denied for table subscriptions"}
	if c := exitCode(fmt.Errorf("pause: %w", bare)); c != ExitPermission {
		t.Fatalf("bare 42501: exit %d", c)
	}
	if c := exitCode(store.AsPermission(bare, "x", store.RoleAdmin)); c != ExitPermission {
		t.Fatalf("PermissionError: exit %d", c)
	}
	root := newRoot(&globals{})
	pause, _, err := root.Find([]string{"subs", "pause"})
	if err != nil {
		t.Fatal(err)
	}
	msg := permissionMessage(pause, bare, "app")
	if !strings.Contains(msg, "`eventscope subs pause` needs role eventscope_admin, which role app lacks") || !strings.Contains(msg, `GRANT eventscope_admin TO "app";`) {
		t.Fatalf("message %q", msg)
	}
	read, _, _ := root.Find([]string{"read"})
	if msg := permissionMessage(read, bare, ""); !strings.Contains(msg, "needs role eventscope_reader, which the connected role lacks") {
		t.Fatalf("message %q", msg)
	}
	if r := commandRole(read); r != store.RoleReader {
		t.Fatalf("read needs %q", r)
	}
	// Every command named in commandRoles exists (a renamed command would
	// silently fall back to reader).
	ahead := map[string]bool{"forget": true} // issue 11's erasure half adds it
	for path := range commandRoles {
		c, _, err := root.Find(strings.Fields(path))
		if ahead[path] && c == root {
			continue
		}
		if err != nil || c.CommandPath() != "eventscope "+path {
			t.Errorf("commandRoles names %q, which is not a command (%v)", path, err)
		}
	}
}

// TestBusyExitCode: a lock not granted in time (an append's stream lock,
// ES423; a subscription's row for an admin operation) exits 7, whatever
// wraps it.
func TestBusyExitCode(t *testing.T) {
	for _, err := range []error{
		&store.StreamBusyError{Stream: "order-1"},
		fmt.Errorf("subs pause: %w", &subscriptions.LockTimeoutError{What: `relation "subscriptions"`, Waited: time.Second}),
	} {
		if got := exitCode(err); got != ExitBusy {
			t.Errorf("exitCode(%v) = %d, want %d", err, got, ExitBusy)
		}
	}
}
