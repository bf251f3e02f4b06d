package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"eventscope/internal/testdb"
)

// TestForgetInTmux: a seeded customer's registration names its personal
// field; F, typing the subject and enter forget it; the event then shows
// the name erased, and the CLI reads it as null too.
func TestForgetInTmux(t *testing.T) {
	t.Parallel()
	bin := consoleBinary(t)
	db := testdb.URL(t)
	run(t, bin, "seed", "--db", db, "--customers", "12", "--orders", "30")
	before := run(t, bin, "read", "customer-0003", "--limit", "1", "--db", db)

	tm := &term{t: t, sock: fmt.Sprintf("es-e2e-forget-%d", os.Getpid()), session: "console", dir: os.Getenv("E2E_CAPTURES")}
	shell := fmt.Sprintf("%s tui --db '%s'; echo CONSOLE-EXITED $?; sleep 30", bin, db)
	if _, err := tm.tmux("new-session", "-d", "-s", tm.session, "-x", "160", "-y", "48", shell); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = tm.tmux("kill-server") })
	tm.waitFor("overview", "1 Overview", "Events ")
	tm.send("2")
	tm.waitFor("streams", "streams (", "customer-0001")
	tm.send("/")
	tm.typeText("customer-0003")
	tm.waitFor("streams-filter", "▶ customer-0003")
	tm.send("Enter")
	tm.waitFor("stream", "Streams › customer-0003", "CustomerRegistered")
	tm.send("Enter")
	tm.waitFor("event", "customer-0003 @ v0  CustomerRegistered", "personal    name of customer-0003")
	tm.send("F")
	tm.waitFor("confirm", "Forget customer-0003", "Type customer-0003 to confirm")
	tm.typeText("customer-0002") // the wrong subject is refused
	tm.send("Enter")
	tm.waitFor("confirm-wrong", "that is not the name")
	for range len("customer-0002") {
		tm.send("BSpace")
	}
	tm.typeText("customer-0003")
	tm.send("Enter")
	tm.waitFor("forgotten", "forgot customer-0003", "personal    ERASED name", `"name": null`)
	tm.send("q")
	tm.waitFor("quit", "CONSOLE-EXITED 0")

	after := run(t, bin, "read", "customer-0003", "--limit", "1", "--db", db)
	if !strings.Contains(after, `"name":null`) || strings.Contains(before, `"name":null`) {
		t.Fatalf("read before %q, after %q", before, after)
	}
}
