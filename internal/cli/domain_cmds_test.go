package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"eventscope/internal/testdb"
	"eventscope/store"
)

func eventCount(t *testing.T, db string) int64 {
	t.Helper()
	st := testdb.Open(t, db, store.Options{})
	s, err := st.Stats(context.Background(), store.StatsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s.Events
}

// TestDomainCommands: seed a small history, time-travel it with state, run
// live traffic, and check that bad flags fail with clear errors, the right
// exit code, and no change to the database.
func TestDomainCommands(t *testing.T) {
	t.Parallel()
	db := testdb.URL(t)
	code, out, errs := runCLI(t, nil, "seed", "--customers", "20", "--orders", "300", "--seed", "3", "--json", "--db", db)
	if code != 0 {
		t.Fatalf("seed: exit %d: %s", code, errs)
	}
	var res struct {
		Events int64 `json:"events"`
		Orders int   `json:"orders"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Orders != 300 || res.Events < 1000 {
		t.Fatalf("seed --json printed %q (%v)", out, err)
	}
	if !strings.Contains(errs, "seeding:") {
		t.Fatalf("no progress lines on a non-terminal: %q", errs)
	}
	before := eventCount(t, db)
	if before != res.Events {
		t.Fatalf("seed says %d events, the store holds %d", res.Events, before)
	}

	// time-travel
	code, out, errs = runCLI(t, nil, "state", "order-000001", "--version", "1", "--diff", "--db", db)
	if code != 0 || !strings.Contains(out, "order-000001 at version 1 of") || !strings.Contains(out, `~ status: "pending" -> `) {
		t.Fatalf("state --diff: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = runCLI(t, nil, "state", "order-000001", "--version", "0", "--diff", "--json", "--db", db)
	var js struct {
		Stream    string `json:"stream"`
		Version   int64  `json:"version"`
		Aggregate string `json:"aggregate"`
		Event     struct {
			Type string `json:"type"`
		} `json:"event"`
		Changes []struct {
			Path string `json:"path"`
			Kind string `json:"kind"`
		} `json:"changes"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &js) != nil || js.Aggregate != "Order" || js.Event.Type != "OrderPlaced" || len(js.Changes) == 0 {
		t.Fatalf("state --json --diff: exit %d: %s", code, out)
	}
	code, out, _ = runCLI(t, nil, "state", "customer-0001", "--at", "now", "--db", db)
	if code != 0 || !strings.Contains(out, "(Customer;") || !strings.Contains(out, `"creditLimit"`) {
		t.Fatalf("state --at now: exit %d: %s", code, out)
	}
	if _, err := runCLIAppend(t, db); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, nil, "state", "invoice-1", "--db", db)
	if code != 0 || !strings.Contains(out, "generic fold") || !strings.Contains(out, `"paid": true`) {
		t.Fatalf("state of an unregistered category: exit %d: %s", code, out)
	}
	before = eventCount(t, db)

	bad := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"negative customers", []string{"seed", "--customers", "-1"}, 2, "--customers must be >= 0, got -1"},
		{"negative orders", []string{"seed", "--orders", "-5"}, 2, "--orders must be >= 0, got -5"},
		{"orders without customers", []string{"seed", "--customers", "0", "--orders", "5"}, 2, "needs customers"},
		{"seeded already", []string{"seed", "--customers", "20", "--orders", "300", "--seed", "3"}, 2, "already seeded"},
		{"live without rate", []string{"seed", "--live", "--rate", "0"}, 2, "--rate must be > 0"},
		{"rate without live", []string{"seed", "--rate", "5"}, 2, "go with --live"},
		{"negative bench", []string{"seed", "--bench", "-1"}, 2, "--bench must be > 0"},
		{"state without stream", []string{"state"}, 2, "accepts 1 arg"},
		{"unknown stream", []string{"state", "order-nope"}, 4, "stream order-nope not found"},
		{"version past the end", []string{"state", "order-000001", "--version", "99"}, 2, "has no version 99: the last version is"},
		{"version not a number", []string{"state", "order-000001", "--version", "two"}, 2, `--version: "two" is not a version number`},
		{"negative version", []string{"state", "order-000001", "--version", "-1"}, 2, "is negative"},
		{"unparsable time", []string{"state", "order-000001", "--at", "yesterday-ish"}, 2, `--at: "yesterday-ish" is not a time`},
		{"time before the stream", []string{"state", "order-000001", "--at", "2001-01-01"}, 2, "no event recorded at or before 2001-01-01"},
		{"version and time", []string{"state", "order-000001", "--version", "1", "--at", "now"}, 2, "exclusive"},
		{"bad stream id", []string{"state", "order 1"}, 2, "whitespace"},
		{"worker rate out of range", []string{"worker", "--transient-rate", "2"}, 2, "--transient-rate must be within 0..1"},
		{"demo negative rate", []string{"demo", "--rate", "-1"}, 2, "--rate must be >= 0"},
		{"demo negative orders", []string{"demo", "--orders", "-1"}, 2, "--orders must be >= 0"},
	}
	for _, c := range bad {
		code, out, errs := runCLI(t, nil, append(c.args, "--db", db)...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q (stdout %q)", c.name, code, errs, c.code, c.msg, out)
		}
	}
	if after := eventCount(t, db); after != before {
		t.Fatalf("bad commands changed the store: %d -> %d events", before, after)
	}

	// live traffic runs the domain's commands
	code, out, errs = runCLI(t, nil, "seed", "--live", "--rate", "100", "--duration", "1500ms", "--json", "--db", db)
	var ls struct {
		Placed int64 `json:"placed"`
		Errors int64 `json:"errors"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &ls) != nil || ls.Placed == 0 || ls.Errors != 0 {
		t.Fatalf("seed --live: exit %d: %s %s", code, out, errs)
	}
}

func runCLIAppend(t *testing.T, db string) (string, error) {
	for _, d := range []string{`{"amount":100,"paid":false}`, `{"paid":true}`} {
		if code, _, errs := runCLI(t, nil, "append", "invoice-1", "InvoiceChanged", d, "--db", db); code != 0 {
			t.Fatalf("append: %s", errs)
		}
	}
	return "", nil
}

// TestDemoSummary: demo without a terminal seeds an empty database, runs
// the worker and live traffic, prints the summary and stops cleanly.
func TestDemoSummary(t *testing.T) {
	t.Parallel()
	db := testdb.URL(t)
	code, out, errs := runCLI(t, nil, "demo", "--no-tui", "--customers", "30", "--orders", "500", "--rate", "40", "--duration", "6s", "--every", "1s", "--db", db)
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"eventscope demo on", "seeded in", "customer-service", "order-summary", "live: placed", "demo stopped"} {
		if !strings.Contains(out, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out)
		}
	}
	// a second run continues: no second seed
	code, out, _ = runCLI(t, nil, "demo", "--no-tui", "--rate", "0", "--duration", "1500ms", "--every", "500ms", "--db", db)
	if code != 0 || strings.Contains(out, "seeding") {
		t.Fatalf("second demo: exit %d:\n%s", code, out)
	}
	_ = time.Second
}
