package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"eventscope/internal/testdb"
	"eventscope/store"
	"eventscope/subscriptions"
)

// cliEnv makes the test binary run the CLI instead of the tests (see
// TestMain), so tests can run eventscope as a real subprocess: signals,
// pipes and SIGKILL included.
const cliEnv = "ES_TEST_RUN_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(cliEnv) == "1" {
		os.Exit(Main(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// cliCommand is eventscope args as a subprocess (the test binary in CLI mode).
func cliCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command(exe, args...)
	c.Env = append(os.Environ(), cliEnv+"=1")
	return c
}

// appendEvents appends n events over streams streams of category cat and
// returns their ids.
func appendEvents(t *testing.T, st *store.Store, cat string, streams, n int) []uuid.UUID {
	t.Helper()
	ids := make([]uuid.UUID, 0, n)
	for i := range n {
		id := uuid.New()
		if _, err := st.Append(t.Context(), fmt.Sprintf("%s-%d", cat, i%streams), store.Any,
			store.NewEvent{ID: id, Type: "Happened", Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// subscriberRun is one subscriber subprocess whose NDJSON lines are read
// into events.
type subscriberRun struct {
	cmd    *exec.Cmd
	events chan store.Event
	done   chan error // the reader's end: nil at EOF
	stderr *strings.Builder
}

func startSubscriber(t *testing.T, db string, args ...string) *subscriberRun {
	t.Helper()
	c := cliCommand(t, append([]string{"subscribe", "--db", db, "--json"}, args...)...)
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &subscriberRun{cmd: c, events: make(chan store.Event, 100000), done: make(chan error, 1), stderr: &strings.Builder{}}
	c.Stderr = r.stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var e store.Event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				r.done <- fmt.Errorf("line %q: %w", sc.Text(), err)
				return
			}
			r.events <- e
		}
		r.done <- sc.Err()
	}()
	return r
}

// collect reads events until stop says so (or a minute passes).
func (r *subscriberRun) collect(t *testing.T, got *[]store.Event, stop func() bool) {
	t.Helper()
	deadline := time.After(time.Minute)
	for !stop() {
		select {
		case e := <-r.events:
			*got = append(*got, e)
		case err := <-r.done:
			t.Fatalf("subscriber output ended early (%v); stderr:\n%s", err, r.stderr)
		case <-deadline:
			t.Fatalf("only %d events after a minute; stderr:\n%s", len(*got), r.stderr)
		}
	}
}

// drain reads the rest of the output up to EOF (what was written before
// the process ended counts as delivered).
func (r *subscriberRun) drain(t *testing.T, got *[]store.Event) {
	t.Helper()
	for {
		select {
		case e := <-r.events:
			*got = append(*got, e)
		case err := <-r.done:
			if err != nil {
				t.Fatal(err)
			}
			for {
				select {
				case e := <-r.events:
					*got = append(*got, e)
				default:
					return
				}
			}
		}
	}
}

// TestSubscribeKilledAndRestarted runs `eventscope subscribe` as a real
// process, SIGKILLs it mid-stream, restarts it, stops it with SIGTERM:
// every event reaches stdout at least once, each stream's events in order
// within a run, redeliveries stay within a batch, and SIGTERM exits 0.
func TestSubscribeKilledAndRestarted(t *testing.T) {
	t.Parallel()
	db := testdb.URL(t)
	st, err := store.Open(t.Context(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const batch = 50
	ids := appendEvents(t, st, "order", 7, 1500)
	appendEvents(t, st, "other", 3, 30) // filtered out

	seen := map[uuid.UUID]int{}
	checkOrder := func(run []store.Event) {
		last := map[string]int64{}
		for _, e := range run {
			if e.Category() != "order" {
				t.Fatalf("filtered-out event %s delivered", e.StreamID)
			}
			if v, ok := last[e.StreamID]; ok && e.Version <= v {
				t.Fatalf("%s: version %d after %d within one run", e.StreamID, e.Version, v)
			}
			last[e.StreamID] = e.Version
			seen[e.EventID]++
		}
	}

	first := startSubscriber(t, db, "pipe-sub", "--category", "order", "--batch", fmt.Sprint(batch))
	var run1 []store.Event
	first.collect(t, &run1, func() bool { return len(run1) >= 600 })
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.drain(t, &run1)
	_ = first.cmd.Wait()
	checkOrder(run1)

	// Live events appended while it is down and while the second run is up.
	live := appendEvents(t, st, "order", 7, 100)
	second := startSubscriber(t, db, "pipe-sub", "--category", "order", "--batch", fmt.Sprint(batch))
	live = append(live, appendEvents(t, st, "order", 7, 100)...)
	ids = append(ids, live...)
	var run2 []store.Event
	second.collect(t, &run2, func() bool {
		return len(run2) > 0 && run2[len(run2)-1].EventID == ids[len(ids)-1]
	})
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	second.drain(t, &run2)
	if err := second.cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v; stderr:\n%s", err, second.stderr)
	}
	checkOrder(run2)

	for i, id := range ids {
		if seen[id] == 0 {
			t.Fatalf("event %d (%s) never written", i, id)
		}
	}
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	if len(seen) != len(ids) || dups > batch {
		t.Fatalf("%d distinct events of %d, %d written twice (at most one batch, %d, may be)", len(seen), len(ids), dups, batch)
	}
	t.Logf("run 1: %d lines, run 2: %d lines, %d redelivered after SIGKILL", len(run1), len(run2), dups)

	// A clean stop saved everything: a third run writes nothing old.
	third := startSubscriber(t, db, "pipe-sub", "--category", "order")
	extra := appendEvents(t, st, "order", 7, 1)
	var run3 []store.Event
	third.collect(t, &run3, func() bool { return len(run3) >= 1 })
	_ = third.cmd.Process.Signal(syscall.SIGINT)
	third.drain(t, &run3)
	if err := third.cmd.Wait(); err != nil {
		t.Fatalf("SIGINT: %v", err)
	}
	if len(run3) != 1 || run3[0].EventID != extra[0] {
		t.Fatalf("after a clean stop the next run wrote %d events (want only the new one)", len(run3))
	}
}

// TestSubscribeHeadEndsIt: `subscribe NAME | head -n 3` ends cleanly when
// head exits, even though the subscriber is idle by then (no further write
// would fail), with exit code 0 and a saved checkpoint.
func TestSubscribeHeadEndsIt(t *testing.T) {
	t.Parallel()
	db := testdb.URL(t)
	st, err := store.Open(t.Context(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	appendEvents(t, st, "order", 2, 10)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sh := exec.Command("bash", "-c", `"$0" subscribe head-sub --json --db "$1" 2>/dev/null | head -n 3; echo "status=${PIPESTATUS[0]}"`, exe, db)
	sh.Env = append(os.Environ(), cliEnv+"=1")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	done := make(chan struct{})
	var out []byte
	go func() { defer close(done); out, err = sh.CombinedOutput() }()
	select {
	case <-done:
	case <-ctx.Done():
		_ = sh.Process.Kill()
		t.Fatal("subscribe | head -n 3 did not end")
	}
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 4 || lines[3] != "status=0" {
		t.Fatalf("want 3 lines and status=0, got:\n%s", out)
	}
	s, err := subscriptions.NewAdmin(st).Get(t.Context(), "head-sub")
	if err != nil {
		t.Fatal(err)
	}
	if s.Checkpoint.IsZero() {
		t.Fatalf("no checkpoint saved: %+v", s)
	}
}

// TestSubscribeCount: --count N stops after exactly N events, with the
// checkpoint right after the N-th, so the next run starts at N+1.
func TestSubscribeCount(t *testing.T) {
	t.Parallel()
	db := testdb.URL(t)
	st, err := store.Open(t.Context(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ids := appendEvents(t, st, "order", 3, 20)
	for _, want := range [][]uuid.UUID{ids[:7], ids[7:12]} {
		code, out, errs := runCLI(t, nil, "subscribe", "count-sub", "--json", "--count", fmt.Sprint(len(want)), "--db", db)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != len(want) {
			t.Fatalf("%d lines, want %d", len(lines), len(want))
		}
		for i, l := range lines {
			var e store.Event
			if err := json.Unmarshal([]byte(l), &e); err != nil || e.EventID != want[i] {
				t.Fatalf("line %d: %q (%v), want event %s", i, l, err, want[i])
			}
		}
	}
}

func TestSubscribeBadInput(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"subscribe"},
		{"subscribe", "a b"},
		{"subscribe", "x", "--from", "yesterday-ish"},
		{"subscribe", "x", "--count", "-1"},
		{"subscribe", "x", "--batch", "0"},
		{"subscribe", "x", "--category", ""},
		{"subscribe", "x", "--members", "-1"},
		{"subscribe", "x", "--members", "2", "--partitions", "0"},
		{"subscribe", "x", "--partitions", "4"},
		{"subscribe", "x#1"},
	} {
		code, _, errs := runCLI(t, nil, append(args, "--db", "postgres://invalid.invalid/x")...)
		if code != ExitBadInput || errs == "" {
			t.Errorf("%v: exit %d (%q), want %d", args, code, errs, ExitBadInput)
		}
	}
}

// TestSubscribeMembers: two subscriber processes, one running two members
// and one running one, share a group of 4 partitions: every event reaches
// one of them, each stream's events in order in each process; "subs list"
// shows the three members, their partitions and lag.
func TestSubscribeMembers(t *testing.T) {
	t.Parallel()
	db := testdb.URL(t)
	st, err := store.Open(t.Context(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ids := appendEvents(t, st, "order", 12, 240)
	a := startSubscriber(t, db, "team", "--members", "2", "--partitions", "4", "--batch", "10")
	b := startSubscriber(t, db, "team", "--members", "1", "--partitions", "4", "--batch", "10")
	procs := []*subscriberRun{a, b}
	for _, p := range procs {
		t.Cleanup(func() { _ = p.cmd.Process.Kill(); _ = p.cmd.Wait() })
	}
	got := make([][]store.Event, 2)
	seen := map[uuid.UUID]bool{}
	deadline := time.Now().Add(time.Minute)
	var status subscriptions.Status
	for {
		for i, p := range procs {
		drain:
			for {
				select {
				case e := <-p.events:
					got[i] = append(got[i], e)
					seen[e.EventID] = true
				default:
					break drain
				}
			}
		}
		code, out, errs := runCLI(t, nil, "subs", "list", "--json", "--db", db)
		if code != 0 {
			t.Fatalf("subs list: exit %d: %s", code, errs)
		}
		if strings.TrimSpace(out) != "" { // NDJSON: one status a line; none before the rows exist
			if err := json.Unmarshal([]byte(out), &status); err != nil {
				t.Fatalf("subs list --json: %v: %s", err, out)
			}
		}
		live, held := 0, 0
		for _, m := range status.Members {
			if m.Live {
				live++
				held += len(m.Partitions)
			}
		}
		if len(seen) == len(ids) && live == 3 && held == 4 && status.Lag == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute: %d of %d events, status %+v; stderr:\n%s\n%s", len(seen), len(ids), status, a.stderr, b.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i, evs := range got {
		last := map[string]int64{}
		for _, e := range evs {
			if v, ok := last[e.StreamID]; ok && e.Version < v {
				t.Fatalf("process %d: %s version %d after %d", i, e.StreamID, e.Version, v)
			}
			last[e.StreamID] = e.Version
		}
	}
	if len(status.Partitions) != 4 || status.Name != "team" {
		t.Fatalf("status %+v: want the group team with 4 partitions", status)
	}
	code, out, _ := runCLI(t, nil, "subs", "list", "--db", db)
	if code != 0 || !strings.Contains(out, "group: 3 members, 4 partitions") || strings.Count(out, "  member ") != 3 || !strings.Contains(out, "partitions ") {
		t.Fatalf("subs list (exit %d):\n%s", code, out)
	}
	t.Logf("subs list:\n%s", out)
	for _, p := range procs {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("after SIGTERM: %v; stderr:\n%s", err, p.stderr)
		}
	}
}
