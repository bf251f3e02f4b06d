package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"eventscope/internal/testdb"
)

// startConsole builds the binary, seeds a small database, starts a worker
// with extra flags, and opens the console in tmux (cols×rows).
func startConsole(t *testing.T, name string, cols, rows int, workerArgs ...string) (tm *term, bin, db string) {
	t.Helper()
	return startConsoleOn(t, name, cols, rows, "", workerArgs...)
}

// startConsoleOn is startConsole on the database db ("": a fresh one on
// the shared server; a private cluster's is migrated first).
func startConsoleOn(t *testing.T, name string, cols, rows int, db string, workerArgs ...string) (tm *term, bin, _ string) {
	t.Helper()
	bin = consoleBinary(t)
	if db == "" {
		db = testdb.URL(t)
	} else {
		run(t, bin, "migrate", "--db", db)
	}
	run(t, bin, "seed", "--db", db, "--customers", "10", "--orders", "60")
	worker := exec.Command(bin, append([]string{"worker", "--db", db, "--quiet"}, workerArgs...)...)
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
	tm = &term{t: t, sock: fmt.Sprintf("es-%s-%d", name, os.Getpid()), session: "console", dir: os.Getenv("E2E_CAPTURES")}
	shell := fmt.Sprintf("%s tui --db '%s'; echo CONSOLE-EXITED $?; sleep 30", bin, db)
	if _, err := tm.tmux("new-session", "-d", "-s", tm.session, "-x", fmt.Sprint(cols), "-y", fmt.Sprint(rows), shell); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = tm.tmux("kill-server") })
	if _, err := tm.tmux("set-option", "-g", "set-clipboard", "on"); err != nil {
		t.Fatal(err)
	}
	tm.waitFor(name+"-overview", "1 Overview", "Events ")
	return tm, bin, db
}

// TestWhyBehindInTmux (issue 14, items 10 and 12): the subscription detail
// says in one line why it is behind — paused since when; a parked event
// opens in full (its error, first and last failure, every attempt) and y
// copies it; the event's own view shows, per subscription, handled,
// pending or parked with the error.
func TestWhyBehindInTmux(t *testing.T) {
	t.Parallel()
	tm, bin, db := startConsole(t, "why", 120, 40, "--permanent-rate", "1", "--transient-rate", "0")
	// notifications starts at the head of the log when the worker creates
	// it; another test's open transaction can hold that head back over the
	// seeded events, so move it there once it exists.
	// (The head is the newest deliverable event: on a shared server it can
	// lag behind the seed for a while, so repeat until nothing is pending.)
	resetToEnd(t, bin, db, "notifications")
	tm.send(":")
	tm.typeText("sub order-summary")
	tm.send("Enter")
	tm.waitFor("order-summary", "order-summary  ", "why up to date")
	run(t, bin, "subs", "pause", "order-summary", "--db", db)
	run(t, bin, "append", "--db", db, "order-e2ewhy", "OrderShipped", `{"orderId":"e2ewhy"}`)
	tm.waitFor("why-paused", "why behind ", "(1 event): paused since ", " ago)")

	// notifications fails every event: the one appended is retried, then parked.
	tm.send(":")
	tm.typeText("sub notifications")
	tm.send("Enter")
	tm.waitFor("notifications-parked", "notifications  ", "why up to date · ", " parked", "order-e2ewhy")
	tm.send("G") // the newest parked event is the last
	tm.send("Enter")
	tm.waitFor("parked-details", "Parked event order-e2ewhy@0 OrderShipped of notifications", "first failure  20", "last failure   20",
		"attempts       5", "Last error", "mailbox rejected the message (permanent)", "Attempts (5 kept, oldest first)", "#1  ", "#5  ")
	tm.send("y")
	tm.waitFor("parked-copied", "copied the error and 5 attempts of order-e2ewhy@0")
	if buf, err := tm.tmux("show-buffer"); err != nil || !strings.Contains(buf, "first failure") || !strings.Contains(buf, "#5  ") {
		t.Fatalf("clipboard (tmux buffer) = %q, %v; want the parked event's details", buf, err)
	}
	// Item 12: the event itself shows where it stands for each subscription.
	tm.send("Enter")
	tm.waitFor("event-deliveries", "order-e2ewhy @ v0  OrderShipped", "Subscriptions  (those whose filter takes this event)",
		"✗ parked after 5 attempts", "mailbox rejected the message", "order-summary", "… pending (paused)")
	tm.send("Escape")
	tm.waitFor("back-to-details", "Parked event order-e2ewhy@0")
	tm.send("Escape")
	tm.waitFor("parked-closed", "Parked events  enter details")
	tm.send("q")
	tm.waitFor("quit", "CONSOLE-EXITED 0")
}

// resetToEnd moves subscription name to the head once it exists, until
// nothing after its checkpoint is pending.
func resetToEnd(t *testing.T, bin, db, name string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := exec.Command(bin, "subs", "reset", name, "--to", "end", "--db", db).CombinedOutput()
		if err == nil {
			show, err := exec.Command(bin, "subs", "show", name, "--json", "--db", db).Output()
			if err == nil && !strings.Contains(string(show), `"oldest":`) {
				break
			}
			out = show
		}
		if time.Now().After(deadline) {
			t.Fatalf("subs reset %s: %v\n%s", name, err, out)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
