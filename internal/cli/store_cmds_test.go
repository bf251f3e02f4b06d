package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"eventscope/internal/testdb"
	"eventscope/store"
)

// TestStoreCommands walks append → read → streams → stats → close end to end.
func TestStoreCommands(t *testing.T) {
	t.Parallel()
	db := testdb.URL(t)

	code, out, errs := runCLI(t, nil, "append", "order-1", "OrderPlaced", `{"total":10}`, "--db", db)
	if code != 0 || strings.TrimSpace(out) != "0" {
		t.Fatalf("append: exit %d, out %q, err %q", code, out, errs)
	}
	code, out, _ = runCLI(t, strings.NewReader(`{"sku":"A"}`), "append", "order-1", "ItemAdded", "-", "--expected-version", "0", "--json", "--db", db)
	if code != 0 || strings.TrimSpace(out) != `{"stream_id":"order-1","version":1}` {
		t.Fatalf("append from stdin: exit %d, out %q", code, out)
	}
	batch := `{"type":"OrderApproved","data":{}}
{"id":"3c1a9d52-4b1e-4c8a-9f00-1d2e3f4a5b6c","type":"OrderShipped","data":{"by":"ups"},"metadata":{"correlationId":"c-1"}}
`
	code, out, errs = runCLI(t, strings.NewReader(batch), "append", "order-1", "--batch", "-", "--expected-version", "1", "--db", db)
	if code != 0 || strings.TrimSpace(out) != "3" {
		t.Fatalf("append --batch: exit %d, out %q, err %q", code, out, errs)
	}

	code, out, _ = runCLI(t, nil, "read", "order-1", "--json", "--db", db)
	if code != 0 {
		t.Fatalf("read: exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("read printed %d lines: %q", len(lines), out)
	}
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[3]), &last); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"stream_id", "version", "position", "checkpoint", "event_id", "type", "data", "metadata", "recorded_at"} {
		if _, ok := last[k]; !ok {
			t.Fatalf("read --json line lacks %q: %s", k, lines[3])
		}
	}
	if last["event_id"] != "3c1a9d52-4b1e-4c8a-9f00-1d2e3f4a5b6c" || last["type"] != "OrderShipped" {
		t.Fatalf("last event = %v", last)
	}
	code, out, _ = runCLI(t, nil, "read", "order-1", "--backward", "--limit", "1", "--db", db)
	if code != 0 || !strings.Contains(out, "OrderShipped") || strings.Contains(out, "OrderPlaced") {
		t.Fatalf("read --backward: %d %q", code, out)
	}

	// The global log, once visible (any open transaction in the cluster holds it back briefly).
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, out, _ = runCLI(t, nil, "read", "--all", "--json", "--db", db)
		if code != 0 {
			t.Fatalf("read --all: exit %d", code)
		}
		if strings.Count(out, "\n") == 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("read --all printed %d lines", len(lines))
	}
	var second store.Event
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, nil, "read", "--all", "--after", second.Checkpoint.String(), "--json", "--db", db)
	if code != 0 || strings.Count(out, "\n") != 2 {
		t.Fatalf("read --all --after %s: %d %q", second.Checkpoint, code, out)
	}

	code, out, _ = runCLI(t, nil, "streams", "--json", "--db", db)
	if code != 0 || !strings.Contains(out, `"stream_id":"order-1"`) || !strings.Contains(out, `"event_count":4`) {
		t.Fatalf("streams: %d %q", code, out)
	}
	code, out, _ = runCLI(t, nil, "stats", "--db", db)
	if code != 0 || !strings.Contains(out, "events      4") {
		t.Fatalf("stats: %d %q", code, out)
	}
	code, out, _ = runCLI(t, nil, "stats", "--json", "--db", db)
	if code != 0 || !strings.Contains(out, `"type":"OrderShipped"`) {
		t.Fatalf("stats --json: %d %q", code, out)
	}
	if code, _, _ = runCLI(t, nil, "close", "order-1", "--db", db); code != 0 {
		t.Fatalf("close: exit %d", code)
	}
	code, _, errs = runCLI(t, nil, "append", "order-1", "Late", "{}", "--db", db)
	if code != ExitClosed || !strings.Contains(errs, "closed") {
		t.Fatalf("append to a closed stream: exit %d, %q", code, errs)
	}
}

// TestStoreCommandErrors: each bad call gets the documented exit code and a
// message naming what was wrong, and nothing stored changes.
func TestStoreCommandErrors(t *testing.T) {
	t.Parallel()
	db := testdb.URL(t)
	if code, _, errs := runCLI(t, nil, "append", "order-1", "OrderPlaced", `{"total":10}`, "--db", db); code != 0 {
		t.Fatalf("seed append: %s", errs)
	}
	cases := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"data not JSON", "", []string{"append", "order-1", "A", "{x"}, ExitBadInput, "data"},
		{"data an array", "", []string{"append", "order-1", "A", "[1]"}, ExitBadInput, "data"},
		{"stream with a space", "", []string{"append", "order 1", "A", "{}"}, ExitBadInput, "stream_id"},
		{"empty stream", "", []string{"append", "", "A", "{}"}, ExitBadInput, "stream_id"},
		{"missing type", "", []string{"append", "order-1"}, ExitBadInput, "TYPE"},
		{"bad expected version", "", []string{"append", "order-1", "A", "{}", "--expected-version", "soon"}, ExitBadInput, "expected-version"},
		{"bad id", "", []string{"append", "order-1", "A", "{}", "--id", "123"}, ExitBadInput, "--id"},
		{"metadata not an object", "", []string{"append", "order-1", "A", "{}", "--metadata", "[]"}, ExitBadInput, "metadata"},
		{"batch line without type", `{"data":{}}`, []string{"append", "order-1", "--batch", "-"}, ExitBadInput, "line 1"},
		{"batch bad JSON on line 2", "{\"type\":\"A\",\"data\":{}}\n{oops", []string{"append", "order-1", "--batch", "-"}, ExitBadInput, "line 2"},
		{"batch unknown field", `{"type":"A","data":{},"dta":1}`, []string{"append", "order-1", "--batch", "-"}, ExitBadInput, "dta"},
		{"batch empty", "\n\n", []string{"append", "order-1", "--batch", "-"}, ExitBadInput, "no events"},
		{"batch and type", "", []string{"append", "order-1", "A", "--batch", "-"}, ExitBadInput, "either"},
		{"conflict", "", []string{"append", "order-1", "A", "{}", "--expected-version", "no-stream"}, ExitConflict, "expected version no-stream, stream is at 0"},
		{"stale version", "", []string{"append", "order-1", "A", "{}", "--expected-version", "5"}, ExitConflict, "stream is at 0"},
		{"read unknown stream", "", []string{"read", "order-404"}, ExitNotFound, "order-404"},
		{"read bad checkpoint", "", []string{"read", "--all", "--after", "yesterday"}, ExitBadInput, "checkpoint"},
		{"read stream and --all", "", []string{"read", "order-1", "--all"}, ExitBadInput, "STREAM or --all"},
		{"read zero limit", "", []string{"read", "order-1", "--limit", "0"}, ExitBadInput, "--limit"},
		{"streams bad order", "", []string{"streams", "--order", "size"}, ExitBadInput, "--order"},
		{"close unknown", "", []string{"close", "order-404"}, ExitNotFound, "order-404"},
		{"unknown flag", "", []string{"read", "order-1", "--frm", "2"}, ExitBadInput, "frm"},
		{"unknown command", "", []string{"apend"}, ExitBadInput, "apend"},
		{"too many args", "", []string{"close", "a-1", "b-1"}, ExitBadInput, "close"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errs := runCLI(t, strings.NewReader(c.stdin), append(c.args, "--db", db)...)
			if code != c.code || !strings.Contains(errs, c.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want it to mention %q)", code, c.code, errs, c.want)
			}
		})
	}
	code, out, _ := runCLI(t, nil, "read", "order-1", "--json", "--db", db)
	if code != 0 || strings.Count(out, "\n") != 1 {
		t.Fatalf("bad calls changed order-1: %q", out)
	}
	code, out, _ = runCLI(t, nil, "streams", "--db", db)
	if code != 0 || strings.Count(out, "\n") != 2 {
		t.Fatalf("bad calls created streams: %q", out)
	}
}

// FuzzParseBatch: any input either parses into events that each have a type
// and data, or fails with a usage error that names the line.
func FuzzParseBatch(f *testing.F) {
	f.Add("{\"type\":\"A\",\"data\":{}}\n")
	f.Add("{\"id\":\"3c1a9d52-4b1e-4c8a-9f00-1d2e3f4a5b6c\",\"type\":\"A\",\"data\":{\"x\":1},\"metadata\":{}}\n\n{\"type\":\"B\",\"data\":{}}")
	f.Add("{\"type\":\"\"}")
	f.Add("[1,2]\n{}")
	f.Add("{\"type\":\"A\",\"data\":{}} {\"type\":\"A\",\"data\":{}}")
	f.Fuzz(func(t *testing.T, in string) {
		evs, err := ParseBatch(strings.NewReader(in))
		if err != nil {
			ue, ok := err.(*UsageError)
			if !ok || !strings.Contains(ue.Msg, "--batch") {
				t.Fatalf("error %v is not a usage error about --batch", err)
			}
			return
		}
		if len(evs) == 0 {
			t.Fatal("no events and no error")
		}
		for _, e := range evs {
			if e.Type == "" || len(e.Data) == 0 {
				t.Fatalf("event without type or data: %+v", e)
			}
		}
	})
}

// TestPrintEventsCutsWholeCharacters: the table preview of event data is cut
// by display cells, never inside a multi-byte character.
func TestPrintEventsCutsWholeCharacters(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	data := `{"text":"` + strings.Repeat("é", 80) + `"}`
	if err := printEvents(&b, []store.Event{{StreamID: "x-1", Type: "Note", Data: []byte(data)}}, false, false); err != nil {
		t.Fatal(err)
	}
	if !utf8.ValidString(b.String()) || !strings.Contains(b.String(), "é…") {
		t.Fatalf("preview is not cut on a character boundary: %q", b.String())
	}
	if got := oneLine("a\n\tb  "+strings.Repeat("ü", 100), 20); !utf8.ValidString(got) || !strings.HasPrefix(got, "a b ü") {
		t.Fatalf("oneLine = %q", got)
	}
}
