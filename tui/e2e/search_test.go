package e2e

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"eventscope/internal/testdb"
)

// TestStreamSearchInTmux (issue 14, item 4) with the keys on the
// default seed: in customer-0001, after G, "/000032" finds v4 (the
// CreditLimitExceeded of order 000032), far before the loaded window,
// because the search runs over every version on the server; n/N step
// between the matches of another search; an unknown key says which keys
// there are; esc ends the search.
func TestStreamSearchInTmux(t *testing.T) {
	t.Parallel()
	bin := consoleBinary(t)
	db := testdb.URL(t)
	run(t, bin, "seed", "--db", db) // the demo's seed: customer-0001 holds 10,000+ events
	tm := &term{t: t, sock: fmt.Sprintf("es-search-%d", os.Getpid()), session: "console", dir: os.Getenv("E2E_CAPTURES")}
	shell := fmt.Sprintf("%s tui --db '%s'; echo CONSOLE-EXITED $?; sleep 30", bin, db)
	if _, err := tm.tmux("new-session", "-d", "-s", tm.session, "-x", "120", "-y", "40", shell); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = tm.tmux("kill-server") })
	tm.waitFor("search-overview", "1 Overview", "Events ")

	tm.send(":")
	tm.typeText("stream customer-0001")
	tm.send("Enter")
	tm.waitFor("search-stream", "customer-0001 · ", "events · version", "showing v0–")
	tm.send("G")
	// the window moves to the end: wait until it no longer starts at v0
	end := regexp.MustCompile(`showing v[1-9]\d*–`)
	deadline := time.Now().Add(30 * time.Second)
	for screen := tm.capture(); !end.MatchString(screen); screen = tm.capture() {
		if time.Now().After(deadline) {
			t.Fatalf("G did not load the end of the stream:\n%s", screen)
		}
		time.Sleep(100 * time.Millisecond)
	}
	tm.save("search-end", tm.capture())

	tm.send("/")
	tm.typeText("000032")
	screen := tm.waitFor("search-found", "match 1 of 1 in the stream", "showing v0–")
	if !cursorOn(screen, "4", "CreditLimitExceeded", "000032") {
		t.Fatalf("the cursor is not on v4:\n%s", screen)
	}
	tm.send("Enter")
	tm.send("Escape")
	tm.waitFor("search-cleared", "/ search every version")

	tm.send("/")
	tm.typeText("type:CreditLimitExceeded")
	tm.send("Enter")
	screen = tm.waitFor("search-type", "match 1 of ", "in the stream")
	total := regexp.MustCompile(`match 1 of ([\d,]+) in the stream`).FindStringSubmatch(screen)[1]
	if total == "1" {
		t.Fatalf("the seed has one CreditLimitExceeded in customer-0001:\n%s", screen)
	}
	tm.send("n")
	tm.waitFor("search-n", "match 2 of "+total)
	tm.send("n")
	tm.waitFor("search-nn", "match 3 of "+total)
	tm.send("N")
	screen = tm.waitFor("search-N", "match 2 of "+total)
	if !cursorOn(screen, "", "CreditLimitExceeded", "") {
		t.Fatalf("N is not on a CreditLimitExceeded:\n%s", screen)
	}
	tm.send("N", "N")
	tm.waitFor("search-wrapped", "match "+total+" of "+total, "wrapped to the last")

	tm.send("Escape", "/")
	tm.typeText("kind:x")
	tm.waitFor("search-unknown-key", `unknown key "kind"`, "type:, cat:, stream:")
	tm.send("Escape")
	tm.waitFor("search-gone", "/ search every version")
	tm.send("q")
	tm.waitFor("quit", "CONSOLE-EXITED 0")
}

// cursorOn reports that the screen's selected row (marked ▶) is version v
// (any when "") of type typ holding text.
func cursorOn(screen, v, typ, text string) bool {
	for _, l := range strings.Split(screen, "\n") {
		if !strings.Contains(l, "▶") {
			continue
		}
		f := strings.Fields(strings.SplitN(l, "▶", 2)[1])
		return len(f) >= 2 && (v == "" || f[0] == v) && f[1] == typ && strings.Contains(l, text)
	}
	return false
}
