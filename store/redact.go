package store

import "strings"

// RedactQuery returns the shape of a SQL statement with every literal
// replaced by "?": string literals ('...', E'...' with backslash escapes,
// B'...', X'...', N'...', U&'...', dollar-quoted $tag$...$tag$) and
// numbers. Identifiers (plain and "quoted"), keywords, operators,
// parameters ($1) and comments stay, so the statement is still
// recognisable. A literal cut short (pg_stat_activity truncates long
// queries) is redacted to the end. Stats shows other sessions' queries this
// way unless asked for the full text.
func RedactQuery(q string) string {
	var b strings.Builder
	b.Grow(len(q))
	n := len(q)
	for i := 0; i < n; {
		c := q[i]
		switch {
		case c == '-' && i+1 < n && q[i+1] == '-': // line comment
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				j = n - i
			}
			b.WriteString(q[i : i+j])
			i += j
		case c == '/' && i+1 < n && q[i+1] == '*': // block comment (nesting, as PostgreSQL)
			j, depth := i+2, 1
			for j < n && depth > 0 {
				switch {
				case q[j] == '/' && j+1 < n && q[j+1] == '*':
					depth++
					j += 2
				case q[j] == '*' && j+1 < n && q[j+1] == '/':
					depth--
					j += 2
				default:
					j++
				}
			}
			b.WriteString(q[i:j])
			i = j
		case c == '"': // quoted identifier: "" escapes a quote
			j := i + 1
			for j < n {
				if q[j] == '"' {
					if j+1 < n && q[j+1] == '"' {
						j += 2
						continue
					}
					j++
					break
				}
				j++
			}
			b.WriteString(q[i:j])
			i = j
		case c == '\'':
			backslash := false
			s := b.String()
			if p := literalPrefix(s); p != "" {
				backslash = strings.EqualFold(p, "e")
				b.Reset()
				b.WriteString(s[:len(s)-len(p)])
			}
			i = skipQuoted(q, i, backslash)
			b.WriteByte('?')
		case c == '$':
			if tag, ok := dollarTag(q, i); ok {
				end := strings.Index(q[i+len(tag):], tag)
				if end < 0 {
					i = n
				} else {
					i += len(tag) + end + len(tag)
				}
				b.WriteByte('?')
				continue
			}
			// $1: a parameter, kept with its digits.
			j := i + 1
			for j < n && isDigit(q[j]) {
				j++
			}
			b.WriteString(q[i:j])
			i = j
		case isDigit(c) || (c == '.' && i+1 < n && isDigit(q[i+1])):
			if i > 0 && isIdent(q[i-1]) && c != '.' {
				j := i
				for j < n && isIdent(q[j]) {
					j++
				}
				b.WriteString(q[i:j]) // part of an identifier (t1, col2)
				i = j
				continue
			}
			// 42, 3.14, 1e-5, 0x1F, 1_000: digits, letters, '_' and '.',
			// and a sign right after the exponent of a decimal number.
			hex := c == '0' && i+1 < n && (q[i+1] == 'x' || q[i+1] == 'X')
			j := i
			for j < n && (isIdent(q[j]) && q[j] != '$' || q[j] == '.' ||
				(!hex && j > i && (q[j] == '-' || q[j] == '+') && (q[j-1] == 'e' || q[j-1] == 'E'))) {
				j++
			}
			b.WriteByte('?')
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// literalPrefix is the E, B, X, N or U& just written before a quote, as a
// word of its own; "" if none.
func literalPrefix(s string) string {
	for _, p := range []string{"U&", "u&", "E", "e", "B", "b", "X", "x", "N", "n"} {
		if strings.HasSuffix(s, p) {
			rest := s[:len(s)-len(p)]
			if rest == "" || !isIdent(rest[len(rest)-1]) {
				return p
			}
		}
	}
	return ""
}

// skipQuoted returns the index after the string literal opening at i.
func skipQuoted(q string, i int, backslash bool) int {
	j := i + 1
	for j < len(q) {
		switch {
		case backslash && q[j] == '\\':
			j += 2
		case q[j] == '\'':
			if j+1 < len(q) && q[j+1] == '\'' {
				j += 2
				continue
			}
			return j + 1
		default:
			j++
		}
	}
	return len(q)
}

// dollarTag is the $tag$ opening a dollar-quoted string at i.
func dollarTag(q string, i int) (string, bool) {
	if i > 0 && isIdent(q[i-1]) {
		return "", false // part of an identifier
	}
	j := i + 1
	for j < len(q) && q[j] != '$' && isIdent(q[j]) && !(j == i+1 && isDigit(q[j])) {
		j++
	}
	if j < len(q) && q[j] == '$' {
		return q[i : j+1], true
	}
	return "", false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F') }
func isIdent(c byte) bool {
	return c == '_' || c == '$' || isDigit(c) || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || c >= 0x80
}
