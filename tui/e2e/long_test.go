package e2e

import (
	"strings"
	"testing"
)

// TestLongContentAndReferencesInTmux (issue 14, items 5 and 11) on 80
// columns: a data value naming a stream is marked and enter opens that
// stream; a long data line is cut with … and w wraps it; the
// Subscriptions table keeps parked, holder and last error; time-travel
// stacks the event pane under the state.
func TestLongContentAndReferencesInTmux(t *testing.T) {
	t.Parallel()
	tm, bin, db := startConsole(t, "long", 80, 30)
	long := strings.Repeat("abcdefghij", 12) + "END"
	run(t, bin, "append", "--db", db, "customer-e2elong", "CustomerRegistered", `{"name":"Long Ltd"}`)
	run(t, bin, "append", "--db", db, "parcel-e2elong", "ParcelPacked", `{"customerId":"e2elong","orderId":"e2enone","note":"`+long+`"}`)

	tm.send(":")
	tm.typeText("stream parcel-e2elong")
	tm.send("Enter")
	tm.waitFor("long-stream", "parcel-e2elong · 1 event")
	tm.send("Enter")
	// (jsonb orders the keys: note, orderId, customerId)
	screen := tm.waitFor("long-event", "parcel-e2elong @ v0  ParcelPacked", `▸ "orderId": "e2enone",  ↵ order-e2enone`, `"customerId": "e2elong"  →`)
	if strings.Contains(screen, "END") || !strings.Contains(screen, `"note": "abcdefghij`) {
		t.Fatalf("the long line is not cut:\n%s", screen)
	}
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, `"note"`) && !strings.HasSuffix(strings.TrimRight(l, " "), "…") {
			t.Fatalf("the cut line does not end in …: %q", l)
		}
	}
	tm.send("w")
	tm.waitFor("long-wrapped", `"note": "abcdefghij`, `END"`)
	tm.send("w")
	tm.send("Enter") // orderId names no stream
	tm.waitFor("long-no-stream", "no stream order-e2enone exists")
	tm.send("n")
	tm.waitFor("long-next-ref", `▸ "customerId": "e2elong"  ↵ customer-e2elong`)
	tm.send("Enter")
	tm.waitFor("long-followed", "customer-e2elong · 1 event", "CustomerRegistered")

	tm.send("5")
	tm.waitFor("long-subs", "parked", "holder", "last error", "notifications")

	tm.send(":")
	tm.typeText("state parcel-e2elong")
	tm.send("Enter")
	screen = tm.waitFor("long-timetravel", "State after v0", "Event v0  ParcelPacked")
	if strings.Index(screen, "Event v0  ParcelPacked") < strings.Index(screen, "State after v0") {
		t.Fatalf("the event pane is not stacked under the state:\n%s", screen)
	}
	tm.send("q")
	tm.waitFor("quit", "CONSOLE-EXITED 0")
}
