package tail

import (
	"bytes"
	"errors"
	"strings"
	"time"
	"unicode"

	"eventscope/store"
	"eventscope/store/query"
)

// Filter selects tail events with the query language of `eventscope
// query` (store/query: type:, cat:, stream:, after:, before:, data.PATH OP
// VALUE, metadata.PATH OP VALUE, "-" negates), evaluated in Go over the
// events the tail holds. Plain words are text terms besides: each must
// appear, case-insensitively, in the stream id, the type or the data
// ("-word" must not).
type Filter struct {
	text  string
	q     *query.Query // nil: no query term
	words []word
}

type word struct {
	s   []byte // lower case
	neg bool
}

// ParseFilter parses a filter; a malformed query term is a
// *query.SyntaxError pointing at it. now anchors relative times.
func ParseFilter(s string, now time.Time) (Filter, error) {
	f := Filter{text: strings.TrimSpace(s)}
	rest := []byte(s)
	for {
		q, err := query.Parse(string(rest), now)
		if err == nil {
			if len(q.Terms) > 0 {
				f.q = q
			}
			return f, nil
		}
		var se *query.SyntaxError
		if !errors.As(err, &se) {
			return Filter{}, err
		}
		// A plain word where a term was expected is a text term: take it
		// out (blanked, so later errors keep their positions) and go on.
		start, end, neg, ok := plainWord(rest, se.Pos)
		if !ok {
			se.Query = s
			return Filter{}, se
		}
		w := word{s: bytes.ToLower(rest[start:end]), neg: neg}
		f.words = append(f.words, w)
		for i := start - b2i(neg); i < end; i++ {
			rest[i] = ' '
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// plainWord finds the word starting at pos (the error's position): a run
// of non-space characters at the start of a term, with no ":" and not a
// data./metadata. predicate. neg reports a "-" before it.
func plainWord(s []byte, pos int) (start, end int, neg, ok bool) {
	if pos < 0 || pos >= len(s) {
		return 0, 0, false, false
	}
	start = pos
	if start > 0 && s[start-1] == '-' && (start == 1 || isSpace(s[start-2])) {
		neg = true
	} else if start > 0 && !isSpace(s[start-1]) {
		return 0, 0, false, false // inside a term: a real syntax error
	}
	end = start
	for end < len(s) && !isSpace(s[end]) {
		end++
	}
	w := s[start:end]
	if len(w) == 0 || bytes.ContainsRune(w, ':') || bytes.HasPrefix(w, []byte("data.")) || bytes.HasPrefix(w, []byte("metadata.")) || bytes.ContainsAny(w, `"'`) {
		return 0, 0, false, false
	}
	return start, end, neg, true
}

func isSpace(c byte) bool { return c < 0x80 && unicode.IsSpace(rune(c)) }

// Empty reports whether the filter keeps everything.
func (f Filter) Empty() bool { return f.q == nil && len(f.words) == 0 }

// String is the filter as typed.
func (f Filter) String() string { return f.text }

// Match reports whether e passes the filter.
func (f Filter) Match(e *store.Event) bool {
	if f.q != nil && !f.q.Match(*e) {
		return false
	}
	if len(f.words) == 0 {
		return true
	}
	id, typ, data := strings.ToLower(e.StreamID), strings.ToLower(e.Type), bytes.ToLower(e.Data)
	for _, w := range f.words {
		in := strings.Contains(id, string(w.s)) || strings.Contains(typ, string(w.s)) || bytes.Contains(data, w.s)
		if in == w.neg {
			return false
		}
	}
	return true
}
