package cli

import (
	"strings"
	"testing"

	"eventscope/internal/testdb"
)

// TestHostileInputRefused (issue 8 item 7): what jsonb cannot store (NUL,
// bytes that are not UTF-8) exits 2 naming the field and the line before
// anything is sent; an empty --db is refused rather than falling back to
// the embedded server; --limit is bounded. Nothing changes.
func TestHostileInputRefused(t *testing.T) {
	t.Parallel()
	db := testdb.URL(t)
	if code, _, errs := runCLI(t, nil, "append", "order-1", "OrderPlaced", `{"total":10}`, "--db", db); code != 0 {
		t.Fatalf("seed append: %s", errs)
	}
	cases := []struct {
		name  string
		stdin string
		args  []string
		want  []string
	}{
		{"NUL in data", "", []string{"append", "order-1", "A", `{"a":"x\u0000y"}`}, []string{"DATA", `\u0000`}},
		{"NUL in metadata", "", []string{"append", "order-1", "A", `{}`, "--metadata", `{"m":"\u0000"}`}, []string{"--metadata", "NUL"}},
		{"invalid UTF-8 in data", "", []string{"append", "order-1", "A", "{\"a\":\"\xff\"}"}, []string{"DATA", "UTF-8"}},
		{"invalid UTF-8 in data from stdin", "{\"a\":\"\xc3\"}", []string{"append", "order-1", "A", "-"}, []string{"DATA", "UTF-8"}},
		{"NUL in a batch line's data", "{\"type\":\"A\",\"data\":{}}\n{\"type\":\"A\",\"data\":{\"a\":\"\\u0000\"}}\n", []string{"append", "order-1", "--batch", "-"}, []string{"line 2", `"data"`, "NUL"}},
		{"NUL in a batch line's metadata", "{\"type\":\"A\",\"data\":{},\"metadata\":{\"k\":\"\\u0000\"}}\n", []string{"append", "order-1", "--batch", "-"}, []string{"line 1", `"metadata"`}},
		{"NUL in a batch line's type", "{\"type\":\"A\\u0000\",\"data\":{}}\n", []string{"append", "order-1", "--batch", "-"}, []string{"line 1", `"type"`}},
		{"invalid UTF-8 in a batch line", "\n{\"type\":\"A\",\"data\":{\"a\":\"\xfe\"}}\n", []string{"append", "order-1", "--batch", "-"}, []string{"line 2", `"data"`, "UTF-8"}},
		{"batch unknown field", `{"type":"A","data":{},"metdata":{}}`, []string{"append", "order-1", "--batch", "-"}, []string{"line 1", "metdata"}},
		{"empty --db", "", []string{"stats", "--db", ""}, []string{"--db is empty"}},
		{"streams --limit overflow", "", []string{"streams", "--limit", "9223372036854775807"}, []string{"--limit", "10000"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if c.name != "empty --db" {
				args = append(args, "--db", db)
			}
			code, _, errs := runCLI(t, strings.NewReader(c.stdin), args...)
			if code != ExitBadInput {
				t.Fatalf("exit %d, want %d; stderr %q", code, ExitBadInput, errs)
			}
			for _, w := range c.want {
				if !strings.Contains(errs, w) {
					t.Fatalf("stderr %q does not mention %q", errs, w)
				}
			}
			if strings.Contains(errs, "SQLSTATE") {
				t.Fatalf("stderr %q: a raw server error, not a check before sending", errs)
			}
		})
	}
	code, out, _ := runCLI(t, nil, "read", "order-1", "--json", "--db", db)
	if code != 0 || strings.Count(out, "\n") != 1 {
		t.Fatalf("refused calls changed order-1: %q", out)
	}
	// An escaped backslash before "u0000" is text, not a NUL.
	if code, _, errs := runCLI(t, nil, "append", "order-1", "A", `{"a":"\\u0000"}`, "--db", db); code != 0 {
		t.Fatalf(`append of an escaped backslash then "u0000": exit %d: %s`, code, errs)
	}
}

func TestCheckJSONText(t *testing.T) {
	t.Parallel()
	for in, bad := range map[string]bool{
		`{}`: false, `{"a":"\u0000"}`: true, `{"a":"\\u0000"}`: false, `{"a":"\\\u0000"}`: true,
		`{"\u0000":1}`: true, `{"a":"é"}`: false, "{\"a\":\"\xff\"}": true, `{"a":"\"\u0000"}`: true,
		`{"a":"\u00001"}`: true, `{"a":"\u0001"}`: false,
	} {
		if got := checkJSONText([]byte(in)) != ""; got != bad {
			t.Errorf("checkJSONText(%q) refused = %v, want %v", in, got, bad)
		}
	}
}
