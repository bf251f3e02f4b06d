package query

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"eventscope/store"
)

// indexedKeys are the metadata keys with an expression index over every
// event that has them (migration 006; the causation index covers only
// events without a correlation id, so causationId is not one). An
// equality on one of them is compiled to the indexed expression, which
// compares the key's scalar value only (not the elements of an array
// there, as other paths do); Match does the same.
var indexedKeys = map[string]bool{store.CorrelationKey: true}

func (t *Term) indexed() bool {
	return t.Kind == Metadata && (t.Op == Eq || t.Op == Ne) && len(t.Path) == 1 && t.Path[0].IsKey &&
		indexedKeys[t.Path[0].Key] && (t.Value.Kind == "string" || t.Value.Kind == "number")
}

// Where compiles the query to a SQL condition on the events table aliased
// "e", numbering its parameters from $first. User text only ever travels
// in the returned arguments (jsonpath and jsonb values, LIKE patterns),
// never in the SQL text. An empty query compiles to "true".
func (q *Query) Where(first int) (string, []any) {
	var (
		conds []string
		args  []any
	)
	param := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", first+len(args)-1)
	}
	for i := range q.Terms {
		t := &q.Terms[i]
		var c string
		switch t.Kind {
		case Type:
			c = "e.type = ANY(" + param(t.Values) + "::text[])"
		case Category:
			c = "eventscope.category(e.stream_id) = ANY(" + param(t.Values) + "::text[])"
		case Stream:
			pats := make([]string, len(t.Values))
			for i, g := range t.Values {
				pats[i] = globToLike(g)
			}
			c = "e.stream_id LIKE ANY(" + param(pats) + "::text[])"
		case After:
			c = "e.recorded_at >= " + param(t.Time) + "::timestamptz"
		case Before:
			c = "e.recorded_at < " + param(t.Time) + "::timestamptz"
		case Data, Metadata:
			col := "e.data"
			if t.Kind == Metadata {
				col = "e.metadata"
			}
			if t.indexed() {
				k := param(t.Path[0].Key)
				c = "(" + col + " ? " + k + "::text AND " + col + "->>" + k + "::text = " + param(t.Value.Text) + "::text)"
				if t.Op == Ne {
					c = "NOT coalesce(" + c + ", false)"
				}
				break
			}
			path, vars := t.jsonpath()
			c = "coalesce(jsonb_path_exists(" + col + ", " + param(path) + "::jsonpath, " + param(vars) + "::jsonb, true), false)"
			if t.Op == Ne {
				c = "NOT " + c
			}
		}
		if t.Negate {
			c = "NOT coalesce(" + c + ", false)"
		}
		conds = append(conds, c)
	}
	if len(conds) == 0 {
		return "true", nil
	}
	return strings.Join(conds, " AND "), args
}

// jsonpath is the predicate as a lax jsonpath and its variables. Keys and a
// regular expression are JSON-quoted string literals inside the path (which
// is itself a query parameter); the compared value is the variable $v.
func (t *Term) jsonpath() (string, string) {
	var b strings.Builder
	b.WriteString("lax $")
	for _, s := range t.Path {
		switch {
		case s.IsKey:
			b.WriteByte('.')
			b.WriteString(jsonQuote(s.Key))
		case s.Index < 0:
			b.WriteString("[*]")
		default:
			fmt.Fprintf(&b, "[%d]", s.Index)
		}
	}
	op := t.Op
	if op == Ne {
		op = Eq
	}
	vars := map[string]json.RawMessage{}
	switch t.Value.Kind {
	case "number":
		vars["v"] = json.RawMessage(t.Value.Text)
		vars["s"] = json.RawMessage(jsonQuote(t.Value.Text))
	case "string":
		vars["v"] = json.RawMessage(jsonQuote(t.Value.Text))
	default: // true, false, null
		vars["v"] = json.RawMessage(t.Value.Text)
	}
	switch {
	case op == Match:
		pat, flags := splitFlags(t.Value.Text)
		b.WriteString(" ? (@ like_regex " + jsonQuote(pat))
		if flags != "" {
			b.WriteString(" flag " + jsonQuote(flags))
		}
		b.WriteString(")")
		vars = map[string]json.RawMessage{}
	case op == Eq && t.Value.Kind == "number" && t.Value.Bare:
		b.WriteString(" ? (@ == $v || @ == $s)")
	default:
		b.WriteString(" ? (@ " + map[Op]string{Eq: "==", Gt: ">", Ge: ">=", Lt: "<", Le: "<="}[op] + " $v)")
		delete(vars, "s")
	}
	v, _ := json.Marshal(vars)
	return b.String(), string(v)
}

// splitFlags moves a leading RE2 flag group ((?i), (?is), ...) of the
// flags jsonpath's like_regex knows (i, m, s) out of the pattern.
func splitFlags(re string) (string, string) {
	if !strings.HasPrefix(re, "(?") {
		return re, ""
	}
	end := strings.IndexByte(re, ')')
	if end < 0 {
		return re, ""
	}
	flags := re[2:end]
	if flags == "" || strings.Trim(flags, "ims") != "" {
		return re, ""
	}
	return re[end+1:], flags
}

func jsonQuote(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// globToLike turns * and ? into LIKE's % and _, escaping LIKE's own.
func globToLike(g string) string {
	var b strings.Builder
	for _, r := range g {
		switch r {
		case '*':
			b.WriteByte('%')
		case '?':
			b.WriteByte('_')
		case '%', '_', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// RunOptions bound a run.
type RunOptions struct {
	// After is the checkpoint to read after. Default the start of the log.
	After store.Checkpoint
	// Limit caps the events returned. Default 1000.
	Limit int
	// Timeout is the statement timeout on the server. Default 30s.
	Timeout time.Duration
}

// Result sums up a run.
type Result struct {
	// Events is the number of events passed to the callback.
	Events int
	// Next is the checkpoint of the last event returned (After when none
	// was): resume with it to read the following page.
	Next store.Checkpoint
	// More is set when the limit cut the results.
	More bool
}

// ErrTimeout is returned (wrapped) when the statement timeout ended a run.
var ErrTimeout = errors.New("query ran past its statement timeout")

// Run evaluates the query on the server, in the global log's order (only
// events below the oldest running transaction, as every reader of the
// global log, so paging with Next never skips one), and streams the
// matching events to fn as they arrive. It runs in a read-only
// transaction under a statement timeout.
func Run(ctx context.Context, st *store.Store, q *Query, o RunOptions, fn func(store.Event) error) (Result, error) {
	return RunFilter(ctx, st, q.Filter(), o, fn)
}

// RunFilter is Run for a Filter (a query plus plain words and a leading
// "!", as the console types them).
func RunFilter(ctx context.Context, st *store.Store, f Filter, o RunOptions, fn func(store.Event) error) (Result, error) {
	if o.Limit <= 0 {
		o.Limit = 1000
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	res := Result{Next: o.After}
	where, args := f.Where(4)
	sql := `SELECT ` + store.EventColumns + `
		  FROM eventscope.events e
		 WHERE (e.tx_id, e.position) > ($1::xid8, $2)
		   AND e.tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
		   AND ` + where + `
		 ORDER BY e.tx_id, e.position LIMIT $3`
	tx, err := st.Pool().BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return res, fmt.Errorf("query: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	if _, err := tx.Exec(ctx, `SELECT set_config('statement_timeout', $1, true)`, fmt.Sprint(o.Timeout.Milliseconds())); err != nil {
		return res, fmt.Errorf("query: %w", err)
	}
	rows, err := tx.Query(ctx, sql, append([]any{o.After.Tx, o.After.Pos, o.Limit}, args...)...)
	if err != nil {
		return res, runErr(err, o.Timeout)
	}
	defer rows.Close()
	for rows.Next() {
		var e store.Event
		if err := rows.Scan(&e.StreamID, &e.Version, &e.Position, &e.Checkpoint.Tx, &e.EventID, &e.Type, &e.Data, &e.Metadata, &e.RecordedAt); err != nil {
			return res, fmt.Errorf("query: %w", err)
		}
		e.Checkpoint.Pos = e.Position
		if err := fn(e); err != nil {
			return res, err
		}
		res.Events++
		res.Next = e.Checkpoint
	}
	if err := rows.Err(); err != nil {
		return res, runErr(err, o.Timeout)
	}
	res.More = res.Events == o.Limit
	return res, nil
}

func runErr(err error, timeout time.Duration) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "57014":
			return fmt.Errorf("query: %w (%s): narrow it (type:, stream:, after:) or resume with --after", ErrTimeout, timeout)
		case "2201B":
			return &store.ValidationError{Field: "query", Index: -1, Reason: "the server refused a regular expression: " + pg.Message}
		}
	}
	return fmt.Errorf("query: %w", err)
}
