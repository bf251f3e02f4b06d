package cli

import (
	"strings"
	"testing"

	"eventscope/internal/testdb"
)

// TestAppendMultiCommand: append --multi applies NDJSON appends atomically;
// bad input exits 2, a conflict 3, a closed stream 5, naming the line, and
// changes nothing.
func TestAppendMultiCommand(t *testing.T) {
	t.Parallel()
	db := testdb.URL(t)
	in := `{"stream_id":"order-1","expected_version":-1,"events":[{"type":"Placed","data":{"total":1}}]}

{"stream_id":"customer-1","events":[{"type":"Reserved","data":{}},{"type":"Noted","data":{}}]}
{"stream_id":"order-1","expected_version":0,"events":[{"type":"Approved","data":{}}]}
`
	code, out, errs := runCLI(t, strings.NewReader(in), "append", "--multi", "-", "--db", db)
	if code != 0 || out != "order-1 0\ncustomer-1 1\norder-1 1\n" {
		t.Fatalf("exit %d, out %q, err %q", code, out, errs)
	}
	code, out, _ = runCLI(t, strings.NewReader(`{"stream_id":"x-1","events":[{"type":"A","data":{}}]}`), "append", "--multi", "-", "--json", "--db", db)
	if code != 0 || strings.TrimSpace(out) != `[{"stream_id":"x-1","version":0}]` {
		t.Fatalf("--json: exit %d, out %q", code, out)
	}
	if code, _, _ := runCLI(t, nil, "close", "x-1", "--db", db); code != 0 {
		t.Fatalf("close: %d", code)
	}
	for _, c := range []struct {
		in   string
		args []string
		code int
		msg  string
	}{
		{`{"stream_id":"order-2","events":[{"type":"A","data":{}}]}` + "\n" + `{"stream_id":"order-1","expected_version":0,"events":[{"type":"A","data":{}}]}`, nil, ExitConflict, "line 2"},
		{`{"stream_id":"order-2","events":[{"type":"A","data":{}}]}` + "\n" + `{"stream_id":"x-1","events":[{"type":"A","data":{}}]}`, nil, ExitClosed, "line 2"},
		{`{"stream_id":"order-2","events":[{"type":"A","data":{}}]}` + "\n" + `{"stream_id":"order 3","events":[{"type":"A","data":{}}]}`, nil, ExitBadInput, "line 2"},
		{`{"stream_id":"order-2","events":[]}`, nil, ExitBadInput, `"events" is missing`},
		{`{"stream_id":"order-2","events":[{"type":"A"}]}`, nil, ExitBadInput, "events[0].data"},
		{`{"stream_id":"order-2","expected_version":-5,"events":[{"type":"A","data":{}}]}`, nil, ExitBadInput, "expected_version"},
		{`{"stream_id":"order-2","events":[{"type":"A","data":{}}],"extra":1}`, nil, ExitBadInput, "line 1"},
		{`not json`, nil, ExitBadInput, "line 1"},
		{``, nil, ExitBadInput, "no appends"},
		{`{"stream_id":"order-2","events":[{"type":"A","data":{}}]}`, []string{"order-2"}, ExitBadInput, "--multi takes no STREAM"},
		{`{"stream_id":"order-2","events":[{"type":"A","data":{}}]}`, []string{"--expected-version", "0"}, ExitBadInput, "--multi takes no"},
	} {
		args := append([]string{"append", "--multi", "-", "--db", db}, c.args...)
		code, _, errs := runCLI(t, strings.NewReader(c.in), args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%q %v: exit %d (want %d), err %q (want %q)", c.in, c.args, code, c.code, errs, c.msg)
		}
	}
	code, out, _ = runCLI(t, nil, "read", "order-2", "--db", db)
	if code != ExitNotFound && strings.Contains(out, "order-2") {
		t.Fatalf("a failed --multi stored order-2: %d %q", code, out)
	}
	if code, _, errs := runCLI(t, nil, "append", "--db", db); code != ExitBadInput || !strings.Contains(errs, "missing STREAM") {
		t.Fatalf("append without STREAM: %d %q", code, errs)
	}
}
