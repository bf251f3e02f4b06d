package textsafe

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLine(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"OrderPlaced", "OrderPlaced"},
		{"", ""},
		{"héllo wörld ✓", "héllo wörld ✓"},
		{"evil\x1b]0;pwned\x07", `evil\x1b]0;pwned\x07`},
		{"a\nb\tc", `a\x0ab\x09c`},
		{"del\x7f", `del\x7f`},
		{"c1\u009bm", `c1\x9bm`},
		{"order-\u202e24", `order-\u202e24`},
		{"zero\u200bwidth", `zero\u200bwidth`},
		{"bom\ufeff", `bom\ufeff`},
		{"sep\u2028", `sep\u2028`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"real \ufffd stays", "real \ufffd stays"},
	} {
		if got := Line(c.in); got != c.want {
			t.Errorf("Line(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestBlockKeepsLayout(t *testing.T) {
	in := "{\n\t\"a\": \"\x1b[2J\u202e\"\n}"
	want := "{\n\t\"a\": \"\\x1b[2J\\u202e\"\n}"
	if got := Block(in); got != want {
		t.Errorf("Block = %q, want %q", got, want)
	}
	if !Clean("plain") || Clean("a\x1b") {
		t.Error("Clean disagrees with Line")
	}
}

func FuzzLine(f *testing.F) {
	for _, s := range []string{"x", "\x1b[31m", "\u202e", "\xff\xfe", "a\nb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{Line(s), Block(s)} {
			if !utf8.ValidString(out) {
				t.Fatalf("output not UTF-8: %q", out)
			}
			for _, r := range out {
				if Unsafe(r) && r != '\n' && r != '\t' {
					t.Fatalf("unsafe rune %U left in %q", r, out)
				}
			}
		}
		if strings.ContainsAny(Line(s), "\n\t") {
			t.Fatalf("Line kept layout: %q", Line(s))
		}
		if Line(Line(s)) != Line(s) {
			t.Fatalf("Line not idempotent on %q", s)
		}
	})
}
