// Package query is eventscope's one filter language over events, shared by
// `eventscope query`, the console's :query view and the tail's / filter.
//
// A query is terms separated by spaces, all of which must hold (AND):
//
//	type:T[,T...]        the event's type is one of these
//	cat:C[,C...]         the stream's category (the part before the first "-")
//	stream:GLOB[,GLOB..] the stream id matches a glob (* any run, ? one character)
//	after:TIME           recorded at or after TIME (store.ParseTime: 2025-03-01, 2h, "2025-03-01 12:00")
//	before:TIME          recorded before TIME
//	data.PATH OP VALUE   a predicate on the event's data
//	metadata.PATH OP VALUE  ... or on its metadata
//
// A "-" in front of a term negates it. PATH is keys joined by "." (a key
// with other characters is quoted: data."unit price"), "[]" for every
// element of an array and "[N]" for one: data.lines[].sku. Like
// PostgreSQL's lax jsonpath, a key applied to an array applies to its
// elements, and a comparison with an array compares with its elements:
// a predicate holds when any value the path reaches satisfies it.
//
// OP is one of = != > >= < <= ~. VALUE is a number, true, false, null, a
// bare word, or a "double-quoted string" (JSON escapes). Numbers compare as
// numbers; a bare number also equals a string of the same text (so
// data.customerId = 42 finds "42" too); other values compare as strings
// (by code point), true/false/null only with = and !=. "~" matches string
// values against a regular expression (the common subset of RE2 and
// PostgreSQL's POSIX expressions: the console checks it with Go's regexp,
// the server runs it; a leading (?i), (?s) or (?m) becomes like_regex's
// flag; case folding beyond ASCII follows the server's locale). "!=" is the negation of "=": it also holds when the
// path is missing.
//
// An equality on metadata.correlationId goes through the index of
// migration 006, which compares the key's value as
// text (a number or a string; not the elements of an array).
//
// Parse errors are *SyntaxError, which carries the byte offset of the error
// and errors.Is store.ErrInvalid.
package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"eventscope/store"
)

// MaxLen caps a query's length in bytes.
const MaxLen = 4096

// maxTerms caps the number of terms of a query.
const maxTerms = 64

// Kind is what a term tests.
type Kind int

const (
	// Type tests the event's type.
	Type Kind = iota
	// Category tests the stream's category.
	Category
	// Stream tests the stream id against globs.
	Stream
	// After keeps events recorded at or after a time.
	After
	// Before keeps events recorded before a time.
	Before
	// Data is a predicate on the event's data.
	Data
	// Metadata is a predicate on the event's metadata.
	Metadata
)

// Op is a predicate's comparison.
type Op int

const (
	Eq Op = iota
	Ne
	Gt
	Ge
	Lt
	Le
	Match
)

var opText = [...]string{"=", "!=", ">", ">=", "<", "<="}

func (o Op) String() string {
	if o == Match {
		return "~"
	}
	return opText[o]
}

// Step is one step of a path: a key, every element ([]), or one element ([N]).
type Step struct {
	Key   string
	Index int // -1: every element; >= 0 one element; ignored when IsKey
	IsKey bool
}

// Value is a predicate's right-hand side.
type Value struct {
	// Kind is "number", "string", "boolean" or "null".
	Kind string
	// Text is the value as typed (unquoted): the number's digits, the string.
	Text string
	// Bare reports that the value was not quoted.
	Bare bool
	Bool bool
}

// Term is one condition.
type Term struct {
	Kind   Kind
	Negate bool
	// Values of type:, cat: and stream: (any of them).
	Values []string
	// Time of after: and before:.
	Time time.Time
	// Path, Op and Value of a predicate.
	Path  []Step
	Op    Op
	Value Value
	re    *regexp.Regexp
	// Pos and End delimit the term in the query text (byte offsets).
	Pos, End int
}

// Query is a parsed query.
type Query struct {
	Text  string
	Terms []Term
}

// SyntaxError is a malformed query: Pos is the byte offset of the error.
type SyntaxError struct {
	Query string
	Pos   int
	Msg   string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("query: at column %d: %s", e.Column(), e.Msg)
}

// Column is the 1-based character column of the error.
func (e *SyntaxError) Column() int {
	p := min(max(e.Pos, 0), len(e.Query))
	return utf8.RuneCountInString(e.Query[:p]) + 1
}

// Pointer renders the query and a caret under the error's column, for a
// terminal (two lines, no trailing newline).
func (e *SyntaxError) Pointer() string {
	q := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, e.Query)
	return "  " + q + "\n  " + strings.Repeat(" ", e.Column()-1) + "^"
}

// Is makes errors.Is(err, store.ErrInvalid) true.
func (e *SyntaxError) Is(target error) bool { return target == store.ErrInvalid }

// Parse parses a query; now anchors relative times (2h = two hours before
// now). An empty query matches every event.
func Parse(text string, now time.Time) (*Query, error) {
	p := &parser{s: text, now: now}
	if len(text) > MaxLen {
		return nil, p.errAt(MaxLen, fmt.Sprintf("the query is %d bytes, at most %d allowed", len(text), MaxLen))
	}
	if !utf8.ValidString(text) {
		i := 0
		for i < len(text) {
			r, n := utf8.DecodeRuneInString(text[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		return nil, p.errAt(i, "the query is not valid UTF-8")
	}
	q := &Query{Text: text}
	for {
		p.space()
		if p.eof() {
			break
		}
		if len(q.Terms) == maxTerms {
			return nil, p.errAt(p.i, fmt.Sprintf("more than %d terms", maxTerms))
		}
		t, err := p.term()
		if err != nil {
			return nil, err
		}
		q.Terms = append(q.Terms, t)
		if !p.eof() && !isSpace(p.peek()) {
			return nil, p.errAt(p.i, fmt.Sprintf("unexpected %q after the term (terms are separated by spaces)", p.peekRune()))
		}
	}
	return q, nil
}

type parser struct {
	s   string
	i   int
	now time.Time
}

func (p *parser) eof() bool  { return p.i >= len(p.s) }
func (p *parser) peek() byte { return p.s[p.i] }
func (p *parser) peekRune() rune {
	r, _ := utf8.DecodeRuneInString(p.s[p.i:])
	return r
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (p *parser) space() {
	for !p.eof() && isSpace(p.peek()) {
		p.i++
	}
}

func (p *parser) errAt(pos int, msg string) error {
	return &SyntaxError{Query: p.s, Pos: pos, Msg: msg}
}

var keys = map[string]Kind{"type": Type, "cat": Category, "stream": Stream, "after": After, "before": Before}

func (p *parser) term() (Term, error) {
	t := Term{Pos: p.i}
	if p.peek() == '-' {
		t.Negate = true
		p.i++
		if p.eof() || isSpace(p.peek()) {
			return t, p.errAt(p.i, `"-" must be followed by a term (e.g. -type:OrderShipped)`)
		}
	}
	start := p.i
	word := p.word()
	switch {
	case word == "data" || word == "metadata":
		if word == "data" {
			t.Kind = Data
		} else {
			t.Kind = Metadata
		}
		if err := p.predicate(&t, start); err != nil {
			return t, err
		}
	case !p.eof() && p.peek() == ':':
		k, ok := keys[word]
		if !ok {
			return t, p.errAt(start, fmt.Sprintf("unknown key %q (type:, cat:, stream:, after:, before:, or data./metadata. predicates)", word))
		}
		t.Kind = k
		p.i++ // ':'
		if err := p.keyValue(&t); err != nil {
			return t, err
		}
	case word == "":
		return t, p.errAt(start, fmt.Sprintf("unexpected %q: a term starts with a key (type:, cat:, stream:, after:, before:) or data./metadata.", p.peekRune()))
	default:
		return t, p.errAt(start, fmt.Sprintf("%q is not a term: use type:%s, cat:..., stream:..., after:..., before:..., or data.PATH OP VALUE", word, word))
	}
	t.End = p.i
	return t, nil
}

// word reads letters, digits and _ (a key or data/metadata).
func (p *parser) word() string {
	start := p.i
	for !p.eof() {
		c := p.peek()
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

func (p *parser) keyValue(t *Term) error {
	for {
		pos := p.i
		v, err := p.value(t.Kind == Type || t.Kind == Category || t.Kind == Stream)
		if err != nil {
			return err
		}
		if v == "" {
			return p.errAt(pos, fmt.Sprintf("%s: needs a value", keyName(t.Kind)))
		}
		switch t.Kind {
		case After, Before:
			tm, err := store.ParseTime(v, p.now)
			if err != nil {
				var ve *store.ValidationError
				msg := err.Error()
				if errors.As(err, &ve) {
					msg = fmt.Sprintf("%q %s (try 2025-03-01, \"2025-03-01 12:00\", 2h or now)", v, strings.TrimPrefix(ve.Reason, fmt.Sprintf("%q ", v)))
				}
				return p.errAt(pos, keyName(t.Kind)+": "+msg)
			}
			t.Time = tm
			return nil
		}
		t.Values = append(t.Values, v)
		if p.eof() || p.peek() != ',' {
			return nil
		}
		p.i++
	}
}

func keyName(k Kind) string {
	for n, kk := range keys {
		if kk == k {
			return n
		}
	}
	return "?"
}

// value reads a quoted string or a bare word (up to a space, or a comma
// when list is set).
func (p *parser) value(list bool) (string, error) {
	if !p.eof() && p.peek() == '"' {
		return p.quoted()
	}
	start := p.i
	for !p.eof() && !isSpace(p.peek()) && !(list && p.peek() == ',') {
		if p.peek() == '"' {
			return "", p.errAt(p.i, `a quote inside a bare value: quote the whole value ("...")`)
		}
		p.i++
	}
	return p.s[start:p.i], nil
}

// quoted reads a JSON string literal.
func (p *parser) quoted() (string, error) {
	start := p.i
	p.i++
	for !p.eof() {
		switch p.peek() {
		case '\\':
			p.i += 2
			continue
		case '"':
			p.i++
			var s string
			if err := json.Unmarshal([]byte(p.s[start:p.i]), &s); err != nil {
				return "", p.errAt(start, "bad escape in the quoted string (JSON escapes: \\\" \\\\ \\n \\t \\uXXXX)")
			}
			return s, nil
		}
		p.i++
	}
	return "", p.errAt(start, "unterminated quoted string")
}

// predicate parses .PATH OP VALUE after data/metadata.
func (p *parser) predicate(t *Term, start int) error {
	for !p.eof() {
		c := p.peek()
		if c == '.' {
			p.i++
			pos := p.i
			var key string
			if !p.eof() && p.peek() == '"' {
				k, err := p.quoted()
				if err != nil {
					return err
				}
				key = k
			} else {
				for !p.eof() && !strings.ContainsRune(" \t\r\n.[]=!<>~\",", rune(p.peek())) {
					p.i++
				}
				key = p.s[pos:p.i]
			}
			if key == "" {
				return p.errAt(pos, "expected a key after \".\" (quote keys with other characters: data.\"a b\")")
			}
			t.Path = append(t.Path, Step{Key: key, IsKey: true})
			continue
		}
		if c == '[' {
			pos := p.i
			end := strings.IndexByte(p.s[p.i:], ']')
			if end < 0 {
				return p.errAt(pos, `unterminated "[" (use [] for every element or [N] for one)`)
			}
			inner := p.s[p.i+1 : p.i+end]
			st := Step{Index: -1}
			if inner != "" && inner != "*" {
				n, err := strconv.Atoi(inner)
				if err != nil || n < 0 || n > 1<<20 {
					return p.errAt(pos+1, fmt.Sprintf("%q is not an array index (use [] or [N] with N >= 0)", inner))
				}
				st.Index = n
			}
			t.Path = append(t.Path, st)
			p.i += end + 1
			continue
		}
		break
	}
	if len(t.Path) == 0 {
		return p.errAt(p.i, fmt.Sprintf("expected \".\" and a path after %q (e.g. %s.total > 100)", p.s[start:p.i], p.s[start:p.i]))
	}
	if len(t.Path) > 32 {
		return p.errAt(start, "the path is deeper than 32 steps")
	}
	p.space()
	opPos := p.i
	switch {
	case strings.HasPrefix(p.s[p.i:], "!="):
		t.Op, p.i = Ne, p.i+2
	case strings.HasPrefix(p.s[p.i:], ">="):
		t.Op, p.i = Ge, p.i+2
	case strings.HasPrefix(p.s[p.i:], "<="):
		t.Op, p.i = Le, p.i+2
	case strings.HasPrefix(p.s[p.i:], "="):
		t.Op, p.i = Eq, p.i+1
	case strings.HasPrefix(p.s[p.i:], ">"):
		t.Op, p.i = Gt, p.i+1
	case strings.HasPrefix(p.s[p.i:], "<"):
		t.Op, p.i = Lt, p.i+1
	case strings.HasPrefix(p.s[p.i:], "~"):
		t.Op, p.i = Match, p.i+1
	default:
		what := "the end of the query"
		if !p.eof() {
			what = fmt.Sprintf("%q", p.peekRune())
		}
		return p.errAt(opPos, fmt.Sprintf("expected an operator (= != > >= < <= ~) after %s, found %s", strings.TrimSpace(p.s[start:opPos]), what))
	}
	p.space()
	valPos := p.i
	if p.eof() {
		return p.errAt(valPos, fmt.Sprintf("expected a value after %s", t.Op))
	}
	quoted := p.peek() == '"'
	v, err := p.value(false)
	if err != nil {
		return err
	}
	if v == "" && !quoted {
		return p.errAt(valPos, fmt.Sprintf("expected a value after %s", t.Op))
	}
	t.Value = Value{Kind: "string", Text: v, Bare: !quoted}
	if !quoted {
		switch v {
		case "true", "false":
			t.Value = Value{Kind: "boolean", Text: v, Bare: true, Bool: v == "true"}
		case "null":
			t.Value = Value{Kind: "null", Text: v, Bare: true}
		default:
			if isJSONNumber(v) {
				t.Value.Kind = "number"
			}
		}
	}
	switch {
	case t.Op == Match:
		re, err := regexp.Compile(v)
		if err != nil {
			msg := err.Error()
			var se *syntax.Error
			if errors.As(err, &se) {
				msg = string(se.Code) + ": " + se.Expr
			}
			return p.errAt(valPos, "bad regular expression: "+msg)
		}
		t.re = re
		t.Value.Kind = "string"
	case t.Op != Eq && t.Op != Ne && (t.Value.Kind == "boolean" || t.Value.Kind == "null"):
		return p.errAt(opPos, fmt.Sprintf("%s compares numbers or strings, not %s", t.Op, v))
	}
	return nil
}

// isJSONNumber reports whether s is a number in JSON's grammar (so 007 and
// 1_000 stay strings).
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	return i == len(s)
}

// String renders the term back in the language.
func (t Term) String() string {
	var b strings.Builder
	if t.Negate {
		b.WriteByte('-')
	}
	switch t.Kind {
	case Type, Category, Stream:
		b.WriteString(keyName(t.Kind) + ":")
		for i, v := range t.Values {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(quoteIfNeeded(v, true))
		}
	case After, Before:
		b.WriteString(keyName(t.Kind) + ":" + t.Time.Format(time.RFC3339Nano))
	case Data, Metadata:
		if t.Kind == Data {
			b.WriteString("data")
		} else {
			b.WriteString("metadata")
		}
		b.WriteString(PathString(t.Path))
		b.WriteString(" " + t.Op.String() + " ")
		if t.Value.Bare {
			b.WriteString(t.Value.Text)
		} else {
			q, _ := json.Marshal(t.Value.Text)
			b.Write(q)
		}
	}
	return b.String()
}

// PathString renders a path as the language writes it (".a.b[]").
func PathString(path []Step) string {
	var b strings.Builder
	for _, s := range path {
		switch {
		case s.IsKey:
			b.WriteByte('.')
			b.WriteString(quoteIfNeeded(s.Key, false))
		case s.Index < 0:
			b.WriteString("[]")
		default:
			fmt.Fprintf(&b, "[%d]", s.Index)
		}
	}
	return b.String()
}

func quoteIfNeeded(s string, list bool) string {
	bad := " \t\r\n\"" + ".[]=!<>~,"
	if list {
		bad = " \t\r\n\","
	}
	if s == "" || strings.ContainsAny(s, bad) {
		q, _ := json.Marshal(s)
		return string(q)
	}
	return s
}
