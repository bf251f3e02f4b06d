package query

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// Filter is what the console's "/" types over events (the tail, a
// stream's search): the query language, plus plain words, plus a leading
// "!" that inverts the whole filter.
//
//   - Query terms (type:, cat:, stream:, after:, before:, data.PATH OP
//     VALUE, metadata.PATH OP VALUE, "-" negates) as Parse reads them; a
//     key:value term with an unknown key is a *SyntaxError that lists the
//     keys there are.
//   - Plain words are text terms: each must appear, case-insensitively, in
//     the stream id, the type or the data ("-word" must not), so "/000032"
//     finds the event whose data holds "000032".
//   - "!" before everything keeps the events the rest does not match.
//
// Match evaluates a filter in Go over events already held; Where compiles
// it for the server (FindInStream), and the two agree.
type Filter struct {
	text   string
	invert bool
	q      *Query // nil: no query term
	words  []word
}

type word struct {
	s   []byte // lower case
	neg bool
}

// Filter is the query as a Filter (no words, not inverted).
func (q *Query) Filter() Filter {
	if q == nil || len(q.Terms) == 0 {
		return Filter{}
	}
	return Filter{text: q.Text, q: q}
}

// ParseFilter parses a filter; a malformed query term is a *SyntaxError
// pointing at it. now anchors relative times.
func ParseFilter(s string, now time.Time) (Filter, error) {
	f := Filter{text: strings.TrimSpace(s)}
	rest := []byte(s)
	if i := bytes.IndexFunc(rest, func(r rune) bool { return !unicode.IsSpace(r) }); i >= 0 && rest[i] == '!' {
		f.invert = true
		rest[i] = ' ' // blanked, so errors keep their positions
	}
	for {
		q, err := Parse(string(rest), now)
		if err == nil {
			if len(q.Terms) > 0 {
				f.q = q
			}
			return f, nil
		}
		var se *SyntaxError
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
	if start > 0 && s[start-1] == '-' && (start == 1 || isSpaceByte(s[start-2])) {
		neg = true
	} else if start > 0 && !isSpaceByte(s[start-1]) {
		return 0, 0, false, false // inside a term: a real syntax error
	}
	end = start
	for end < len(s) && !isSpaceByte(s[end]) {
		end++
	}
	w := s[start:end]
	if len(w) == 0 || bytes.ContainsRune(w, ':') || bytes.HasPrefix(w, []byte("data.")) || bytes.HasPrefix(w, []byte("metadata.")) || bytes.ContainsAny(w, `"'`) {
		return 0, 0, false, false
	}
	return start, end, neg, true
}

func isSpaceByte(c byte) bool { return c < 0x80 && unicode.IsSpace(rune(c)) }

// Empty reports whether the filter keeps everything (a lone "!" inverts
// nothing yet: it is empty too).
func (f Filter) Empty() bool { return f.q == nil && len(f.words) == 0 }

// Inverted reports a leading "!".
func (f Filter) Inverted() bool { return f.invert && !f.Empty() }

// String is the filter as typed.
func (f Filter) String() string { return f.text }

// Match reports whether e passes the filter.
func (f Filter) Match(e *store.Event) bool {
	if f.Empty() {
		return true
	}
	return f.match(e) != f.invert
}

func (f Filter) match(e *store.Event) bool {
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

// readerData is the data as readers see it (personal fields decrypted or
// null), as text: what a plain word searches, as Match searches e.Data.
const readerData = `lower((CASE WHEN e.personal IS NULL THEN e.data ELSE eventscope.personal_data(e.data, e.personal) END)::text)`

// Where compiles the filter to a SQL condition on the events table
// aliased "e", numbering its parameters from $first (user text travels
// only in the arguments). An empty filter compiles to "true".
func (f Filter) Where(first int) (string, []any) {
	if f.Empty() {
		return "true", nil
	}
	var conds []string
	var args []any
	if f.q != nil {
		w, a := f.q.Where(first)
		conds, args = append(conds, "("+w+")"), a
	}
	for _, w := range f.words {
		args = append(args, string(w.s))
		p := fmt.Sprintf("$%d::text", first+len(args)-1)
		c := "(strpos(lower(e.stream_id), " + p + ") > 0 OR strpos(lower(e.type), " + p + ") > 0 OR strpos(" + readerData + ", " + p + ") > 0)"
		if w.neg {
			c = "NOT " + c
		}
		conds = append(conds, c)
	}
	c := strings.Join(conds, " AND ")
	if f.invert {
		c = "NOT coalesce((" + c + "), false)"
	}
	return c, args
}

// MaxFound caps the versions FindInStream returns in one call.
const MaxFound = 10000

// FindOptions bound a search of one stream.
type FindOptions struct {
	// From returns only versions at or after this one. Default 0 (the
	// whole stream).
	From int64
	// Limit caps the versions returned. Default 1000, at most MaxFound.
	Limit int
	// Timeout is the statement timeout on the server. Default 30s.
	Timeout time.Duration
}

// Found is the result of a search of one stream.
type Found struct {
	// Versions of the matching events from FindOptions.From, ascending,
	// at most Limit of them.
	Versions []int64
	// Total is the number of matching events from FindOptions.From on
	// (Versions holds the first Limit of them).
	Total int64
}

// FindInStream evaluates the filter on the server over every version of
// the stream (not over what a caller has loaded) and returns the versions
// that match: version numbers only, so the answer is a few bytes an event
// however large the events are. Read the events with store.ReadStream.
// It runs in a read-only transaction under a statement timeout; a stream
// that does not exist is a *store.NotFoundError.
func FindInStream(ctx context.Context, st *store.Store, stream string, f Filter, o FindOptions) (Found, error) {
	if o.Limit <= 0 {
		o.Limit = 1000
	}
	o.Limit = min(o.Limit, MaxFound)
	if o.From < 0 {
		o.From = 0
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	where, args := f.Where(4)
	sql := `SELECT e.version, count(*) OVER () FROM eventscope.events e
		 WHERE e.stream_id = $1 AND e.version >= $2 AND ` + where + `
		 ORDER BY e.version LIMIT $3`
	tx, err := st.Pool().BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return Found{}, fmt.Errorf("search %s: %w", stream, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	if _, err := tx.Exec(ctx, `SELECT set_config('statement_timeout', $1, true)`, fmt.Sprint(o.Timeout.Milliseconds())); err != nil {
		return Found{}, fmt.Errorf("search %s: %w", stream, err)
	}
	rows, err := tx.Query(ctx, sql, append([]any{stream, o.From, o.Limit}, args...)...)
	if err != nil {
		return Found{}, runErr(err, o.Timeout)
	}
	var out Found
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v, &out.Total); err != nil {
			rows.Close()
			return Found{}, fmt.Errorf("search %s: %w", stream, err)
		}
		out.Versions = append(out.Versions, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Found{}, runErr(err, o.Timeout)
	}
	if len(out.Versions) == 0 {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM eventscope.streams WHERE stream_id = $1)`, stream).Scan(&exists); err != nil {
			return Found{}, fmt.Errorf("search %s: %w", stream, err)
		}
		if !exists {
			return Found{}, &store.NotFoundError{What: "stream " + stream}
		}
	}
	return out, nil
}
