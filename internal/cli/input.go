package cli

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// maxListLimit bounds --limit of the listing commands: a page larger than
// this is a mistake (page on with --after), and an unbounded one overflows.
const maxListLimit = 10_000

// checkJSONText finds what PostgreSQL's jsonb refuses in a JSON text that
// Go would pass on: bytes that are not UTF-8, and the escape \u0000 (NUL)
// inside a string. It returns "" when b is fine, else the reason, naming
// the byte offset, for an error that names the field. Whether b is valid
// JSON at all is the store's check.
func checkJSONText(b []byte) string {
	if !utf8.Valid(b) {
		for i := 0; i < len(b); {
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				return fmt.Sprintf("is not valid UTF-8 (byte 0x%02x at offset %d)", b[i], i)
			}
			i += size
		}
	}
	inString := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == 0:
			return fmt.Sprintf("contains a NUL byte at offset %d", i)
		case c == '"':
			inString = !inString
		case c == '\\' && inString && i+1 < len(b):
			if b[i+1] == 'u' && i+6 <= len(b) && string(b[i+2:i+6]) == "0000" {
				return fmt.Sprintf(`contains \u0000 (NUL) at offset %d, which PostgreSQL cannot store in JSON`, i)
			}
			i++ // skip the escaped character (an escaped quote or backslash)
		}
	}
	return ""
}

// checkText is checkJSONText for a plain string value (a type, an id).
func checkText(s string) string {
	if !utf8.ValidString(s) {
		return checkJSONText([]byte(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return fmt.Sprintf("contains a NUL character at offset %d", i)
		}
	}
	return ""
}

// checkReadStream is the rule for a stream a command only reads: not
// empty, no whitespace or control characters (never accepted in a stream
// id). Format characters are refused in new ids but may be in ids stored
// before that rule, so a read still takes them.
func checkReadStream(stream string) error {
	if stream == "" {
		return Usagef("STREAM must not be empty")
	}
	for _, r := range stream {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return Usagef("STREAM %q: invalid stream_id: must not contain whitespace or control characters", stream)
		}
	}
	return nil
}
