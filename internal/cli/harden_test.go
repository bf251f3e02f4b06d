package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"eventscope/internal/pgserver"
	"eventscope/internal/testdb"
	"eventscope/internal/textsafe"
	"eventscope/store"
	"eventscope/store/storetest"
)

// TestHostileInputRefused (issue 8 item 7): what jsonb cannot store (NUL,
// bytes that are not UTF-8) exits 2 naming the field and the line before
// anything is sent; an empty --db is refused rather than falling back to
// the embedded server; --limit is bounded. Nothing changes.
func TestHostileInputRefused(t *testing.T) {
	t.Parallel()
	db := testdb.URL(t)
	if code, _, errs := runCLI(t, nil, "append", "order-1", "OrderPlaced", `{"total":10}`, "--db", db); code != 0 {
		t.Fatalf("seed append: %s", errs)
	}
	cases := []struct {
		name  string
		stdin string
		args  []string
		want  []string
	}{
		{"NUL in data", "", []string{"append", "order-1", "A", `{"a":"x\u0000y"}`}, []string{"DATA", `\u0000`}},
		{"NUL in metadata", "", []string{"append", "order-1", "A", `{}`, "--metadata", `{"m":"\u0000"}`}, []string{"--metadata", "NUL"}},
		{"invalid UTF-8 in data", "", []string{"append", "order-1", "A", "{\"a\":\"\xff\"}"}, []string{"DATA", "UTF-8"}},
		{"invalid UTF-8 in data from stdin", "{\"a\":\"\xc3\"}", []string{"append", "order-1", "A", "-"}, []string{"DATA", "UTF-8"}},
		{"NUL in a batch line's data", "{\"type\":\"A\",\"data\":{}}\n{\"type\":\"A\",\"data\":{\"a\":\"\\u0000\"}}\n", []string{"append", "order-1", "--batch", "-"}, []string{"line 2", `"data"`, "NUL"}},
		{"NUL in a batch line's metadata", "{\"type\":\"A\",\"data\":{},\"metadata\":{\"k\":\"\\u0000\"}}\n", []string{"append", "order-1", "--batch", "-"}, []string{"line 1", `"metadata"`}},
		{"NUL in a batch line's type", "{\"type\":\"A\\u0000\",\"data\":{}}\n", []string{"append", "order-1", "--batch", "-"}, []string{"line 1", `"type"`}},
		{"invalid UTF-8 in a batch line", "\n{\"type\":\"A\",\"data\":{\"a\":\"\xfe\"}}\n", []string{"append", "order-1", "--batch", "-"}, []string{"line 2", `"data"`, "UTF-8"}},
		{"batch unknown field", `{"type":"A","data":{},"metdata":{}}`, []string{"append", "order-1", "--batch", "-"}, []string{"line 1", "metdata"}},
		{"empty --db", "", []string{"stats", "--db", ""}, []string{"--db is empty"}},
		{"streams --limit overflow", "", []string{"streams", "--limit", "9223372036854775807"}, []string{"--limit", "10000"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if c.name != "empty --db" {
				args = append(args, "--db", db)
			}
			code, _, errs := runCLI(t, strings.NewReader(c.stdin), args...)
			if code != ExitBadInput {
				t.Fatalf("exit %d, want %d; stderr %q", code, ExitBadInput, errs)
			}
			for _, w := range c.want {
				if !strings.Contains(errs, w) {
					t.Fatalf("stderr %q does not mention %q", errs, w)
				}
			}
			if strings.Contains(errs, "SQLSTATE") {
				t.Fatalf("stderr %q: a raw server error, not a check before sending", errs)
			}
		})
	}
	code, out, _ := runCLI(t, nil, "read", "order-1", "--json", "--db", db)
	if code != 0 || strings.Count(out, "\n") != 1 {
		t.Fatalf("refused calls changed order-1: %q", out)
	}
	// An escaped backslash before "u0000" is text, not a NUL.
	if code, _, errs := runCLI(t, nil, "append", "order-1", "A", `{"a":"\\u0000"}`, "--db", db); code != 0 {
		t.Fatalf(`append of an escaped backslash then "u0000": exit %d: %s`, code, errs)
	}
}

func TestCheckJSONText(t *testing.T) {
	t.Parallel()
	for in, bad := range map[string]bool{
		`{}`: false, `{"a":"\u0000"}`: true, `{"a":"\\u0000"}`: false, `{"a":"\\\u0000"}`: true,
		`{"\u0000":1}`: true, `{"a":"é"}`: false, "{\"a\":\"\xff\"}": true, `{"a":"\"\u0000"}`: true,
		`{"a":"\u00001"}`: true, `{"a":"\u0001"}`: false,
	} {
		if got := checkJSONText([]byte(in)) != ""; got != bad {
			t.Errorf("checkJSONText(%q) refused = %v, want %v", in, got, bad)
		}
	}
}

// storeHostile writes, as the events schema's owner would have before types
// were checked, one event whose stream id, type, data and metadata carry
// terminal control sequences and bidi overrides.
func storeHostile(t *testing.T, db string) (stream string) {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	stream = "evil-1\u202e\u200b"
	typ := "Evil\x1b]0;owned\x07\x1b[2J\u009b31m"
	data := `{"x":"\u001b[31mred\u009b\u202e","k":"` + "\u2067\u0085" + `"}`
	err = storetest.RawAppend(ctx, conn, stream, storetest.RawEvent{Type: typ, Data: data, Metadata: `{"m":"\u009b\u202e"}`})
	if err != nil {
		t.Fatal(err)
	}
	return stream
}

// unsafeIn returns the first rune of s that must not reach a terminal.
func unsafeIn(s string) (rune, bool) {
	for _, r := range s {
		if r != '\n' && r != '\t' && textsafe.Unsafe(r) {
			return r, true
		}
	}
	return 0, false
}

// TestOutputIsSanitised (issue 8 item 4, CLI side): read, tail, stats
// --types, streams, subs and state print stored data, text or --json, with
// no control or format character reaching the terminal, for data stored
// before the store refused them.
func TestOutputIsSanitised(t *testing.T) {
	t.Parallel()
	db := testdb.URL(t)
	stream := storeHostile(t, db)
	waitVisible(t, db, 1)
	for _, args := range [][]string{
		{"read", stream}, {"read", stream, "--json"},
		{"read", "--all"}, {"read", "--all", "--json"},
		{"tail", "--from", "start", "--count", "1"}, {"tail", "--from", "start", "--count", "1", "--json"},
		{"stats", "--types"}, {"stats", "--json"},
		{"streams"}, {"streams", "--json"},
		{"state", stream}, {"state", stream, "--json"}, {"state", stream, "--version", "0", "--diff"},
	} {
		code, out, errs := runCLI(t, nil, append(args, "--db", db)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		if r, bad := unsafeIn(out + errs); bad {
			t.Errorf("%v printed %U raw:\n%q", args, r, out)
		}
		if !strings.Contains(out, "Evil") && !strings.Contains(out, "evil") {
			t.Errorf("%v: the event is not shown at all: %q", args, out)
		}
		if strings.HasSuffix(args[len(args)-1], "json") {
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if !json.Valid([]byte(line)) {
					t.Errorf("%v: not JSON: %q", args, line)
				}
			}
		}
	}
	// --json keeps the stored value exactly: only its spelling is escaped.
	_, out, _ := runCLI(t, nil, "read", stream, "--json", "--db", db)
	var e struct {
		StreamID string `json:"stream_id"`
		Type     string `json:"type"`
	}
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatal(err)
	}
	if e.StreamID != stream || !strings.HasPrefix(e.Type, "Evil\x1b]0;") {
		t.Fatalf("--json changed the values: %q %q", e.StreamID, e.Type)
	}
}

// waitVisible waits until the global log shows n events (an open
// transaction elsewhere on the cluster holds it back for a moment).
func waitVisible(t *testing.T, db string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, out, _ := runCLI(t, nil, "read", "--all", "--json", "--db", db)
		if strings.Count(out, "\n") >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log shows %d events after 30s, want %d", strings.Count(out, "\n"), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSubsResetTargets (issue 8 item 8): a checkpoint beyond the head is
// refused (exit 2, nothing changed); HH:MM is a time of day, not checkpoint
// HH:MM; what is ambiguous is refused with a hint.
func TestSubsResetTargets(t *testing.T) {
	t.Parallel()
	db := testdb.URL(t)
	clock := time.Now().Format("15:04") // not later than now: today's
	for i := range 3 {
		if code, _, errs := runCLI(t, nil, "append", "order-1", "Placed", fmt.Sprintf(`{"n":%d}`, i), "--db", db); code != 0 {
			t.Fatal(errs)
		}
	}
	waitVisible(t, db, 3)
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), `INSERT INTO eventscope.subscriptions (name) VALUES ('s')`); err != nil {
		t.Fatal(err)
	}
	checkpoint := func() string {
		var tx uint64
		var pos int64
		if err := conn.QueryRow(t.Context(), `SELECT checkpoint_tx::text::bigint, checkpoint_pos FROM eventscope.subscriptions WHERE name = 's'`).Scan(&tx, &pos); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%d:%d", tx, pos)
	}
	_, out, _ := runCLI(t, nil, "read", "--all", "--json", "--db", db)
	var second store.Event
	if err := json.Unmarshal([]byte(strings.Split(out, "\n")[1]), &second); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, nil, "subs", "reset", "s", "--to", second.Checkpoint.String(), "--db", db); code != 0 {
		t.Fatalf("reset to a checkpoint in the log: exit %d: %s", code, errs)
	}
	if got := checkpoint(); got != second.Checkpoint.String() {
		t.Fatalf("checkpoint %s, want %s", got, second.Checkpoint)
	}
	for _, to := range []string{"99999999:0", fmt.Sprintf("%d:%d", second.Checkpoint.Tx+1000, 0), "checkpoint:99999999:5"} {
		code, _, errs := runCLI(t, nil, "subs", "reset", "s", "--to", to, "--db", db)
		if code != ExitBadInput || !strings.Contains(errs, "beyond the head") {
			t.Fatalf("reset --to %s: exit %d, %q; want 2 and \"beyond the head\"", to, code, errs)
		}
		if got := checkpoint(); got != second.Checkpoint.String() {
			t.Fatalf("refused reset --to %s moved the checkpoint to %s", to, got)
		}
	}
	for _, to := range []string{"12:5", "3:100", "0:0"} {
		code, _, errs := runCLI(t, nil, "subs", "reset", "s", "--to", to, "--db", db)
		if code != ExitBadInput || !strings.Contains(errs, "ambiguous") || !strings.Contains(errs, "checkpoint:"+to) {
			t.Fatalf("reset --to %s: exit %d, %q; want 2, ambiguous, and the checkpoint: hint", to, code, errs)
		}
	}
	code, _, errs := runCLI(t, nil, "subs", "reset", "s", "--to", clock, "--db", db)
	if code != 0 {
		t.Fatalf("reset --to %s: exit %d: %s", clock, code, errs)
	}
	// Every event was appended at or after the minute began: a time reset
	// there replays them all; checkpoint HH:MM would not.
	if got := checkpoint(); got != "0:0" && clock != "00:00" {
		t.Fatalf("reset --to %s gave checkpoint %s, want 0:0 (a time, not checkpoint %s)", clock, got, clock)
	}
}

// TestReadOnlyWritesNothing (issue 8 item 10): the console's read-only
// opening of an empty database creates no schema and names the fix; state,
// a read, stores no snapshots.
func TestReadOnlyWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	admin, err := pgx.Connect(ctx, testdb.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	name := "es_test_ro_" + strings.ReplaceAll(fmt.Sprint(time.Now().UnixNano()), "-", "")
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	empty := pgserver.WithDatabase(testdb.AdminURL(t), name)

	var out, errw strings.Builder
	g := &globals{dbURL: empty, out: &out, errw: &errw, in: strings.NewReader("")}
	st, err := g.openStoreReadOnly(ctx)
	if err == nil {
		st.Close()
		t.Fatal("read-only open of an empty database succeeded")
	}
	if !errors.Is(err, store.ErrSchemaBehind) || !strings.Contains(err.Error(), "eventscope migrate") || exitCode(err) != ExitFailure {
		t.Fatalf("read-only open: %v (exit %d); want ErrSchemaBehind naming eventscope migrate, exit 1", err, exitCode(err))
	}
	conn, err := pgx.Connect(ctx, empty)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var schemas int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = 'eventscope'`).Scan(&schemas); err != nil || schemas != 0 {
		t.Fatalf("read-only open created the schema (%d, %v)", schemas, err)
	}

	// state on a long customer stream with its snapshots gone.
	db := testdb.URL(t)
	if code, _, errs := runCLI(t, nil, "seed", "--customers", "2", "--orders", "200", "--db", db); code != 0 {
		t.Fatalf("seed: %s", errs)
	}
	c2, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close(context.WithoutCancel(ctx))
	var stream string
	if _, err := c2.Exec(ctx, `DELETE FROM eventscope.snapshots`); err != nil {
		t.Fatal(err)
	}
	st2, err := store.Open(ctx, db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	var longest int64 = -1
	for after := ""; ; {
		page, err := st2.ListStreams(ctx, store.ListStreamsOptions{Category: "customer", After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Streams {
			if s.Version > longest {
				stream, longest = s.StreamID, s.Version
			}
		}
		if after = page.Next; after == "" {
			break
		}
	}
	if code, _, errs := runCLI(t, nil, "state", stream, "--db", db); code != 0 {
		t.Fatalf("state: %s", errs)
	}
	var snaps int64
	if err := c2.QueryRow(ctx, `SELECT count(*) FROM eventscope.snapshots`).Scan(&snaps); err != nil {
		t.Fatal(err)
	}
	version, err := st2.StreamVersion(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	if version < 150 {
		t.Fatalf("%s has only %d events: too short to need snapshots", stream, version+1)
	}
	if snaps != 0 {
		t.Fatalf("state stored %d snapshots", snaps)
	}
}

// TestDemoStopsWhatItStarted (issue 8 item 2): after the demo ends, the
// embedded server it started is stopped; one already running is left
// running. Not parallel: it sets the environment.
func TestDemoStopsWhatItStarted(t *testing.T) {
	home := t.TempDir()
	t.Setenv("EVENTSCOPE_HOME", home)
	t.Setenv("DATABASE_URL", "")
	o := pgserver.Options{Home: home}
	t.Cleanup(func() { _ = pgserver.Destroy(context.Background(), o) })
	demo := func() {
		t.Helper()
		code, _, errs := runCLI(t, nil, "demo", "--no-tui", "--duration", "1s", "--customers", "1", "--orders", "2", "--rate", "0", "--every", "200ms")
		if code != 0 {
			t.Fatalf("demo: exit %d: %s", code, errs)
		}
	}
	demo()
	if st, err := pgserver.Status(t.Context(), o); err != nil || st.Running {
		t.Fatalf("after a demo that started it, the embedded server runs: %+v %v", st, err)
	}
	if err := pgserver.Start(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	demo()
	if st, err := pgserver.Status(t.Context(), o); err != nil || !st.Running {
		t.Fatalf("the demo stopped a server that was running before it: %+v %v", st, err)
	}
}

// TestStateAtNeverFoldsALaterEvent (issue 8 item 11): state --at T folds
// only events recorded at or before T, even on a stream whose recorded_at
// decreases (a transaction's start time, as stored before appends kept it
// monotonic): version 1 recorded after T keeps version 2 out too.
func TestStateAtNeverFoldsALaterEvent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := testdb.URL(t)
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	base := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	var notes []storetest.RawEvent
	for v, at := range []time.Time{base, base.Add(2 * time.Minute), base.Add(time.Minute)} {
		notes = append(notes, storetest.RawEvent{Type: "Noted", Data: fmt.Sprintf(`{"v":%d}`, v), RecordedAt: at})
	}
	if err := storetest.RawAppend(ctx, conn, "note-1", notes...); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at   time.Time
		want int
	}{
		{base.Add(90 * time.Second), 0}, // v1 (10:02) is later; v2 (10:01) comes after it
		{base.Add(2 * time.Minute), 2},
		{base, 0},
	} {
		code, out, errs := runCLI(t, nil, "state", "note-1", "--at", c.at.Format(time.RFC3339), "--json", "--db", db)
		if code != 0 {
			t.Fatalf("state --at %s: exit %d: %s", c.at, code, errs)
		}
		var s struct {
			Version int64           `json:"version"`
			State   json.RawMessage `json:"state"`
		}
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatal(err)
		}
		if s.Version != int64(c.want) || !strings.Contains(string(s.State), fmt.Sprintf(`"v": %d`, c.want)) && !strings.Contains(string(s.State), fmt.Sprintf(`"v":%d`, c.want)) {
			t.Errorf("state --at %s = version %d, state %s; want version %d", c.at.Format("15:04:05"), s.Version, s.State, c.want)
		}
	}
	if code, _, errs := runCLI(t, nil, "state", "note-1", "--at", base.Add(-time.Second).Format(time.RFC3339), "--db", db); code != ExitBadInput {
		t.Errorf("state --at before the first event: exit %d (%s), want 2", code, errs)
	}
}
