package relay

import (
	"strings"
	"testing"
)

func TestSubjectToken(t *testing.T) {
	for in, want := range map[string]string{
		"order": "order", "Order_Placed-2": "Order_Placed-2", "": "%", "a.b": "a%2Eb",
		"*": "%2A", ">": "%3E", "a b": "a%20b", "%": "%25", "ü": "%C3%BC", "x\ty": "x%09y",
	} {
		if got := SubjectToken(in); got != want {
			t.Errorf("SubjectToken(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzSubjectToken: every name becomes one valid token (no separator,
// wildcard, whitespace or control byte, not empty) that unescapes to it.
func FuzzSubjectToken(f *testing.F) {
	for _, s := range []string{"order", "", "a.b", "%", "%2E", "ü", "*", ">", "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := SubjectToken(s)
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, ". \t\r\n*>") {
			t.Fatalf("SubjectToken(%q) = %q is not one plain token", s, tok)
		}
		for i := 0; i < len(tok); i++ {
			if tok[i] < 0x21 || tok[i] > 0x7e {
				t.Fatalf("SubjectToken(%q) = %q has byte %#x", s, tok, tok[i])
			}
		}
		back, err := UnescapeToken(tok)
		if err != nil || back != s {
			t.Fatalf("UnescapeToken(%q) = %q, %v; want %q", tok, back, err, s)
		}
	})
}

func TestUnescapeTokenRejects(t *testing.T) {
	for _, tok := range []string{"a%", "a%2", "%zz", "%2e"} {
		if _, err := UnescapeToken(tok); err == nil {
			t.Errorf("UnescapeToken(%q) accepted", tok)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	for _, ok := range []string{"eventscope", "acme.events", "a-b_c"} {
		if err := ValidatePrefix(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "a.", ".a", "a..b", "*", "a.*", "a.>", "$JS", "a b", "a\x01"} {
		if err := ValidatePrefix(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCovers(t *testing.T) {
	for _, c := range []struct {
		filter, prefix string
		want           bool
	}{
		{">", "p", true}, {"p.>", "p", true}, {"p.*.*", "p", true}, {"*.*.*", "p", true},
		{"p.*.>", "p", true}, {"p.*", "p", false}, {"p.order.*", "p", false}, {"q.>", "p", false},
		{"p.*.*.*", "p", false}, {"a.>", "a.b", true}, {"a.b.>", "a.b", true}, {"a.c.>", "a.b", false},
		{"p.>", "p.x", true},
	} {
		if got := covers(c.filter, c.prefix); got != c.want {
			t.Errorf("covers(%q, %q) = %v, want %v", c.filter, c.prefix, got, c.want)
		}
	}
}
