package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"eventscope/internal/testdb"
)

// TestReadDBInTmux (issue 13): the console started with --read-db on a
// real hot standby (pg_basebackup -R) says in its header that it reads a
// replica and how far behind the primary it is — caught up, then behind
// while the standby's replay is paused and the primary takes an append,
// then caught up again — and an admin action from it (pause) lands on the
// primary.
func TestReadDBInTmux(t *testing.T) {
	t.Parallel()
	bin := consoleBinary(t)
	primary, standby := testdb.Replica(t)
	run(t, bin, "append", "--db", primary, "order-1", "OrderPlaced", `{"total":1}`)
	// A subscription (made on the primary) to pause from the console.
	run(t, bin, "subscribe", "e2e-reader", "--json", "--count", "1", "--db", primary, "--read-db", standby)

	tm := &term{t: t, sock: fmt.Sprintf("es-e2e-readdb-%d", os.Getpid()), session: "readdb", dir: os.Getenv("E2E_CAPTURES")}
	shell := fmt.Sprintf("%s tui --db '%s' --read-db '%s'; echo CONSOLE-EXITED $?; sleep 30", bin, primary, standby)
	if _, err := tm.tmux("new-session", "-d", "-s", tm.session, "-x", "160", "-y", "40", shell); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = tm.tmux("kill-server") })
	tm.waitFor("readdb-overview", "1 Overview", "Events 1", "replica · caught up")

	run(t, "psql", standby, "-qc", "SELECT pg_wal_replay_pause()")
	run(t, bin, "append", "--db", primary, "order-2", "OrderPlaced", `{"total":2}`)
	tm.waitFor("readdb-behind", "s behind")
	run(t, "psql", standby, "-qc", "SELECT pg_wal_replay_resume()")
	tm.waitFor("readdb-caught-up", "Events 2", "replica · caught up")

	// Admin goes to the primary (the standby would refuse the write).
	tm.send("5")
	tm.waitFor("readdb-subs", "e2e-reader")
	tm.send("/")
	tm.typeText("e2e-reader")
	tm.send("Enter")
	tm.waitFor("readdb-subs-filtered", "▶ e2e-reader")
	tm.send("p")
	tm.waitFor("readdb-paused", "paused e2e-reader")
	out := run(t, bin, "subs", "list", "--db", primary)
	paused := false
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "e2e-reader") && strings.Contains(l, "paused") {
			paused = true
		}
	}
	if !paused {
		t.Fatalf("the pause did not reach the primary:\n%s", out)
	}
	tm.send("q")
	tm.waitFor("readdb-quit", "CONSOLE-EXITED 0")
}
