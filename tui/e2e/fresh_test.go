package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"eventscope/internal/testdb"
)

// holdTransaction opens a transaction that takes a transaction id and
// keeps it open: the global log's horizon stops below it, so events
// committed after it wait. It returns the backend's pid and the release.
func holdTransaction(t *testing.T, db string) (pid int, release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var xid string
	if err := tx.QueryRow(ctx, `SELECT pg_backend_pid(), pg_current_xact_id()::text`).Scan(&pid, &xid); err != nil {
		t.Fatal(err)
	}
	done := false
	release = func() {
		if !done {
			done = true
			_ = tx.Rollback(ctx)
			_ = conn.Close(ctx)
		}
	}
	t.Cleanup(release)
	return pid, release
}

// TestHeldBackInTmux (issue 14 item 6): while an open transaction holds
// the log back, Subscriptions and Tail say "held back" with the pid instead
// of "live" at lag 0; when it ends they are live again and the event that
// waited shows. (A private cluster: the horizon is cluster-wide.)
func TestHeldBackInTmux(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: skipping the tmux end-to-end test")
	}
	srv, _ := testdb.Private(t)
	tm, bin, db := startConsoleOn(t, "heldback", 140, 40, srv.URL(), "--permanent-rate", "0", "--transient-rate", "0")
	tm.send("5")
	tm.waitFor("subs-live", "order-summary", " live ")
	pid, release := holdTransaction(t, db)
	run(t, bin, "append", "--db", db, "order-heldback", "OrderShipped", `{"orderId":"heldback"}`)
	held := fmt.Sprintf("held back by pid %d for ", pid)
	screen := tm.waitFor("subs-held-back", held, "1 committed event waits")
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, "order-summary") && (strings.Contains(l, " live ") || !strings.Contains(l, "held back")) {
			t.Fatalf("order-summary's row %q: want held back, not live", l)
		}
	}
	tm.send("4")
	screen = tm.waitFor("tail-held-back", held, "1 committed event waits")
	if strings.Contains(screen, "· live") {
		t.Fatalf("the tail says live while held back:\n%s", screen)
	}
	release()
	tm.waitFor("tail-released", "· live", "order-heldback")
	tm.send("5")
	deadline := time.Now().Add(30 * time.Second)
	for {
		screen = tm.capture()
		if !strings.Contains(screen, "held back") && strings.Contains(screen, " live ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still held back after the transaction ended:\n%s", screen)
		}
		time.Sleep(200 * time.Millisecond)
	}
	tm.send("q")
	tm.waitFor("quit", "CONSOLE-EXITED 0")
}

// TestParkedRetryOutcomeInTmux (issue 14 item 6): after t on a parked
// event the list shows the outcome by itself, without r: the event is
// marked queued, then (its handler fails it again) it is back with ten
// attempts and a flash says it was parked again.
func TestParkedRetryOutcomeInTmux(t *testing.T) {
	t.Parallel()
	tm, bin, db := startConsole(t, "retry", 140, 40, "--permanent-rate", "1", "--transient-rate", "0")
	resetToEnd(t, bin, db, "notifications")
	run(t, bin, "append", "--db", db, "order-e2eretry", "OrderShipped", `{"orderId":"e2eretry"}`)
	tm.send(":")
	tm.typeText("sub notifications")
	tm.send("Enter")
	tm.waitFor("parked", "notifications  ", "order-e2eretry")
	// The parked row (not the why line, which names the event while it is
	// retried): its stream, type and tries.
	parkedRow := func(screen string) string { return rowWith(screen, "order-e2eretry ", "OrderShipped") }
	waitRow := func(name string, ok func(row string) bool) string {
		deadline := time.Now().Add(30 * time.Second)
		for {
			screen := tm.capture()
			if ok(parkedRow(screen)) {
				tm.save(name, screen)
				return parkedRow(screen)
			}
			if time.Now().After(deadline) {
				t.Fatalf("step %q: parked row %q\n%s", name, parkedRow(screen), screen)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitRow("parked-5", func(row string) bool { return strings.Contains(row, " 5 ") })
	tm.send("t")
	tm.waitFor("retry-queued", "queued parked event ")
	// Without r: the row comes back with ten tries, and the flash says so.
	waitRow("parked-again", func(row string) bool { return strings.Contains(row, " 10 ") && !strings.Contains(row, "retry queued") })
	tm.waitFor("retry-outcome", "retried the parked event of notifications: 0 delivered, 1 parked again")
	tm.send("q")
	tm.waitFor("quit", "CONSOLE-EXITED 0")
}

// rowWith is the first line of screen holding every one of texts.
func rowWith(screen string, texts ...string) string {
	for _, l := range strings.Split(screen, "\n") {
		ok := true
		for _, s := range texts {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			return l
		}
	}
	return ""
}

func lineWith(screen, s string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// TestStreamsByUpdateMoveInTmux (issue 14 item 6): sorted by last update,
// the Streams list re-reads itself: a stream appended to from outside
// moves to the top without a key, and the selection stays on the stream
// it was on (not on the row number).
func TestStreamsByUpdateMoveInTmux(t *testing.T) {
	t.Parallel()
	tm, bin, db := startConsole(t, "byupdate", 140, 40)
	tm.send("2")
	tm.waitFor("streams", "sorted by id", "customer-0001")
	tm.send("s")
	tm.send("s")
	screen := tm.waitFor("by-update", "sorted by last update, newest first", "updated ")
	tm.send("j")
	tm.send("j")
	screen = tm.waitFor("selected", "▶ ")
	sel := strings.Fields(strings.TrimPrefix(strings.TrimSpace(lineWith(screen, "▶ ")), "▶"))[0]
	target := "customer-0007"
	if sel == target {
		target = "customer-0008"
	}
	if first := firstRow(screen); strings.Contains(first, target) {
		t.Fatalf("%s is already on top:\n%s", target, screen)
	}
	run(t, bin, "append", "--db", db, target, "CustomerNoted", `{"note":"moved"}`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		screen = tm.capture()
		if strings.Contains(firstRow(screen), target) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not move to the top by itself:\n%s", target, screen)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if l := lineWith(screen, "▶ "); !strings.Contains(l, sel+" ") {
		t.Fatalf("the selection left %s: %q\n%s", sel, l, screen)
	}
	tm.send("q")
	tm.waitFor("quit", "CONSOLE-EXITED 0")
}

// firstRow is the first row of the table under its header (the line after
// the one holding "last update" as a column title).
func firstRow(screen string) string {
	lines := strings.Split(screen, "\n")
	for i, l := range lines {
		if strings.Contains(l, "stream ") && strings.Contains(l, "category") && strings.Contains(l, "last update") && i+1 < len(lines) {
			return lines[i+1]
		}
	}
	return ""
}
