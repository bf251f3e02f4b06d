package store

import (
	"strings"
	"unicode/utf8"
)

// Shape extraction for the event-type catalog: a walk over a JSON document's
// bytes (as PostgreSQL prints jsonb: valid JSON) that reports every path and
// the JSON type at it, without decoding values into Go maps. Paths are
// written as the query language writes them: keys joined by ".", "[]" for
// an array's elements (total, lines, lines[], lines[].sku).

const (
	shapeMaxDepth    = 12  // nesting followed; deeper values are reported as their container type only
	shapeMaxElements = 32  // array elements looked at (the shape of the first ones stands for all)
	shapeMaxPaths    = 256 // paths reported per document
)

// shapeVisit receives one path: its JSON type and, for scalars, the value's
// JSON text.
type shapeVisit func(path, jsonType string, raw []byte)

type shapeWalker struct {
	b     []byte
	i     int
	visit shapeVisit
	paths int
	mute  int // > 0 while skipping
}

// walkShape visits every path of the JSON object doc (the root is not
// reported). It returns false when doc is not well formed.
func walkShape(doc []byte, visit shapeVisit) bool {
	w := &shapeWalker{b: doc, visit: visit}
	w.ws()
	if w.i >= len(w.b) || w.b[w.i] != '{' {
		return false
	}
	return w.value("", 0, true)
}

func (w *shapeWalker) ws() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// value reads one value at path; root is the document itself.
func (w *shapeWalker) value(path string, depth int, root bool) bool {
	w.ws()
	if w.i >= len(w.b) {
		return false
	}
	start := w.i
	switch c := w.b[w.i]; {
	case c == '{':
		if !root {
			w.report(path, "object", nil)
		}
		w.i++
		w.ws()
		if w.i < len(w.b) && w.b[w.i] == '}' {
			w.i++
			return true
		}
		for {
			w.ws()
			key, ok := w.str()
			if !ok {
				return false
			}
			w.ws()
			if w.i >= len(w.b) || w.b[w.i] != ':' {
				return false
			}
			w.i++
			var child string
			switch {
			case w.mute > 0:
			case root:
				child = pathKey(key)
			default:
				child = path + "." + pathKey(key)
			}
			if depth >= shapeMaxDepth {
				if !w.skip() {
					return false
				}
			} else if !w.value(child, depth+1, false) {
				return false
			}
			w.ws()
			if w.i >= len(w.b) {
				return false
			}
			if w.b[w.i] == ',' {
				w.i++
				continue
			}
			if w.b[w.i] == '}' {
				w.i++
				return true
			}
			return false
		}
	case c == '[':
		w.report(path, "array", nil)
		w.i++
		w.ws()
		if w.i < len(w.b) && w.b[w.i] == ']' {
			w.i++
			return true
		}
		elem := ""
		if w.mute == 0 {
			elem = path + "[]"
		}
		for n := 0; ; n++ {
			var ok bool
			if n < shapeMaxElements && depth < shapeMaxDepth {
				ok = w.value(elem, depth+1, false)
			} else {
				ok = w.skip()
			}
			if !ok {
				return false
			}
			w.ws()
			if w.i >= len(w.b) {
				return false
			}
			if w.b[w.i] == ',' {
				w.i++
				continue
			}
			if w.b[w.i] == ']' {
				w.i++
				return true
			}
			return false
		}
	case c == '"':
		if _, ok := w.str(); !ok {
			return false
		}
		w.report(path, "string", w.b[start:w.i])
	case c == 't' || c == 'f' || c == 'n':
		for w.i < len(w.b) && w.b[w.i] >= 'a' && w.b[w.i] <= 'z' {
			w.i++
		}
		switch string(w.b[start:w.i]) {
		case "true", "false":
			w.report(path, "boolean", w.b[start:w.i])
		case "null":
			w.report(path, "null", w.b[start:w.i])
		default:
			return false
		}
	default:
		for w.i < len(w.b) && strings.IndexByte("+-0123456789.eE", w.b[w.i]) >= 0 {
			w.i++
		}
		if w.i == start {
			return false
		}
		w.report(path, "number", w.b[start:w.i])
	}
	return true
}

func (w *shapeWalker) report(path, typ string, raw []byte) {
	if w.mute > 0 || w.paths >= shapeMaxPaths {
		return
	}
	w.paths++
	w.visit(path, typ, raw)
}

// skip passes over one value without reporting it.
func (w *shapeWalker) skip() bool {
	w.mute++
	ok := w.value("", 0, false)
	w.mute--
	return ok
}

// str reads a JSON string at w.i and returns its contents (escapes
// decoded only as far as the key's text needs: \" and \\ and \uXXXX).
func (w *shapeWalker) str() (string, bool) {
	if w.i >= len(w.b) || w.b[w.i] != '"' {
		return "", false
	}
	w.i++
	start := w.i
	escaped := false
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case '\\':
			escaped = true
			w.i += 2
			continue
		case '"':
			s := w.b[start:w.i]
			w.i++
			if !escaped {
				return string(s), true
			}
			return unescapeJSON(s), true
		}
		w.i++
	}
	return "", false
}

func unescapeJSON(s []byte) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+4 < len(s) {
				var r rune
				for _, c := range s[i+1 : i+5] {
					r <<= 4
					switch {
					case c >= '0' && c <= '9':
						r |= rune(c - '0')
					case c >= 'a' && c <= 'f':
						r |= rune(c-'a') + 10
					case c >= 'A' && c <= 'F':
						r |= rune(c-'A') + 10
					}
				}
				if !utf8.ValidRune(r) {
					r = utf8.RuneError
				}
				b.WriteRune(r)
				i += 4
			}
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// pathKey writes a key as the query language does: bare when it holds no
// character the language gives a meaning, else as a JSON string.
func pathKey(k string) string {
	if k != "" && !strings.ContainsAny(k, " \t\r\n\".[]=!<>~,\\") && utf8.ValidString(k) {
		return k
	}
	return quoteJSON(k)
}

func quoteJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&15])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
