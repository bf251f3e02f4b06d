package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"eventscope/internal/testdb"
	"eventscope/store/storetest"
)

// TestDeepEventStallsNoCommand (issue 8 item 3): an event nested deeper than
// Go's JSON decoder takes (10,000 levels; PostgreSQL takes ~14,000), stored
// before the SQL API refused it, stalls none of read --all (table and
// --json), tail --count and state: each shows it (the stored bytes, or
// marked as not decodable) and goes on to the events after it.
func TestDeepEventStallsNoCommand(t *testing.T) {
	t.Parallel()
	db := testdb.URL(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if code, _, errs := runCLI(t, nil, "append", "deep-1", "Before", `{"n":1}`, "--db", db); code != 0 {
		t.Fatalf("append: %s", errs)
	}
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	const depth = 11000
	deep := `{"a":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
	if err := storetest.RawAppend(ctx, conn, "deep-1", storetest.RawEvent{Type: "Deep", Data: deep}); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, nil, "append", "deep-1", "After", `{"n":3}`, "--db", db); code != 0 {
		t.Fatalf("append: %s", errs)
	}
	waitVisible(t, db, 3)
	for _, args := range [][]string{
		{"read", "--all"}, {"read", "--all", "--json"},
		{"read", "deep-1"}, {"read", "deep-1", "--json"},
		{"tail", "--from", "start", "--count", "3"}, {"tail", "--from", "start", "--count", "3", "--json"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errw strings.Builder
			code := run(ctx, append(args, "--db", db), strings.NewReader(""), &out, &errw)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errw.String())
			}
			o := out.String()
			for _, typ := range []string{"Before", "Deep", "After"} {
				if !strings.Contains(o, typ) {
					t.Fatalf("%s is not shown:\n%.400s\nstderr: %s", typ, o, errw.String())
				}
			}
			if strings.HasSuffix(args[len(args)-1], "json") {
				lines := strings.Split(strings.TrimSpace(o), "\n")
				if len(lines) != 3 {
					t.Fatalf("%d lines, want 3", len(lines))
				}
				for _, l := range lines {
					var e struct{ Type string }
					// One line per event, each a JSON object: the deep one
					// is valid JSON too, only deeper than Go decodes.
					if !json.Valid([]byte(l)) && !strings.Contains(l, `"type":"Deep"`) {
						t.Fatalf("not JSON: %.200s", l)
					}
					_ = json.Unmarshal([]byte(l), &e)
				}
				if !strings.Contains(lines[1], strings.Repeat("[", 100)) {
					t.Fatalf("the deep event's data is not shown as stored: %.300s", lines[1])
				}
			}
		})
	}
	// state folds the stream (a generic merge fold): the deep event cannot
	// be decoded, so state says which one and how, and does not stall.
	for _, args := range [][]string{{"state", "deep-1"}, {"state", "deep-1", "--json"}, {"state", "deep-1", "--version", "1", "--diff"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errw strings.Builder
			code := run(ctx, append(args, "--db", db), strings.NewReader(""), &out, &errw)
			if ctx.Err() != nil {
				t.Fatal("stalled")
			}
			o, e := out.String(), errw.String()
			if code != 0 {
				t.Fatalf("exit %d: %s", code, e)
			}
			if !strings.Contains(e, "version 1 (Deep) not folded") || !strings.Contains(e, "10,000 levels") {
				t.Fatalf("no clear message on stderr: %q", e)
			}
			if args[len(args)-1] == "--json" {
				var s struct {
					Version     int64           `json:"version"`
					State       json.RawMessage `json:"state"`
					Undecodable []struct {
						Version int64 `json:"version"`
					} `json:"undecodable"`
				}
				if err := json.Unmarshal([]byte(o), &s); err != nil {
					t.Fatalf("%v: %.300s", err, o)
				}
				if s.Version != 2 || string(s.State) != `{"n":3}` || len(s.Undecodable) != 1 || s.Undecodable[0].Version != 1 {
					t.Fatalf("state --json: %.300s", o)
				}
			} else if !strings.Contains(o, "not folded: version 1 Deep") {
				t.Fatalf("the state does not say what it passed over:\n%.600s", o)
			}
		})
	}
}
