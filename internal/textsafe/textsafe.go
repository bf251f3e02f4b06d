// Package textsafe makes stored text safe to print on a terminal.
//
// Anything an event store prints comes from whoever wrote the events: a type,
// a stream id, a JSON value, another session's query text. Printed raw, a C0
// or C1 control character or DEL can move the cursor, retitle the window or
// rewrite the screen, and a Unicode format character (a bidi override such
// as U+202E, a zero-width space) can make one id look like another. Every
// place that prints stored data passes it through Line or Block first; the
// store refuses such characters in new stream ids and types, and this covers
// what was stored before that rule, and free text (data, errors).
//
// Unsafe characters are shown, not dropped, so nothing is hidden: a control
// or format rune becomes \u{XXXX}-style escape text (\x1b, \u202e), and a
// byte that is not UTF-8 becomes \xNN.
package textsafe

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Unsafe reports whether r may not reach a terminal as it is: C0 and C1
// controls, DEL, and Unicode format characters (category Cf: bidi controls,
// zero-width characters, the BOM), plus the line and paragraph separators.
func Unsafe(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == '\u2028', r == '\u2029':
		return true
	case r == utf8.RuneError:
		return false // a real U+FFFD is printable; invalid bytes are handled apart
	}
	return unicode.Is(unicode.Cf, r)
}

// Line returns s fit for one line of a terminal: every unsafe rune,
// newlines and tabs included, is escaped.
func Line(s string) string { return clean(s, false) }

// Block is Line but keeps newlines and tabs, for multi-line text such as
// indented JSON or an error message.
func Block(s string) string { return clean(s, true) }

// Clean reports whether s needs no escaping for one line.
func Clean(s string) bool { return clean(s, false) == s }

func clean(s string, keepLayout bool) string {
	i := firstUnsafe(s, keepLayout)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case keepLayout && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case Unsafe(r):
			if r < 0x100 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func firstUnsafe(s string, keepLayout bool) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		if Unsafe(r) && !(keepLayout && (r == '\n' || r == '\t')) {
			return i
		}
		i += size
	}
	return -1
}
