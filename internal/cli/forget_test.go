package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"eventscope/internal/testdb"
)

// TestForgetCommand: personal fields go in through append --personal,
// --batch and --multi; read, state, tail and query show them; forget asks
// (refused without --yes off a terminal, nothing changes), then erases
// them everywhere; the export imports into another store as erased.
func TestForgetCommand(t *testing.T) {
	t.Parallel()
	db := testdb.URL(t)
	run := func(stdin string, want int, args ...string) string {
		t.Helper()
		var in *strings.Reader
		if stdin != "" {
			in = strings.NewReader(stdin)
		}
		var code int
		var out, errs string
		if in == nil {
			code, out, errs = runCLI(t, nil, append(args, "--db", db)...)
		} else {
			code, out, errs = runCLI(t, in, append(args, "--db", db)...)
		}
		if code != want {
			t.Fatalf("%v: exit %d (want %d), out %q, err %q", args, code, want, out, errs)
		}
		return out + errs
	}
	run("", 0, "append", "customer-7", "CustomerRegistered", `{"name":"Ann Example","address":{"street":"Main Street 1"},"creditLimit":5}`,
		"--personal", "customer-7:name,address.street")
	run(`{"type":"Renamed","data":{"name":"Ann Example"},"personal":{"subject":"customer-7","fields":["name"]}}`+"\n", 0,
		"append", "customer-7", "--batch", "-")
	multi := filepath.Join(t.TempDir(), "multi.ndjson")
	if err := os.WriteFile(multi, []byte(`{"stream_id":"customer-8","events":[{"type":"CustomerRegistered","data":{"name":"Bob Sample"},"personal":{"subject":"customer-8","fields":["name"]}}]}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run("", 0, "append", "--multi", multi)
	// bad markings: exit 2, named
	for _, c := range []struct{ flag, want string }{
		{"customer-7", "SUBJECT:FIELD"},
		{":name", "subject"},
		{"customer-7:name,", "empty"},
		{"customer-7:email", `"email" is not in data`},
		{"a b:name", "whitespace"},
	} {
		out := run("", 2, "append", "customer-9", "T", `{"name":"x"}`, "--personal", c.flag)
		if !strings.Contains(out, c.want) {
			t.Fatalf("--personal %q: %q lacks %q", c.flag, out, c.want)
		}
	}
	if out := run("", 0, "read", "customer-7", "--json"); strings.Count(out, "Ann Example") != 2 || !strings.Contains(out, `"$personal"`) {
		t.Fatalf("read before forget: %s", out)
	}
	if out := run("", 0, "state", "customer-7", "--version", "0", "--json"); !strings.Contains(out, "Main Street 1") {
		t.Fatalf("state before forget: %s", out)
	}
	waitVisible(t, db, 3)
	if out := run("", 0, "tail", "--from", "start", "--count", "3", "--json"); !strings.Contains(out, "Ann Example") || !strings.Contains(out, "Bob Sample") {
		t.Fatalf("tail before forget: %s", out)
	}
	if out := run("", 0, "subscribe", "erasure-before", "--from", "start", "--category", "customer", "--count", "3", "--json"); !strings.Contains(out, "Ann Example") {
		t.Fatalf("subscribe before forget: %s", out)
	}
	export := run("", 0, "query", "cat:customer", "--json")

	// no terminal, no --yes: refused, nothing erased
	if out := run("", 2, "forget", "customer-7"); !strings.Contains(out, "--yes") {
		t.Fatalf("forget without --yes: %s", out)
	}
	run("", 2, "forget", "bad subject", "--yes")
	if out := run("", 0, "read", "customer-7"); !strings.Contains(out, "Ann Example") {
		t.Fatalf("refused forget erased: %s", out)
	}
	out := run("", 0, "forget", "customer-7", "--yes", "--json")
	if !strings.Contains(out, `"had_key":true`) || !strings.Contains(out, `"events":2`) {
		t.Fatalf("forget: %s", out)
	}
	if out := run("", 0, "forget", "customer-7", "--yes"); !strings.Contains(out, "forgotten before") {
		t.Fatalf("second forget: %s", out)
	}
	for _, args := range [][]string{
		{"read", "customer-7", "--json"},
		{"state", "customer-7", "--version", "0", "--json"},
		{"tail", "--from", "start", "--count", "4", "--json"},
		{"query", "cat:customer", "--json"},
		{"subscribe", "erasure-after", "--from", "start", "--category", "customer", "--count", "3", "--json"},
	} {
		out := run("", 0, args...)
		if strings.Contains(out, "Ann Example") || strings.Contains(out, "Main Street 1") {
			t.Fatalf("%v after forget: %s", args, out)
		}
		if args[0] != "state" && !strings.Contains(out, `"erased":true`) {
			t.Fatalf("%v after forget shows no erased marker: %s", args, out)
		}
	}
	if out := run("", 0, "read", "customer-8"); !strings.Contains(out, "Bob Sample") {
		t.Fatalf("other subject: %s", out)
	}
	if out := run("", 0, "read", "eventscope-erasure", "--json"); !strings.Contains(out, "SubjectForgotten") || strings.Contains(out, "Ann") {
		t.Fatalf("audit: %s", out)
	}
	// the export taken before the forget would bring the name back: refused
	if out := run(export, 2, "import", "-"); !strings.Contains(out, "other content") {
		t.Fatalf("import of the old export: %s", out)
	}
}
