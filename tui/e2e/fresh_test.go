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
