package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"eventscope/internal/testdb"
	"eventscope/store"
)

// sqlAppend calls eventscope.append from plain SQL with raw events JSON, as
// a service in another language would, bypassing the Go validation.
func sqlAppend(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, stream string, expected *int64, events string) (int64, error) {
	var v int64
	err := q.QueryRow(ctx, `SELECT eventscope.append($1, $2, $3::text::jsonb)`, stream, expected, events).Scan(&v)
	return v, err
}

// es400 decodes an ES400 error's JSON DETAIL.
func es400(t *testing.T, err error) (field string, index int, reason string) {
	t.Helper()
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || pg.Code != "ES400" {
		t.Fatalf("want ES400, got %v", err)
	}
	var d struct {
		Field  string `json:"field"`
		Index  *int   `json:"index"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal([]byte(pg.Detail), &d); err != nil {
		t.Fatalf("DETAIL %q: %v", pg.Detail, err)
	}
	index = -1
	if d.Index != nil {
		index = *d.Index
	}
	return d.Field, index, d.Reason
}

func nested(depth int) string {
	return `{"a":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`
}

// TestRulesAgreeGoAndSQL: each rule refuses the same input with the same
// field, index and reason from the Go client and from plain SQL.
func TestRulesAgreeGoAndSQL(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	cases := []struct {
		name, stream, typ, data, meta string
		field                         string
		index                         int
		reason                        string
	}{
		{"bidi override in stream id", "order-\u202e1", "T", `{}`, ``, "stream_id", -1, "must not contain whitespace, control or format characters (found U+202E)"},
		{"zero-width space in stream id", "order\u200b-1", "T", `{}`, ``, "stream_id", -1, "must not contain whitespace, control or format characters (found U+200B)"},
		{"BOM in stream id", "\ufefforder-1", "T", `{}`, ``, "stream_id", -1, "must not contain whitespace, control or format characters (found U+FEFF)"},
		{"ESC in type", "order-1", "Order\x1b[2JPlaced", `{}`, ``, "type", 0, "must not contain control or format characters (found U+001B)"},
		{"DEL in type", "order-1", "Order\x7f", `{}`, ``, "type", 0, "must not contain control or format characters (found U+007F)"},
		{"C1 CSI in type", "order-1", "Order\u009b", `{}`, ``, "type", 0, "must not contain control or format characters (found U+009B)"},
		{"newline in type", "order-1", "Order\nPlaced", `{}`, ``, "type", 0, "must not contain control or format characters (found U+000A)"},
		{"bidi override in type", "order-1", "Order\u202ePlaced", `{}`, ``, "type", 0, "must not contain control or format characters (found U+202E)"},
		{"zero-width joiner in type", "order-1", "Order\u200dPlaced", `{}`, ``, "type", 0, "must not contain control or format characters (found U+200D)"},
		{"tag character in type", "order-1", "Order\U000e0041", `{}`, ``, "type", 0, "must not contain control or format characters (found U+E0041)"},
		{"data too deep", "order-1", "T", nested(101), ``, "data", 0, "nests deeper than 100 levels"},
		{"metadata too deep", "order-1", "T", `{}`, nested(101), "metadata", 0, "nests deeper than 100 levels"},
		{"data not an object", "order-1", "T", `[1]`, ``, "data", 0, "must be a JSON object"},
		{"empty type", "order-1", "", `{}`, ``, "type", 0, "must be a non-empty string"},
	}
	for _, c := range cases {
		_, goErr := st.Append(ctx, c.stream, store.Any, store.NewEvent{Type: c.typ, Data: json.RawMessage(c.data), Metadata: json.RawMessage(c.meta)})
		var ve *store.ValidationError
		if !errors.As(goErr, &ve) {
			t.Errorf("%s: Go: want a ValidationError, got %v", c.name, goErr)
			continue
		}
		if ve.Field != c.field || ve.Index != c.index || ve.Reason != c.reason {
			t.Errorf("%s: Go: got %s/%d/%q, want %s/%d/%q", c.name, ve.Field, ve.Index, ve.Reason, c.field, c.index, c.reason)
		}
		typ, _ := json.Marshal(c.typ)
		obj := `{"type":` + string(typ) + `,"data":` + c.data
		if c.meta != "" {
			obj += `,"metadata":` + c.meta
		}
		_, sqlErr := sqlAppend(ctx, st.Pool(), c.stream, nil, "["+obj+"}]")
		f, i, r := es400(t, sqlErr)
		if f != c.field || i != c.index || r != c.reason {
			t.Errorf("%s: SQL: got %s/%d/%q, want %s/%d/%q", c.name, f, i, r, c.field, c.index, c.reason)
		}
	}
	// At the limit: 100 levels are fine from both.
	mustAppend(t, st, "order-deep", store.Any, ev("T", nested(100)))
	if _, err := sqlAppend(ctx, st.Pool(), "order-deep", nil, `[{"type":"T","data":`+nested(100)+`,"metadata":`+nested(100)+`}]`); err != nil {
		t.Fatalf("100 levels from SQL: %v", err)
	}
	// Nothing refused was stored.
	var n int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM eventscope.events WHERE stream_id <> 'order-deep'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("refused appends stored %d events (%v)", n, err)
	}
}

// TestRefusedCharactersMatchGo: the SQL API's refused characters are exactly
// the Go client's, code point by code point.
func TestRefusedCharactersMatchGo(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	for _, k := range []struct {
		fn      string
		refused func(rune) bool
	}{{"type_refused_chars", store.TypeRefused}, {"stream_id_refused_chars", store.StreamIDRefused}} {
		var got []int32
		err := st.Pool().QueryRow(ctx, `SELECT coalesce(array_agg(c ORDER BY c), '{}') FROM generate_series(1, 1114111) c
			WHERE (c < 55296 OR c > 57343) AND chr(c) ~ eventscope.`+k.fn+`()`).Scan(&got)
		if err != nil {
			t.Fatal(err)
		}
		sqlSet := map[rune]bool{}
		for _, c := range got {
			sqlSet[rune(c)] = true
		}
		for r := rune(1); r <= utf8.MaxRune; r++ {
			if r >= 0xD800 && r <= 0xDFFF {
				continue
			}
			if sqlSet[r] != k.refused(r) {
				t.Errorf("%s: U+%04X: SQL refuses %v, Go refuses %v", k.fn, r, sqlSet[r], k.refused(r))
			}
		}
	}
}

// TestUnknownEventFieldRefused: the SQL API refuses event fields it does not
// know (as the CLI's --batch does), naming the field, and stores nothing.
func TestUnknownEventFieldRefused(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	_, err := sqlAppend(ctx, st.Pool(), "order-1", nil, `[{"type":"A","data":{}},{"type":"B","data":{},"metdata":{"x":1}}]`)
	f, i, r := es400(t, err)
	if f != "metdata" || i != 1 || !strings.Contains(r, "not an event field") {
		t.Fatalf("got %s/%d/%q", f, i, r)
	}
	if _, err := st.StreamInfo(ctx, "order-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused batch created the stream: %v", err)
	}
}

// TestGoRefusesWhatJsonbCannotStore: NUL escapes, invalid UTF-8, unpaired
// surrogates and out-of-range numbers are a ValidationError naming the
// field, not a raw server error.
func TestGoRefusesWhatJsonbCannotStore(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	for _, c := range []struct{ name, data, meta, field string }{
		{"NUL escape in data", `{"name":"a\u0000b"}`, ``, "data"},
		{"NUL escape in metadata", `{}`, `{"k":"\u0000"}`, "metadata"},
		{"invalid UTF-8 in data", "{\"name\":\"\xff\xfe\"}", ``, "data"},
		{"invalid UTF-8 in metadata", `{}`, "{\"k\":\"\xc3\"}", "metadata"},
		{"unpaired surrogate", `{"s":"\ud800"}`, ``, "data"},
		{"exponent beyond numeric", `{"n":1e1001}`, ``, "data"},
	} {
		_, err := st.Append(ctx, "order-1", store.Any, store.NewEvent{Type: "T", Data: json.RawMessage(c.data), Metadata: json.RawMessage(c.meta)})
		var ve *store.ValidationError
		if !errors.As(err, &ve) || ve.Field != c.field || ve.Index != 0 {
			t.Errorf("%s: want a ValidationError on %s, got %#v", c.name, c.field, err)
		}
	}
	// An escaped backslash before u0000 is not a NUL.
	mustAppend(t, st, "order-1", store.Any, ev("T", `{"path":"C:\\u0000"}`))
}

// TestEventSizeCapIsServerSide: a session cannot raise the cap; only the
// owner of eventscope.settings changes it, and every session obeys at once.
func TestEventSizeCapIsServerSide(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	big := `[{"type":"T","data":{"s":"` + strings.Repeat("x", 1<<20) + `"}}]`
	conn, err := st.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET eventscope.max_event_bytes = '100000000'`); err != nil {
		t.Fatal(err)
	}
	_, err = sqlAppend(ctx, conn, "order-big", nil, big)
	if f, _, r := es400(t, err); f != "event" || !strings.Contains(r, "at most 1048576") {
		t.Fatalf("got %s %q", f, r)
	}
	// Another role may read the settings but not change them.
	role := fmt.Sprintf("es_cap_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, `CREATE ROLE `+role); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Pool().Exec(context.Background(), `DROP ROLE IF EXISTS `+role) })
	if _, err := conn.Exec(ctx, `GRANT USAGE ON SCHEMA eventscope TO `+role); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SET LOCAL ROLE `+role); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(ctx, `UPDATE eventscope.settings SET value = 100000000 WHERE name = 'max_event_bytes'`)
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || pg.Code != "42501" {
		t.Fatalf("another role changed the cap: %v", err)
	}
	tx.Rollback(ctx)
	// The owner lowers it; a session that already appended obeys at once.
	if _, err := sqlAppend(ctx, conn, "order-small", nil, `[{"type":"T","data":{"s":"`+strings.Repeat("y", 600)+`"}}]`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE eventscope.settings SET value = 500 WHERE name = 'max_event_bytes'`); err != nil {
		t.Fatal(err)
	}
	_, err = sqlAppend(ctx, conn, "order-small", nil, `[{"type":"T","data":{"s":"`+strings.Repeat("y", 600)+`"}}]`)
	if f, _, r := es400(t, err); f != "event" || !strings.Contains(r, "at most 500") {
		t.Fatalf("after lowering: %s %q", f, r)
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE eventscope.settings SET value = 0 WHERE name = 'max_event_bytes'`); err == nil {
		t.Fatal("a cap of 0 was accepted")
	}
}

// TestRecordedAtNeverDecreases: an append in a transaction that began before
// another append to the stream committed still records a later time, so the
// events recorded at or before any T are a prefix of the stream.
func TestRecordedAtNeverDecreases(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	tx, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var began time.Time
	if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&began); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, st, "order-1", store.Any, ev("A", `{}`)) // commits after tx began
	if _, err := st.AppendTx(ctx, tx, "order-1", store.Exact(0), ev("B", `{}`)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	evs, err := st.ReadStream(ctx, "order-1", store.ReadStreamOptions{})
	if err != nil || len(evs) != 2 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	if evs[1].RecordedAt.Before(evs[0].RecordedAt) {
		t.Fatalf("version 1 recorded at %s, before version 0 at %s", evs[1].RecordedAt, evs[0].RecordedAt)
	}
	if !evs[1].RecordedAt.After(began) {
		t.Fatalf("version 1 recorded at the transaction's start %s", began)
	}
}

// TestAppendLockBounded: a session that holds a stream's advisory lock makes
// appends to it fail after the server's bounded wait with a retryable error
// naming the stream (ES423 from SQL, ErrStreamBusy from Go), not hang; other
// streams are unaffected, and the stream works once the lock is gone.
func TestAppendLockBounded(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := st.Pool().Exec(ctx, `UPDATE eventscope.settings SET value = 200 WHERE name = 'append_lock_timeout_ms'`); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, st, "order-1", store.Any, ev("A", `{}`))
	hog, err := pgx.Connect(ctx, st.Pool().Config().ConnConfig.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer hog.Close(ctx)
	hx, err := hog.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hx.Exec(ctx, `SELECT pg_advisory_xact_lock(1702064754, hashtext('order-1'))`); err != nil {
		t.Fatal(err)
	}
	_, err = st.Append(ctx, "order-1", store.Any, ev("B", `{}`))
	var be *store.StreamBusyError
	if !errors.As(err, &be) || !errors.Is(err, store.ErrStreamBusy) || be.Stream != "order-1" {
		t.Fatalf("want StreamBusyError for order-1, got %v", err)
	}
	_, err = sqlAppend(ctx, st.Pool(), "order-1", nil, `[{"type":"C","data":{}}]`)
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || pg.Code != "ES423" || !strings.Contains(pg.Detail, `"order-1"`) {
		t.Fatalf("SQL: want ES423 naming order-1, got %v", err)
	}
	mustAppend(t, st, "order-2", store.Any, ev("A", `{}`))
	hx.Rollback(ctx)
	if v := mustAppend(t, st, "order-1", store.Any, ev("D", `{}`)); v != 1 {
		t.Fatalf("after the lock was released: version %d, want 1", v)
	}
}

// TestSQLAppendWaitsForABusyStream: a plain-SQL append that the fast path
// would take (one plain event, an existing stream) finds the stream's lock
// held by an open transaction that appended to it: it waits (migration 019
// sends it to the general path for that), then commits the next version, and
// its event sorts after the holder's in the global log.
func TestSQLAppendWaitsForABusyStream(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mustAppend(t, st, "order-1", store.Any, ev("A", `{}`))
	holder, err := pgx.Connect(ctx, st.Pool().Config().ConnConfig.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	hx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := sqlAppend(ctx, hx, "order-1", nil, `[{"type":"B","data":{}}]`); err != nil || v != 1 {
		t.Fatalf("holder's append: %d %v", v, err)
	}
	type result struct {
		v   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		exp := int64(1)
		v, err := sqlAppend(ctx, st.Pool(), "order-1", &exp, `[{"type":"C","data":{"n":1},"metadata":{"correlationId":"x"}}]`)
		done <- result{v, err}
	}()
	// The waiter blocks on the stream's advisory lock; poll until it does.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting bool
		if err := st.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("the append did not wait for the busy stream: %d %v", r.v, r.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the append never waited for the stream's lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := hx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.v != 2 {
		t.Fatalf("after the holder committed: version %d, %v; want 2", r.v, r.err)
	}
	var ordered bool
	if err := st.Pool().QueryRow(ctx, `SELECT (SELECT tx_id FROM eventscope.events WHERE stream_id = 'order-1' AND version = 1)
	                                        < (SELECT tx_id FROM eventscope.events WHERE stream_id = 'order-1' AND version = 2)`).Scan(&ordered); err != nil {
		t.Fatal(err)
	}
	if !ordered {
		t.Fatal("the waiter's event sorts before the holder's in the global log")
	}
}

// TestSQLAppendDoesNotNotify: a plain SQL append NOTIFYs only when the
// session opts in. Notifications arrive in commit order, so a sentinel sent
// after the append is the first one the listener sees when it did not.
func TestSQLAppendDoesNotNotify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.URL(t)
	st, err := store.Open(ctx, url, store.Options{NoNotify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	listener, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(ctx)
	if _, err := listener.Exec(ctx, "LISTEN "+store.NotifyChannel); err != nil {
		t.Fatal(err)
	}
	plain, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close(ctx)
	wait := func() string {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		n, err := listener.WaitForNotification(wctx)
		if err != nil {
			t.Fatal(err)
		}
		return n.Payload
	}
	for i := 0; i < 2; i++ { // a new stream, then an existing one
		if _, err := sqlAppend(ctx, plain, "invoice-1", nil, `[{"type":"A","data":{}}]`); err != nil {
			t.Fatal(err)
		}
		if _, err := plain.Exec(ctx, `SELECT pg_notify($1, 'sentinel')`, store.NotifyChannel); err != nil {
			t.Fatal(err)
		}
		if p := wait(); p != "sentinel" {
			t.Fatalf("a plain SQL append notified %q", p)
		}
	}
	if _, err := plain.Exec(ctx, `SET eventscope.notify = 'on'`); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlAppend(ctx, plain, "invoice-1", nil, `[{"type":"A","data":{}}]`); err != nil {
		t.Fatal(err)
	}
	if p := wait(); p != "invoice" {
		t.Fatalf("opted-in append notified %q", p)
	}
}

// FuzzSQLAppend: whatever events JSON a plain SQL caller sends, the append
// either stores it, so that every reader decodes it (Go's encoding/json
// included), or refuses it with an ES4xx error naming a field, or the text is
// not jsonb at all (class 22) — never another error.
func FuzzSQLAppend(f *testing.F) {
	f.Add("order-1", `[{"type":"A","data":{"x":1}}]`)
	f.Add("order-1", `[{"type":"A","data":{"x":1},"metadata":null,"id":"3f0f8f64-6c9e-4f4b-9a57-1df1f6a2b7c1"}]`)
	f.Add("order-\u202e", `[{"type":"A","data":{}}]`)
	f.Add("order-1", `[{"type":"A\u202e","data":{}}]`)
	f.Add("order-1", `[{"type":"A","data":{"a":[[[[[[[[[[]]]]]]]]]]}}]`)
	f.Add("order-1", `[{"type":"A","data":{},"x":1}]`)
	f.Add("order-1", `[{"type":"A","data":{"n":1e999}}]`)
	f.Add("order-1", `{"type":"A"}`)
	f.Add("customer-1", `[{"type":"A","data":{"name":"x"},"personal":{"subject":"customer-1","fields":["name"]}}]`)
	f.Add("customer-1", `[{"type":"A","data":{"a":{"b":1}},"personal":{"subject":"s","fields":[["a","b"]]}},{"type":"B","data":{}}]`)
	f.Add("customer-1", `[{"type":"A","data":{"name":null},"personal":{"subject":"s","fields":["name"],"erased":true}}]`)
	f.Add("customer-1", `[{"type":"A","data":{},"personal":null}]`)
	f.Add("customer-1", `[{"type":"A","data":{},"metadata":{"$personal":{}}}]`)
	st, err := store.Open(context.Background(), testdb.URL(f), store.Options{NoNotify: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(st.Close)
	f.Fuzz(func(t *testing.T, stream, events string) {
		ctx := context.Background()
		v, err := sqlAppend(ctx, st.Pool(), stream, nil, events)
		if err != nil {
			var pg *pgconn.PgError
			if !errors.As(err, &pg) {
				t.Fatalf("not a server error: %v", err)
			}
			switch {
			case pg.Code == "ES400":
				if field, _, reason := es400(t, err); field == "" || reason == "" {
					t.Fatalf("ES400 without a field and reason: %s", pg.Detail)
				}
			case strings.HasPrefix(pg.Code, "ES"), strings.HasPrefix(pg.Code, "22"):
			default:
				t.Fatalf("append(%q, %q): unexpected %s %s", stream, events, pg.Code, pg.Message)
			}
			return
		}
		evs, err := st.ReadStream(ctx, stream, store.ReadStreamOptions{From: v, Limit: 1})
		if err != nil || len(evs) != 1 {
			t.Fatalf("stored event unreadable: %v", err)
		}
		for _, raw := range []json.RawMessage{evs[0].Data, evs[0].Metadata} {
			var x map[string]any
			d := json.NewDecoder(strings.NewReader(string(raw)))
			d.UseNumber() // numbers beyond float64 are valid JSON; readers keep them as text
			if err := d.Decode(&x); err != nil {
				t.Fatalf("stored %s does not decode: %v", raw, err)
			}
		}
	})
}

// FuzzGoAndSQLAgree: an event the Go client refuses is refused by the SQL
// API too when a plain SQL caller sends it (ES400, or class 22 when the text
// is not jsonb); one it accepts is stored (it went through the SQL API).
func FuzzGoAndSQLAgree(f *testing.F) {
	f.Add("order-1", "OrderPlaced", `{"total":10}`, `{"correlationId":"x"}`)
	f.Add("order-\u202e1", "T", `{}`, ``)
	f.Add("order-1", "T\u200b", `{}`, ``)
	f.Add("order-1", "T", `{"a":`+strings.Repeat("[", 101)+strings.Repeat("]", 101)+`}`, ``)
	f.Add("order-1", "T", `{"a":"\u0000"}`, `null`)
	f.Add("order-1", "T", `[]`, `3`)
	st, err := store.Open(context.Background(), testdb.URL(f), store.Options{NoNotify: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(st.Close)
	f.Fuzz(func(t *testing.T, stream, typ, data, meta string) {
		ctx := context.Background()
		_, goErr := st.Append(ctx, stream, store.Any, store.NewEvent{Type: typ, Data: json.RawMessage(data), Metadata: json.RawMessage(meta)})
		if goErr == nil {
			return
		}
		if !errors.Is(goErr, store.ErrInvalid) {
			t.Fatalf("Go: %v is not ErrInvalid", goErr)
		}
		if !utf8.ValidString(typ) || !utf8.ValidString(stream) {
			return // no SQL text can carry it (json.Marshal would repair it)
		}
		tj, _ := json.Marshal(typ)
		obj := `{"type":` + string(tj) + `,"data":` + data
		if strings.TrimSpace(meta) != "" {
			obj += `,"metadata":` + meta
		}
		_, sqlErr := sqlAppend(ctx, st.Pool(), stream, nil, "["+obj+"}]")
		if sqlErr == nil {
			t.Fatalf("Go refused (%v) what SQL stored: stream %q, %s", goErr, stream, obj)
		}
	})
}

// FuzzFastAndGeneralPathsAgree: eventscope.append's fast path (one plain
// event on an existing stream, migration 020's qualified screen) and its
// general path (the same event on a new stream) accept and refuse the same
// events text: the same SQLSTATE and, for ES400, the same field; and what
// both store reads back the same (type, data, metadata). Each pair runs in
// transactions that are rolled back, so one call never changes the other's
// ground (a duplicate id, a version).
func FuzzFastAndGeneralPathsAgree(f *testing.F) {
	f.Add(`[{"type":"A","data":{"x":1}}]`, false, "", "", "", "", uint8(0))
	f.Add(`[{"type":"A","data":{},"metadata":null}]`, false, "", "", "", "", uint8(0))
	f.Add(`[{"type":"A","data":{},"metadata":{"correlationId":"c"}}]`, false, "", "", "", "", uint8(0))
	f.Add(`[{"type":"A","data":{},"metadata":[]}]`, false, "", "", "", "", uint8(0))
	f.Add(`[{"type":"A","data":{},"x":1}]`, false, "", "", "", "", uint8(0))
	f.Add(`[{"type":"","data":{}}]`, false, "", "", "", "", uint8(0))
	f.Add(`[{"type":"A\u202e","data":{}}]`, false, "", "", "", "", uint8(0))
	f.Add(`[{"type":"A","data":{"a":`+strings.Repeat("[", 99)+strings.Repeat("]", 99)+`}}]`, false, "", "", "", "", uint8(0))
	f.Add(`[{"type":"A","data":{"a":`+strings.Repeat("[", 100)+strings.Repeat("]", 100)+`}}]`, false, "", "", "", "", uint8(0))
	f.Add(`[{"type":"A","data":{"n":1e999}}]`, false, "", "", "", "", uint8(0))
	f.Add(`[{"type":"A","data":{},"metadata":{"$personal":{}}}]`, false, "", "", "", "", uint8(0))
	f.Add(`[{"id":"3f0f8f64-6c9e-4f4b-9a57-1df1f6a2b7c1","type":"A","data":{}}]`, false, "", "", "", "", uint8(0))
	f.Add(`[{"type":"A","data":{}},{"type":"B","data":{}}]`, false, "", "", "", "", uint8(0))
	f.Add(`[]`, false, "", "", "", "", uint8(0))
	f.Add(`{"type":"A","data":{}}`, false, "", "", "", "", uint8(0))
	f.Add("", true, "OrderPlaced", `1`, `{"correlationId":"c"}`, "", uint8(3))
	f.Add("", true, "T", `[]`, `null`, "", uint8(98))
	f.Add("", true, "T", `[]`, ``, "", uint8(99))
	f.Add("", true, "T", `{"b":"\u0000"}`, ``, "", uint8(0))
	f.Add("", true, "T\u200b", `1`, ``, "", uint8(0))
	f.Add("", true, "T", `1`, `{"$personal":1}`, "", uint8(0))
	f.Add("", true, "T", `1`, ``, "id", uint8(0))
	f.Add("", true, "T", `1e1000`, `3`, "", uint8(0))
	st, err := store.Open(context.Background(), testdb.URL(f), store.Options{NoNotify: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(st.Close)
	if _, err := st.Append(context.Background(), "fast-1", store.NoStream, store.NewEvent{Type: "Opened", Data: []byte(`{}`)}); err != nil {
		f.Fatal(err)
	}
	type outcome struct {
		code, field              string
		typ, data, metadata, err string
	}
	try := func(t *testing.T, stream, events string) outcome {
		ctx := context.Background()
		tx, err := st.Pool().Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck // always rolled back
		var o outcome
		if _, err := sqlAppend(ctx, tx, stream, nil, events); err != nil {
			var pg *pgconn.PgError
			if !errors.As(err, &pg) {
				t.Fatalf("not a server error: %v", err)
			}
			o.code, o.err = pg.Code, pg.Message
			if pg.Code == "ES400" {
				o.field, _, _ = es400(t, err)
			}
			return o
		}
		if err := tx.QueryRow(ctx, `SELECT type, data::text, metadata::text FROM eventscope.events
			WHERE stream_id = $1 ORDER BY version DESC LIMIT 1`, stream).Scan(&o.typ, &o.data, &o.metadata); err != nil {
			t.Fatal(err)
		}
		return o
	}
	// The fuzzer sees only Go's coverage, not the SQL's, so besides raw
	// text (mode 0) it builds one event from parts (mode 1): a type, data
	// nested nest levels deep around a fragment, metadata, and an extra key,
	// so that most inputs are jsonb and reach the screens.
	f.Fuzz(func(t *testing.T, events string, mode bool, typ, frag, meta, extra string, nest uint8) {
		if mode {
			tj, _ := json.Marshal(typ)
			data := frag
			for i := 0; i < int(nest)%130; i++ {
				data = `[` + data + `]`
			}
			obj := `{"type":` + string(tj) + `,"data":{"a":` + data + `}`
			if meta != "" {
				obj += `,"metadata":` + meta
			}
			if extra != "" {
				kj, _ := json.Marshal(extra)
				obj += `,` + string(kj) + `:1`
			}
			events = `[` + obj + `}]`
		}
		fast := try(t, "fast-1", events)
		general := try(t, "general-1", events)
		if fast.code != general.code || fast.field != general.field ||
			fast.typ != general.typ || fast.data != general.data || fast.metadata != general.metadata {
			t.Fatalf("%s:\n fast path    %+v\n general path %+v", events, fast, general)
		}
	})
}
