package relay

import (
	"fmt"
	"strings"
)

// SubjectToken turns a category or an event type into one NATS subject
// token. Bytes A-Z a-z 0-9 '-' and '_' are kept; every other byte ('.',
// which separates tokens, the wildcards '*' and '>', '%', whitespace,
// controls, and each byte of a non-ASCII character) becomes %XX, its
// upper-case hex value, as in URL percent-encoding; the empty string (the
// category of a stream id such as "-7") becomes a lone "%". The mapping is
// reversible (UnescapeToken) and keeps distinct names distinct, and a
// subscriber can filter with the original name whenever it is plain
// (order, OrderPlaced).
func SubjectToken(s string) string {
	if s == "" {
		return "%"
	}
	plain := true
	for i := 0; i < len(s); i++ {
		if !plainByte(s[i]) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plainByte(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func plainByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// UnescapeToken reverses SubjectToken.
func UnescapeToken(tok string) (string, error) {
	if tok == "%" {
		return "", nil
	}
	if !strings.Contains(tok, "%") {
		return tok, nil
	}
	var b strings.Builder
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(tok) {
			return "", fmt.Errorf("subject token %q: %% at %d is not followed by two hex digits", tok, i)
		}
		var v byte
		for _, h := range tok[i+1 : i+3] {
			v <<= 4
			switch {
			case h >= '0' && h <= '9':
				v |= byte(h - '0')
			case h >= 'A' && h <= 'F':
				v |= byte(h-'A') + 10
			default:
				return "", fmt.Errorf("subject token %q: %q is not upper-case hex", tok, tok[i+1:i+3])
			}
		}
		b.WriteByte(v)
		i += 2
	}
	return b.String(), nil
}

// Subject is the subject an event of category cat and type typ is
// published on: PREFIX.<category>.<type>, both tokens escaped by
// SubjectToken.
func Subject(prefix, cat, typ string) string {
	return prefix + "." + SubjectToken(cat) + "." + SubjectToken(typ)
}

// ValidatePrefix checks a subject prefix: one or more dot-separated
// tokens, none empty, no whitespace or control characters, no wildcard
// token (* or >), not starting with '$' (reserved for the server's own
// subjects), at most 200 bytes.
func ValidatePrefix(p string) error {
	switch {
	case p == "":
		return invalidf("subject prefix", "must not be empty")
	case len(p) > 200:
		return invalidf("subject prefix", "is %d bytes, at most 200 allowed", len(p))
	case strings.HasPrefix(p, "$"):
		return invalidf("subject prefix", "%q must not start with $ (reserved for the NATS server)", p)
	}
	for _, tok := range strings.Split(p, ".") {
		if tok == "" {
			return invalidf("subject prefix", "%q has an empty token", p)
		}
		if tok == "*" || tok == ">" {
			return invalidf("subject prefix", "%q must not contain the wildcard token %s", p, tok)
		}
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; c <= ' ' || c == 0x7f {
				return invalidf("subject prefix", "%q must not contain whitespace or control characters", p)
			}
		}
	}
	return nil
}

// covers reports whether the stream subject filter f matches every
// subject PREFIX.<a>.<b>, i.e. the probe subject prefix.*.* (whose
// wildcards f must match with wildcards).
func covers(f, prefix string) bool {
	ft := strings.Split(f, ".")
	pt := append(strings.Split(prefix, "."), "*", "*")
	for i, tok := range ft {
		if tok == ">" {
			return i < len(pt)
		}
		if i >= len(pt) {
			return false
		}
		if tok == "*" {
			continue
		}
		if pt[i] == "*" || tok != pt[i] {
			return false
		}
	}
	return len(ft) == len(pt)
}
