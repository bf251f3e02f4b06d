package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"eventscope/store"
)

// batchRow is one row of eventscope.append_batch.
type batchRow struct {
	Version                  *int64
	Code, Message, DetailStr *string
}

// appendBatchCounting calls append_batch from plain SQL and reports, beside
// its rows, how many times it called eventscope.append (0: the set path).
func appendBatchCounting(t *testing.T, st *store.Store, appends string) ([]batchRow, int64) {
	t.Helper()
	ctx := context.Background()
	tx, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // committed below
	if _, err := tx.Exec(ctx, `SET LOCAL track_functions = 'all'`); err != nil {
		t.Fatal(err)
	}
	out := queryBatch(t, tx, appends)
	var calls int64
	if err := tx.QueryRow(ctx, `SELECT coalesce(pg_stat_get_xact_function_calls('eventscope.append(text,bigint,jsonb)'::regprocedure), 0)`).Scan(&calls); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return out, calls
}

// queryBatch calls append_batch on q and returns its rows.
func queryBatch(t *testing.T, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, appends string) []batchRow {
	t.Helper()
	rows, err := q.Query(context.Background(), `SELECT version, error_code, error_message, error_detail FROM eventscope.append_batch($1)`, appends)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (batchRow, error) {
		var b batchRow
		err := r.Scan(&b.Version, &b.Code, &b.Message, &b.DetailStr)
		return b, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAppendBatchSetBased: a plain batch (migration 013) is stored without
// calling eventscope.append per item, each item keeps append's outcome
// (versions, ES409 with its detail, ES410), and the batch's events sit
// together in the global log in input order. A batch that is not plain (an
// event id) takes the per-append path with the same outcomes.
func TestAppendBatchSetBased(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	mustAppend(t, st, "sb-exists", store.Any, ev("A", `{}`))
	mustAppend(t, st, "sb-stale", store.Any, ev("A", `{}`))
	mustAppend(t, st, "sb-closed", store.Any, ev("A", `{}`))
	if err := st.CloseStream(ctx, "sb-closed"); err != nil {
		t.Fatal(err)
	}
	before := len(visible(t, st, 3))

	rows, calls := appendBatchCounting(t, st, `[
		{"stream_id":"sb-new","expected_version":-1,"events":[{"type":"N1","data":{"i":1}},{"type":"N2","data":{"i":2},"metadata":null}]},
		{"stream_id":"sb-exists","expected_version":0,"events":[{"type":"E","data":{},"metadata":{"m":1}}]},
		{"stream_id":"sb-stale","expected_version":5,"events":[{"type":"S","data":{}}]},
		{"stream_id":"sb-closed","expected_version":null,"events":[{"type":"C","data":{}}]},
		{"stream_id":"sb-missing","expected_version":-2,"events":[{"type":"M","data":{}}]},
		{"stream_id":"sb-any","events":[{"type":"Y","data":{}}]}]`)
	if calls != 0 {
		t.Fatalf("a plain batch called eventscope.append %d times; want the set path", calls)
	}
	if len(rows) != 6 {
		t.Fatalf("%d rows, want 6", len(rows))
	}
	wantVersion := map[int]int64{0: 1, 1: 1, 5: 0}
	for i, r := range rows {
		if v, ok := wantVersion[i]; ok {
			if r.Version == nil || *r.Version != v || r.Code != nil {
				t.Fatalf("row %d: %+v, want version %d", i, r, v)
			}
		}
	}
	checkErr := func(i int, code, msg string, detail map[string]any) {
		t.Helper()
		r := rows[i]
		if r.Version != nil || r.Code == nil || *r.Code != code || *r.Message != msg {
			t.Fatalf("row %d: code %v message %v, want %s %q", i, deref(r.Code), deref(r.Message), code, msg)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(*r.DetailStr), &got); err != nil {
			t.Fatal(err)
		}
		for k, v := range detail {
			if got[k] != v {
				t.Fatalf("row %d detail %s = %v, want %v", i, k, got[k], v)
			}
		}
	}
	checkErr(2, "ES409", "append to sb-stale: expected version 5, stream is at 0", map[string]any{"stream_id": "sb-stale", "expected": 5.0, "actual": 0.0})
	checkErr(3, "ES410", "stream sb-closed is closed", map[string]any{"stream_id": "sb-closed"})
	checkErr(4, "ES409", "append to sb-missing: expected version exists, stream is at no-stream", map[string]any{"expected": -2.0, "actual": -1.0})

	all := visible(t, st, before+4)
	got := all[before:]
	want := []string{"sb-new/N1/0", "sb-new/N2/1", "sb-exists/E/1", "sb-any/Y/0"}
	for i, e := range got {
		if s := e.StreamID + "/" + e.Type + "/" + itoa(e.Version); s != want[i] {
			t.Fatalf("global log[%d] = %s, want %s (all: %v)", i, s, want[i], got)
		}
		if e.Position != got[0].Position+int64(i) {
			t.Fatalf("the batch's events are not together in the log: %+v", got)
		}
	}
	if string(got[1].Metadata) != `{}` || string(got[2].Metadata) != `{"m": 1}` && string(got[2].Metadata) != `{"m":1}` {
		t.Fatalf("metadata %s / %s", got[1].Metadata, got[2].Metadata)
	}
	ver, err := st.StreamVersion(ctx, "sb-exists")
	if err != nil || ver != 1 {
		t.Fatalf("sb-exists at %d (%v), want 1", ver, err)
	}

	// Not plain (an event id): append by append, the same kind of outcome.
	rows, calls = appendBatchCounting(t, st, `[
		{"stream_id":"sb-ids","expected_version":-1,"events":[{"id":"6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b","type":"I","data":{}}]},
		{"stream_id":"sb-stale","expected_version":5,"events":[{"type":"S","data":{}}]}]`)
	if calls == 0 {
		t.Fatal("a batch with an event id took the set path")
	}
	if len(rows) != 2 || rows[0].Version == nil || *rows[0].Version != 0 || rows[1].Code == nil || *rows[1].Code != "ES409" {
		t.Fatalf("rows %+v", rows)
	}
}

// TestAppendMultiLockWaitBounded: append_multi waits for a busy stream at
// most append_lock_timeout_ms, then fails with ES423 naming the append, and
// stores nothing (before migration 013 it waited without bound).
func TestAppendMultiLockWaitBounded(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	if _, err := st.Pool().Exec(ctx, `UPDATE eventscope.settings SET value = 50 WHERE name = 'append_lock_timeout_ms'`); err != nil {
		t.Fatal(err)
	}
	tx, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // the holder never commits
	if _, err := st.AppendTx(ctx, tx, "held-1", store.Any, ev("H", `{}`)); err != nil {
		t.Fatal(err)
	}
	_, err = st.AppendMulti(ctx, []store.StreamAppend{
		{Stream: "free-1", Expected: store.Any, Events: []store.NewEvent{ev("F", `{}`)}},
		{Stream: "held-1", Expected: store.Any, Events: []store.NewEvent{ev("F", `{}`)}},
	})
	var me *store.MultiError
	if !errors.As(err, &me) || me.Index != 1 || !errors.Is(err, store.ErrStreamBusy) {
		var pg *pgconn.PgError
		errors.As(err, &pg)
		t.Fatalf("AppendMulti on a held stream: %v (%+v), want a MultiError at 1 wrapping ErrStreamBusy", err, pg)
	}
	if v, err := st.StreamVersion(ctx, "free-1"); err == nil && v >= 0 {
		t.Fatalf("free-1 at version %d after a failed AppendMulti", v)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func itoa(v int64) string { b, _ := json.Marshal(v); return string(b) }

// TestAppendBatchCommonCase: the common group commit: every stream exists,
// none is held, every expected version holds (any, exact, exists), and the
// call takes the set path (no eventscope.append per item). Each append
// gets its version, multi-event appends keep their order, metadata null
// becomes {}, the call's events sit together in the global log in input
// order, and a session with wake-ups on notifies each category once. Then
// the same streams with one stale expectation: that append alone gets
// ES409, the others commit.
func TestAppendBatchCommonCase(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	for _, s := range []string{"cc-a", "cc-b", "cc-c", "other-d"} {
		mustAppend(t, st, s, store.NoStream, ev("Opened", `{}`))
	}
	before := len(visible(t, st, 4))

	listener, err := pgx.Connect(ctx, st.Pool().Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(ctx)
	if _, err := listener.Exec(ctx, `LISTEN eventscope`); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, st.Pool().Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SET eventscope.notify = 'on'; SET track_functions = 'all'`); err != nil {
		t.Fatal(err)
	}
	batch := func(appends string) []batchRow { t.Helper(); return queryBatch(t, conn, appends) }
	rows := batch(`[
		{"stream_id":"cc-a","expected_version":null,"events":[{"type":"A1","data":{"i":1}}]},
		{"stream_id":"cc-b","expected_version":0,"events":[{"type":"B1","data":{},"metadata":null},{"type":"B2","data":{},"metadata":{"m":2}}]},
		{"stream_id":"cc-c","expected_version":-2,"events":[{"type":"C1","data":{},"metadata":{"m":3}}]},
		{"stream_id":"other-d","events":[{"type":"D1","data":{}}]}]`)
	want := []int64{1, 2, 1, 1}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i, r := range rows {
		if r.Version == nil || *r.Version != want[i] || r.Code != nil {
			t.Fatalf("row %d: %+v, want version %d", i, r, want[i])
		}
	}
	var calls int64
	if err := conn.QueryRow(ctx, `SELECT coalesce(pg_stat_get_xact_function_calls('eventscope.append(text,bigint,jsonb)'::regprocedure), 0)`).Scan(&calls); err != nil || calls != 0 {
		t.Fatalf("the common batch called eventscope.append %d times (%v)", calls, err)
	}
	all := visible(t, st, before+5)
	got := all[before:]
	order := []string{"cc-a/A1/1", "cc-b/B1/1", "cc-b/B2/2", "cc-c/C1/1", "other-d/D1/1"}
	for i, e := range got {
		if s := e.StreamID + "/" + e.Type + "/" + itoa(e.Version); s != order[i] {
			t.Fatalf("global log[%d] = %s, want %s", i, s, order[i])
		}
		if e.Position != got[0].Position+int64(i) || e.Checkpoint.Tx != got[0].Checkpoint.Tx {
			t.Fatalf("the call's events are not together in the log: %+v", got)
		}
	}
	if string(got[1].Metadata) != `{}` || (string(got[3].Metadata) != `{"m": 3}` && string(got[3].Metadata) != `{"m":3}`) {
		t.Fatalf("metadata %s / %s", got[1].Metadata, got[3].Metadata)
	}
	// (The store's own wake-ups and the commit watcher notify too: only the
	// batch's session's count.)
	pid := conn.PgConn().PID()
	cats := map[string]int{}
	for len(cats) < 2 {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		n, err := listener.WaitForNotification(wctx)
		cancel()
		if err != nil {
			t.Fatalf("wake-ups: %v (got %v)", err, cats)
		}
		if n.PID == pid {
			cats[n.Payload]++
		}
	}
	if cats["cc"] != 1 || cats["other"] != 1 {
		t.Fatalf("wake-ups %v, want cc and other once", cats)
	}

	// One stale expectation: that append alone fails, as append would.
	rows = batch(`[
		{"stream_id":"cc-a","expected_version":1,"events":[{"type":"A2","data":{}}]},
		{"stream_id":"cc-b","expected_version":0,"events":[{"type":"B3","data":{}}]},
		{"stream_id":"cc-c","events":[{"type":"C2","data":{}}]}]`)
	if len(rows) != 3 || rows[0].Version == nil || *rows[0].Version != 2 || rows[2].Version == nil || *rows[2].Version != 2 ||
		rows[1].Code == nil || *rows[1].Code != "ES409" || *rows[1].Message != "append to cc-b: expected version 0, stream is at 2" {
		t.Fatalf("rows %+v", rows)
	}
	if v, err := st.StreamVersion(ctx, "cc-b"); err != nil || v != 2 {
		t.Fatalf("cc-b at %d (%v), want 2", v, err)
	}
}
