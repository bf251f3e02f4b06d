package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"eventscope/internal/testdb"
	"eventscope/store"
)

// TestRestoreIntoAnotherCluster (issue 8 item 9): a pg_dump of one cluster
// restored into another carries transaction ids ahead of the new server's.
// Every command says so (exit 1, naming eventscope migrate); migrate
// renumbers the log keeping its order exactly, remaps subscriptions'
// checkpoints and parked events, new appends sort after it, and a second
// migrate changes nothing.
func TestRestoreIntoAnotherCluster(t *testing.T) {
	t.Parallel()
	for _, bin := range []string{"pg_dump", "psql"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not on PATH", bin)
		}
	}
	ctx := t.Context()
	src, _ := testdb.Private(t)
	st, err := store.Open(ctx, src.URL(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The source is older than the destination will be: burn ids.
	burn := strings.Repeat("BEGIN; SELECT pg_current_xact_id(); COMMIT;\n", 3000)
	if _, err := st.Pool().Exec(ctx, burn); err != nil {
		t.Fatal(err)
	}
	app := func(stream string, n int) {
		t.Helper()
		for i := range n {
			if _, err := st.Append(ctx, stream, store.Any, store.NewEvent{Type: "T", Data: []byte(fmt.Sprintf(`{"i":%d}`, i))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	app("a-1", 3)
	// A transaction that took its id first and appends last: its event has
	// the higher position but sorts first, so the log's order is not
	// position order, and the repair must keep the log's.
	early, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := early.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}
	app("b-1", 2)
	if _, err := st.AppendTx(ctx, early, "c-1", store.Any, store.NewEvent{Type: "Early", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := early.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	app("a-1", 2)
	page, err := st.ReadAll(ctx, store.Start, store.ReadAllOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	srcLog := page.Events
	if len(srcLog) != 8 {
		t.Fatalf("source log has %d events, want 8", len(srcLog))
	}
	ids := func(evs []store.Event) []string {
		var out []string
		for _, e := range evs {
			out = append(out, e.EventID.String())
		}
		return out
	}
	// Subscriptions at the start, after the 4th event, at the head; one
	// parked event (the 2nd).
	_, err = st.Pool().Exec(ctx, `
		INSERT INTO eventscope.subscriptions (name, checkpoint_tx, checkpoint_pos) VALUES
		  ('zero', '0', 0), ('mid', $1::text::xid8, $2), ('head', $3::text::xid8, $4)`,
		fmt.Sprint(srcLog[3].Checkpoint.Tx), srcLog[3].Checkpoint.Pos,
		fmt.Sprint(srcLog[7].Checkpoint.Tx), srcLog[7].Checkpoint.Pos)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Pool().Exec(ctx, `
		INSERT INTO eventscope.parked_events (subscription, event_id, tx_id, position, attempts, last_error)
		VALUES ('mid', $1, $2::text::xid8, $3, 5, 'boom')`,
		srcLog[1].EventID, fmt.Sprint(srcLog[1].Checkpoint.Tx), srcLog[1].Checkpoint.Pos)
	if err != nil {
		t.Fatal(err)
	}

	dump := filepath.Join(t.TempDir(), "dump.sql")
	if out, err := exec.CommandContext(ctx, "pg_dump", "--no-privileges", "--file", dump, "--dbname", src.URL()).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	dst, _ := testdb.Private(t)
	if out, err := exec.CommandContext(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", dump, "--dbname", dst.URL()).CombinedOutput(); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	db := dst.URL()

	// Every command detects it, exit 1, naming the fix; nothing is written.
	for _, args := range [][]string{
		{"read", "--all"}, {"read", "a-1"}, {"streams"}, {"stats"}, {"tail", "--count", "1"},
		{"subs", "list"}, {"state", "a-1"}, {"append", "a-1", "T", "{}"},
	} {
		code, _, errs := runCLI(t, nil, append(args, "--db", db)...)
		if code != ExitFailure || !strings.Contains(errs, "restored from another cluster") || !strings.Contains(errs, "eventscope migrate") {
			t.Errorf("%v on the restored copy: exit %d, %q; want 1 naming the restore and eventscope migrate", args, code, errs)
		}
	}

	code, out, errs := runCLI(t, nil, "migrate", "--db", db)
	if code != 0 || !strings.Contains(out, "renumbered the restored global log: 8 events") {
		t.Fatalf("migrate: exit %d, %q %q", code, out, errs)
	}
	code, out, errs = runCLI(t, nil, "migrate", "--db", db)
	if code != 0 || strings.Contains(out, "renumbered") || !strings.Contains(out, "up to date") {
		t.Fatalf("second migrate: exit %d, %q %q; want nothing to do", code, out, errs)
	}
	// The dump left the grants out (the other cluster has no eventscope
	// roles yet); migrate made the roles and granted everything again.
	if code, _, errs := runCLI(t, nil, "stats", "--db", testdb.LoginRoleOn(t, dst.AdminURL(), db, store.RoleReader)); code != 0 {
		t.Fatalf("a reader on the restored copy: exit %d: %s", code, errs)
	}

	readAll := func(after string) []store.Event {
		t.Helper()
		args := []string{"read", "--all", "--json", "--db", db}
		if after != "" {
			args = append(args, "--after", after)
		}
		code, out, errs := runCLI(t, nil, args...)
		if code != 0 {
			t.Fatalf("read --all: exit %d: %s", code, errs)
		}
		var evs []store.Event
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if line == "" {
				continue
			}
			var e store.Event
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatal(err)
			}
			evs = append(evs, e)
		}
		return evs
	}
	got := readAll("")
	if strings.Join(ids(got), ",") != strings.Join(ids(srcLog), ",") {
		t.Fatalf("restored log order:\n%v\nwant the source's:\n%v", ids(got), ids(srcLog))
	}
	for i := 1; i < len(got); i++ {
		if !got[i-1].Checkpoint.Less(got[i].Checkpoint) {
			t.Fatalf("checkpoints not increasing: %s then %s", got[i-1].Checkpoint, got[i].Checkpoint)
		}
	}

	// Subscriptions and parked events point at the same events as before.
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	cp := func(name string) string {
		var s string
		if err := conn.QueryRow(ctx, `SELECT checkpoint_tx::text || ':' || checkpoint_pos FROM eventscope.subscriptions WHERE name = $1`, name).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if c := cp("zero"); c != "0:0" {
		t.Errorf("zero's checkpoint = %s, want 0:0", c)
	}
	if c := cp("mid"); c != got[3].Checkpoint.String() {
		t.Errorf("mid's checkpoint = %s, want the 4th event's, %s", c, got[3].Checkpoint)
	}
	if after := readAll(cp("mid")); strings.Join(ids(after), ",") != strings.Join(ids(srcLog[4:]), ",") {
		t.Errorf("after mid's checkpoint: %v, want %v", ids(after), ids(srcLog[4:]))
	}
	if c := cp("head"); c != got[7].Checkpoint.String() {
		t.Errorf("head's checkpoint = %s, want %s", c, got[7].Checkpoint)
	}
	var parked string
	if err := conn.QueryRow(ctx, `SELECT tx_id::text || ':' || position FROM eventscope.parked_events WHERE subscription = 'mid'`).Scan(&parked); err != nil {
		t.Fatal(err)
	}
	if parked != got[1].Checkpoint.String() {
		t.Errorf("parked event at %s, want its event's new checkpoint %s", parked, got[1].Checkpoint)
	}

	// New appends, to a restored stream and a new one, sort after the log.
	for _, s := range []string{"a-1", "z-1"} {
		if code, _, errs := runCLI(t, nil, "append", s, "After", "{}", "--db", db); code != 0 {
			t.Fatalf("append to %s after the repair: exit %d: %s", s, code, errs)
		}
	}
	got = readAll("")
	if len(got) != 10 || got[8].Type != "After" || got[9].Type != "After" {
		t.Fatalf("after the repair, new appends are not last: %d events, %v", len(got), got)
	}
	if after := readAll(cp("head")); len(after) != 2 {
		t.Fatalf("a subscription at the old head would get %d new events, want 2", len(after))
	}
	_ = os.Remove(dump)
}
