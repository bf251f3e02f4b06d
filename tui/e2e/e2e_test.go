// Package e2e runs the real eventscope binary in tmux against a seeded
// database and walks the console like a user: overview → streams → filter
// → stream → event → time-travel steps → tail (an event appended from
// outside shows up) → subscriptions (pause one, see it paused) → quit.
//
// It needs tmux (CI installs it); without it the test is skipped. Set
// E2E_CAPTURES=dir to keep a text capture of every step.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"eventscope/internal/pgserver"
	"eventscope/internal/testdb"
)

type term struct {
	t       *testing.T
	sock    string
	session string
	dir     string
	step    int
}

func (tm *term) tmux(args ...string) (string, error) {
	cmd := exec.Command("tmux", append([]string{"-L", tm.sock}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("tmux %v: %v: %s", args, err, errb.String())
	}
	return out.String(), nil
}

func (tm *term) capture() string {
	out, err := tm.tmux("capture-pane", "-p", "-t", tm.session)
	if err != nil {
		return "(capture failed: " + err.Error() + ")"
	}
	return out
}

// send types keys one at a time (tmux key names such as Enter, Escape,
// Left, or single characters), pausing so escape sequences stay apart.
func (tm *term) send(keys ...string) {
	tm.t.Helper()
	for _, k := range keys {
		args := []string{"send-keys", "-t", tm.session}
		if len([]rune(k)) == 1 {
			args = append(args, "-l", k)
		} else {
			args = append(args, k)
		}
		if _, err := tm.tmux(args...); err != nil {
			tm.t.Fatal(err)
		}
		time.Sleep(60 * time.Millisecond)
	}
}

func (tm *term) typeText(s string) {
	tm.t.Helper()
	for _, r := range s {
		tm.send(string(r))
	}
}

// waitFor polls the screen until every text is on it (a generous deadline:
// this waits for the console, it does not time it).
func (tm *term) waitFor(name string, texts ...string) string {
	tm.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var screen string
	for time.Now().Before(deadline) {
		screen = tm.capture()
		ok := true
		for _, s := range texts {
			if !strings.Contains(screen, s) {
				ok = false
				break
			}
		}
		if ok {
			tm.save(name, screen)
			return screen
		}
		time.Sleep(100 * time.Millisecond)
	}
	tm.save(name+"-FAILED", screen)
	tm.t.Fatalf("step %q: %q not on screen after 30s:\n%s", name, texts, screen)
	return ""
}

func (tm *term) save(name, screen string) {
	tm.step++
	if tm.dir == "" {
		return
	}
	_ = os.MkdirAll(tm.dir, 0o755)
	_ = os.WriteFile(filepath.Join(tm.dir, fmt.Sprintf("%02d-%s.txt", tm.step, name)), []byte(screen), 0o644)
}

func moduleRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	return root
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func TestConsoleInTmux(t *testing.T) {
	t.Parallel()
	bin := consoleBinary(t)
	db := testdb.URL(t)
	run(t, bin, "seed", "--db", db, "--customers", "40", "--orders", "400")

	// A worker holds the domain's subscriptions, so there is something to pause.
	worker := exec.Command(bin, "worker", "--db", db, "--quiet")
	var wlog bytes.Buffer
	worker.Stdout, worker.Stderr = &wlog, &wlog
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = worker.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = worker.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = worker.Process.Kill()
		}
		if t.Failed() {
			t.Logf("worker log:\n%s", wlog.String())
		}
	})

	tm := &term{t: t, sock: fmt.Sprintf("es-e2e-%d", os.Getpid()), session: "console", dir: os.Getenv("E2E_CAPTURES")}
	if tm.dir != "" {
		_ = os.MkdirAll(tm.dir, 0o755)
	}
	shell := fmt.Sprintf("%s tui --db '%s'; echo CONSOLE-EXITED $?; sleep 30", bin, db)
	if _, err := tm.tmux("new-session", "-d", "-s", tm.session, "-x", "160", "-y", "48", shell); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = tm.tmux("kill-server") })
	// Let OSC 52 from the application set tmux's paste buffer, to check "y".
	if _, err := tm.tmux("set-option", "-g", "set-clipboard", "on"); err != nil {
		t.Fatal(err)
	}

	// Overview.
	tm.waitFor("overview", "1 Overview", "Events ", "Top event types", "OrderPlaced", "Subscriptions  ")
	// Streams, then the fuzzy filter.
	tm.send("2")
	tm.waitFor("streams", "streams (", "sorted by id", "customer-0001")
	tm.send("/")
	tm.typeText("order-0001")
	tm.waitFor("streams-filter", `matches for "order-0001"`, "▶ order-000100")
	// Stream, then an event.
	tm.send("Enter")
	tm.waitFor("stream", "Streams › order-000100", "OrderPlaced", "showing v0–")
	tm.send("Enter")
	tm.waitFor("event", "order-000100 @ v0  OrderPlaced", "event id", "checkpoint", "Data", "Metadata")
	// y copies the event as JSON through OSC 52.
	tm.send("y")
	tm.waitFor("event-copied", "copied event")
	if buf, err := tm.tmux("show-buffer"); err != nil || !strings.Contains(buf, `"stream_id": "order-000100"`) || !strings.Contains(buf, `"type": "OrderPlaced"`) {
		t.Fatalf("clipboard (tmux buffer) = %q, %v; want the event as JSON", buf, err)
	}
	// Time-travel, stepping.
	tm.send("t")
	tm.waitFor("time-travel-v0", "Order aggregate", "version 0 of", "State after v0", "Changes from the initial state")
	tm.send("l")
	tm.waitFor("time-travel-v1", "version 1 of", "State after v1", "Changes since v0")
	tm.send("h")
	tm.waitFor("time-travel-back", "version 0 of")
	// Tail: an event appended from outside appears. (Digits in time-travel
	// type a version to jump to, so leave it first: esc goes back.)
	tm.send("Escape")
	tm.waitFor("back-from-time-travel", "Streams › order-000100")
	tm.send("4")
	tm.waitFor("tail-open", "following", "(max 10,000 or 64.0 MB)")
	run(t, bin, "append", "--db", db, "e2e-visitor", "E2EHappened", `{"hello":"tmux"}`)
	tm.waitFor("tail-event", "e2e-visitor", "E2EHappened", `{"hello":"tmux"}`)
	// The tail's filter is the query language, plus words over the data.
	run(t, bin, "append", "--db", db, "e2e-visitor", "E2EHappened", `{"hello":"again","n":7}`)
	tm.send("/")
	tm.typeText("data.n > 5 again")
	tm.send("Enter")
	tm.waitFor("tail-filter", "/ data.n > 5 again", "1 of ", `"hello":"again"`)
	tm.send("Escape")
	// Trace: from an event, T shows its correlation as a causation tree.
	tm.send(":")
	tm.typeText("stream order-000100@1")
	tm.send("Enter")
	tm.waitFor("trace-stream", "order-000100", "OrderApproved")
	tm.send("Enter")
	tm.waitFor("trace-event", "order-000100 @ v", "T traces them")
	tm.send("T")
	tm.waitFor("trace", "Trace ", "events in 2 streams", "OrderPlaced", "└ CreditReserved", "◀ this event", "customer-service")
	// Types: the catalog, a type's fields.
	tm.send("6")
	tm.waitFor("types", "Event types", "OrderPlaced", "CreditReserved")
	tm.send("Enter")
	tm.waitFor("types-detail", "types › ", "presence", "field / drift")
	// Query: the language on the server; a malformed one points at the error.
	tm.send(":")
	tm.typeText("query type:OrderPlaced data.total > 1000")
	tm.send("Enter")
	tm.waitFor("query", "query type:OrderPlaced data.total > 1000", "events in global order", "order-0")
	tm.send("/")
	tm.typeText(" data.total >")
	tm.send("Enter")
	tm.waitFor("query-error", "^ expected a value")
	tm.send("Escape")
	// Subscriptions: pause one, see it paused.
	tm.send("5")
	tm.waitFor("subs", "order-summary", "customer-service", "notifications")
	tm.send("/")
	tm.typeText("order-summary")
	tm.send("Enter")
	tm.waitFor("subs-filtered", "▶ order-summary")
	tm.send("p")
	screen := tm.waitFor("subs-paused", "paused order-summary")
	tm.waitFor("subs-paused-row", "▶ order-summary", "paused")
	_ = screen
	// Quit.
	tm.send("q")
	tm.waitFor("quit", "CONSOLE-EXITED 0")
}

// TestReadOnlyWithoutSchemaInTmux (issue 8): tui --read-only on a database
// without the schema prints the error naming eventscope migrate and exits
// 1 before any console is drawn; the schema is not created.
func TestReadOnlyWithoutSchemaInTmux(t *testing.T) {
	t.Parallel()
	bin := consoleBinary(t)
	admin := testdb.AdminURL(t)
	name := fmt.Sprintf("es_test_e2e_ro_%d", time.Now().UnixNano())
	run(t, "psql", admin, "-qc", "CREATE DATABASE "+name)
	t.Cleanup(func() { _ = exec.Command("psql", admin, "-qc", "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)").Run() })
	db := pgserver.WithDatabase(admin, name)
	tm := &term{t: t, sock: fmt.Sprintf("es-e2e-ro-%d", os.Getpid()), session: "ro", dir: os.Getenv("E2E_CAPTURES")}
	shell := fmt.Sprintf("%s tui --read-only --db '%s'; echo CONSOLE-EXITED $?; sleep 30", bin, db)
	if _, err := tm.tmux("new-session", "-d", "-s", tm.session, "-x", "120", "-y", "30", shell); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = tm.tmux("kill-server") })
	screen := tm.waitFor("read-only-no-schema", "CONSOLE-EXITED 1")
	if !strings.Contains(screen, "no eventscope schema") || !strings.Contains(screen, "migrate` with a role") || strings.Contains(screen, "1 Overview") {
		t.Fatalf("want the schema error and no console:\n%s", screen)
	}
	out := run(t, "psql", db, "-Atc", "SELECT count(*) FROM pg_namespace WHERE nspname = 'eventscope'")
	if strings.TrimSpace(out) != "0" {
		t.Fatalf("read-only created the schema: %s", out)
	}
}
