package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"eventscope/internal/testdb"
	"eventscope/store"
)

// setup returns a Store on a fresh database of the test's own.
func setup(t *testing.T) (*store.Store, context.Context) {
	t.Helper()
	return testdb.Store(t), context.Background()
}

// setupPrivate returns a Store on a private cluster of the test's own, for
// tests that hold transactions open (which holds the global log back for
// every database of a cluster) or assert on what holds it back.
func setupPrivate(t *testing.T) (*store.Store, context.Context) {
	t.Helper()
	return testdb.PrivateStore(t), context.Background()
}

// visible waits until the global log shows n events. Any transaction open in
// the cluster (another test's, in another database) briefly holds the log
// back, so reads of it are checked eventually, never at once.
func visible(t *testing.T, st *store.Store, n int) []store.Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := st.ReadAll(context.Background(), store.Start, store.ReadAllOptions{Limit: n + 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Events) >= n || time.Now().After(deadline) {
			if len(p.Events) != n {
				t.Fatalf("global log shows %d events, want %d", len(p.Events), n)
			}
			return p.Events
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ev(typ, data string) store.NewEvent {
	return store.NewEvent{Type: typ, Data: json.RawMessage(data)}
}

func mustAppend(t *testing.T, st *store.Store, stream string, exp store.ExpectedVersion, evs ...store.NewEvent) int64 {
	t.Helper()
	v, err := st.Append(context.Background(), stream, exp, evs...)
	if err != nil {
		t.Fatalf("append to %s: %v", stream, err)
	}
	return v
}

func TestAppendAndReadStream(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)

	if v := mustAppend(t, st, "order-1", store.NoStream, ev("OrderPlaced", `{"total":10}`)); v != 0 {
		t.Fatalf("first version = %d, want 0", v)
	}
	if v := mustAppend(t, st, "order-1", store.Exact(0), ev("OrderApproved", `{}`), ev("OrderShipped", `{"by":"ups"}`)); v != 2 {
		t.Fatalf("version after batch = %d, want 2", v)
	}
	if v := mustAppend(t, st, "order-1", store.StreamExists, ev("Note", `{}`)); v != 3 {
		t.Fatalf("version = %d, want 3", v)
	}
	if v := mustAppend(t, st, "order-1", store.Any, ev("Note", `{}`)); v != 4 {
		t.Fatalf("version = %d, want 4", v)
	}

	evs, err := st.ReadStream(ctx, "order-1", store.ReadStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for i, e := range evs {
		if e.Version != int64(i) {
			t.Fatalf("event %d has version %d", i, e.Version)
		}
		if e.StreamID != "order-1" || e.EventID == uuid.Nil || e.RecordedAt.IsZero() || string(e.Metadata) != "{}" {
			t.Fatalf("event %d incomplete: %+v", i, e)
		}
		if i > 0 && !evs[i-1].Checkpoint.Less(e.Checkpoint) {
			t.Fatalf("checkpoints not increasing: %s then %s", evs[i-1].Checkpoint, e.Checkpoint)
		}
		types = append(types, e.Type)
	}
	if got := strings.Join(types, ","); got != "OrderPlaced,OrderApproved,OrderShipped,Note,Note" {
		t.Fatalf("types = %s", got)
	}
	if string(evs[0].Data) != `{"total": 10}` {
		t.Fatalf("data = %s", evs[0].Data)
	}

	t.Run("backward from the end with a limit", func(t *testing.T) {
		got, err := st.ReadStream(ctx, "order-1", store.ReadStreamOptions{Backward: true, FromEnd: true, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Version != 4 || got[1].Version != 3 {
			t.Fatalf("got %v", versions(got))
		}
	})
	t.Run("forward pages", func(t *testing.T) {
		got, err := st.ReadStream(ctx, "order-1", store.ReadStreamOptions{From: 2, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(versions(got)) != "[2 3]" {
			t.Fatalf("got %v", versions(got))
		}
	})
	t.Run("unknown stream is not found", func(t *testing.T) {
		_, err := st.ReadStream(ctx, "order-404", store.ReadStreamOptions{})
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})
	t.Run("past the end of an existing stream is empty", func(t *testing.T) {
		got, err := st.ReadStream(ctx, "order-1", store.ReadStreamOptions{From: 99})
		if err != nil || len(got) != 0 {
			t.Fatalf("got %v, %v", versions(got), err)
		}
	})
	t.Run("stream info", func(t *testing.T) {
		info, err := st.StreamInfo(ctx, "order-1")
		if err != nil {
			t.Fatal(err)
		}
		if info.Category != "order" || info.Version != 4 || info.EventCount != 5 || info.Closed() {
			t.Fatalf("info = %+v", info)
		}
		if _, err := st.StreamInfo(ctx, "nope-1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
}

func versions(evs []store.Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.Version
	}
	return out
}

func TestExpectedVersionConflicts(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	mustAppend(t, st, "order-7", store.NoStream, ev("A", `{}`), ev("B", `{}`))

	cases := []struct {
		name     string
		stream   string
		expected store.ExpectedVersion
		actual   int64
	}{
		{"no-stream on an existing stream", "order-7", store.NoStream, 1},
		{"stale exact version", "order-7", store.Exact(0), 1},
		{"future exact version", "order-7", store.Exact(5), 1},
		{"exists on a missing stream", "order-8", store.StreamExists, -1},
		{"exact version on a missing stream", "order-8", store.Exact(0), -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := st.Append(ctx, c.stream, c.expected, ev("X", `{}`))
			var ce *store.ConflictError
			if !errors.As(err, &ce) || !errors.Is(err, store.ErrConflict) {
				t.Fatalf("err = %v, want a ConflictError", err)
			}
			if ce.Stream != c.stream || ce.Expected != c.expected || ce.Actual != c.actual {
				t.Fatalf("conflict = %+v, want actual %d", ce, c.actual)
			}
			if !strings.Contains(err.Error(), c.stream) {
				t.Fatalf("message %q does not name the stream", err)
			}
		})
	}
	evs, _ := st.ReadStream(ctx, "order-7", store.ReadStreamOptions{})
	if len(evs) != 2 {
		t.Fatalf("conflicts changed the stream: %d events", len(evs))
	}
	if _, err := st.StreamInfo(ctx, "order-8"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a failed append created order-8: %v", err)
	}
}

func TestIdempotentAppendByEventID(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	id1, id2 := uuid.New(), uuid.New()
	batch := []store.NewEvent{
		{ID: id1, Type: "OrderPlaced", Data: json.RawMessage(`{"total":5}`), Metadata: json.RawMessage(`{"correlationId":"c1"}`)},
		{ID: id2, Type: "OrderApproved", Data: json.RawMessage(`{}`)},
	}
	if v := mustAppend(t, st, "order-9", store.NoStream, batch...); v != 1 {
		t.Fatalf("v = %d", v)
	}
	mustAppend(t, st, "order-9", store.Any, ev("Later", `{}`))

	// The same batch again (a retry with the same expected version) is a no-op
	// that returns the version of its last event.
	v, err := st.Append(ctx, "order-9", store.NoStream, batch...)
	if err != nil || v != 1 {
		t.Fatalf("retry: v=%d err=%v, want 1, nil", v, err)
	}

	t.Run("same id, other content", func(t *testing.T) {
		_, err := st.Append(ctx, "order-9", store.Any, store.NewEvent{ID: id1, Type: "OrderPlaced", Data: json.RawMessage(`{"total":6}`)})
		if !errors.Is(err, store.ErrDuplicateEvent) || !strings.Contains(err.Error(), id1.String()) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("same id in another stream", func(t *testing.T) {
		_, err := st.Append(ctx, "order-10", store.Any, batch[1])
		if !errors.Is(err, store.ErrDuplicateEvent) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("same id twice in one batch", func(t *testing.T) {
		id := uuid.New()
		_, err := st.Append(ctx, "order-11", store.Any, store.NewEvent{ID: id, Type: "A", Data: json.RawMessage(`{}`)}, store.NewEvent{ID: id, Type: "A", Data: json.RawMessage(`{}`)})
		if !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("same new id raced onto two streams", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			id := uuid.New()
			errs := make(chan error, 2)
			for _, stream := range []string{fmt.Sprintf("race-a%d", i), fmt.Sprintf("race-b%d", i)} {
				go func() {
					_, err := st.Append(ctx, stream, store.Any, store.NewEvent{ID: id, Type: "A", Data: json.RawMessage(`{}`)})
					errs <- err
				}()
			}
			e1, e2 := <-errs, <-errs
			if (e1 == nil) == (e2 == nil) {
				t.Fatalf("want exactly one winner: %v, %v", e1, e2)
			}
			if lost := errors.Join(e1, e2); !errors.Is(lost, store.ErrDuplicateEvent) {
				t.Fatalf("loser's error %v is not ErrDuplicateEvent", lost)
			}
		}
	})
	t.Run("stored id mixed with a new event", func(t *testing.T) {
		_, err := st.Append(ctx, "order-9", store.Any, batch[0], store.NewEvent{ID: uuid.New(), Type: "X", Data: json.RawMessage(`{}`)})
		if !errors.Is(err, store.ErrDuplicateEvent) {
			t.Fatalf("err = %v", err)
		}
	})
	evs, _ := st.ReadStream(ctx, "order-9", store.ReadStreamOptions{})
	if len(evs) != 3 {
		t.Fatalf("stream has %d events, want 3", len(evs))
	}
	for _, s := range []string{"order-10", "order-11"} {
		if _, err := st.StreamInfo(ctx, s); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s was created by a rejected append", s)
		}
	}
}

func TestClosedStream(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	mustAppend(t, st, "cart-1", store.Any, ev("ItemAdded", `{}`))
	if err := st.CloseStream(ctx, "cart-1"); err != nil {
		t.Fatal(err)
	}
	if err := st.CloseStream(ctx, "cart-1"); err != nil {
		t.Fatalf("closing twice: %v", err)
	}
	for _, exp := range []store.ExpectedVersion{store.Any, store.Exact(0), store.StreamExists} {
		_, err := st.Append(ctx, "cart-1", exp, ev("ItemAdded", `{}`))
		var ce *store.StreamClosedError
		if !errors.As(err, &ce) || !errors.Is(err, store.ErrStreamClosed) {
			t.Fatalf("expected %s: err = %v, want StreamClosedError", exp, err)
		}
	}
	evs, err := st.ReadStream(ctx, "cart-1", store.ReadStreamOptions{})
	if err != nil || len(evs) != 1 {
		t.Fatalf("closed stream unreadable: %v %v", evs, err)
	}
	info, _ := st.StreamInfo(ctx, "cart-1")
	if !info.Closed() {
		t.Fatal("info does not say closed")
	}
	if err := st.CloseStream(ctx, "cart-404"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("closing a missing stream: %v", err)
	}
}

// TestValidation checks each bad input gets an error naming the field, from
// the Go client and from the SQL API, and changes nothing.
func TestValidation(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	mustAppend(t, st, "order-1", store.Any, ev("OrderPlaced", `{}`))
	big := `{"x":"` + strings.Repeat("a", 1<<20) + `"}`
	cases := []struct {
		name, stream string
		events       []store.NewEvent
		field        string
	}{
		{"empty stream id", "", []store.NewEvent{ev("A", `{}`)}, "stream_id"},
		{"stream id with a space", "order 1", []store.NewEvent{ev("A", `{}`)}, "stream_id"},
		{"stream id with a control character", "order-\x01", []store.NewEvent{ev("A", `{}`)}, "stream_id"},
		{"stream id over 200 bytes", strings.Repeat("s", 201), []store.NewEvent{ev("A", `{}`)}, "stream_id"},
		{"no events", "order-1", nil, "events"},
		{"empty type", "order-1", []store.NewEvent{ev("", `{}`)}, "type"},
		{"type over 200 bytes", "order-1", []store.NewEvent{ev(strings.Repeat("t", 201), `{}`)}, "type"},
		{"data is an array", "order-1", []store.NewEvent{ev("A", `[]`)}, "data"},
		{"data is a string", "order-1", []store.NewEvent{ev("A", `"x"`)}, "data"},
		{"data is not JSON", "order-1", []store.NewEvent{ev("A", `{x}`)}, "data"},
		{"metadata is a number", "order-1", []store.NewEvent{{Type: "A", Data: json.RawMessage(`{}`), Metadata: json.RawMessage(`3`)}}, "metadata"},
		{"event over 1 MiB", "order-1", []store.NewEvent{ev("A", big)}, "event"},
		{"second event bad", "order-1", []store.NewEvent{ev("A", `{}`), ev("B", `[]`)}, "data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := st.Append(ctx, c.stream, store.Any, c.events...)
			var ve *store.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			if ve.Field != c.field || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("field = %q (%v), want %q", ve.Field, err, c.field)
			}
		})
	}

	// The SQL API checks the same things for callers that bypass Go.
	sqlCases := []struct {
		name, stream, events, field string
		expected                    *int64
	}{
		{"sql: empty stream", "", `[{"type":"A","data":{}}]`, "stream_id", nil},
		{"sql: whitespace", "a b", `[{"type":"A","data":{}}]`, "stream_id", nil},
		{"sql: not an array", "order-1", `{"type":"A"}`, "events", nil},
		{"sql: empty array", "order-1", `[]`, "events", nil},
		{"sql: missing type", "order-1", `[{"data":{}}]`, "type", nil},
		{"sql: type not a string", "order-1", `[{"type":5,"data":{}}]`, "type", nil},
		{"sql: missing data", "order-1", `[{"type":"A"}]`, "data", nil},
		{"sql: metadata array", "order-1", `[{"type":"A","data":{},"metadata":[]}]`, "metadata", nil},
		{"sql: bad id", "order-1", `[{"id":"nope","type":"A","data":{}}]`, "id", nil},
		{"sql: expected -3", "order-1", `[{"type":"A","data":{}}]`, "expected_version", ptr(int64(-3))},
		{"sql: long type behind a newline", "order-1", `[{"type":"a\n` + strings.Repeat("b", 300) + `","data":{}}]`, "type", nil},
		{"sql: no-break space in stream", "order\u00a01", `[{"type":"A","data":{}}]`, "stream_id", nil},
		{"sql: id twice in a batch", "order-1", `[{"id":"0b6c1d1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e","type":"A","data":{}},{"id":"0b6c1d1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e","type":"A","data":{}}]`, "id", nil},
	}
	for _, c := range sqlCases {
		t.Run(c.name, func(t *testing.T) {
			var v int64
			err := st.Pool().QueryRow(ctx, `SELECT eventscope.append($1, $2, $3::jsonb)`, c.stream, c.expected, c.events).Scan(&v)
			if err == nil || !strings.Contains(err.Error(), c.field) || !strings.Contains(err.Error(), "ES400") {
				t.Fatalf("err = %v, want ES400 naming %s", err, c.field)
			}
		})
	}
	// A highly compressible 3 MB event must not slip under the 1 MiB cap
	// (the function's argument may arrive compressed).
	t.Run("sql: compressed oversize event", func(t *testing.T) {
		var v int64
		err := st.Pool().QueryRow(ctx, `SELECT eventscope.append('order-1', NULL,
			jsonb_build_array(jsonb_build_object('type', 'Big', 'data', jsonb_build_object('x', repeat('a', 3000000)))))`).Scan(&v)
		if err == nil || !strings.Contains(err.Error(), "ES400") {
			t.Fatalf("err = %v, want ES400", err)
		}
	})
	evs, err := st.ReadStream(ctx, "order-1", store.ReadStreamOptions{})
	if err != nil || len(evs) != 1 {
		t.Fatalf("bad input changed order-1: %d events, %v", len(evs), err)
	}
	s, _ := st.Stats(ctx, store.StatsOptions{})
	if s.Events != 1 || s.Streams != 1 {
		t.Fatalf("bad input changed the store: %+v", s)
	}
}

func ptr[T any](v T) *T { return &v }

// TestSQLAPI appends through plain SQL alone and reads back through Go.
func TestSQLAPI(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	conn, err := pgx.Connect(ctx, st.Pool().Config().ConnConfig.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v int64
	err = conn.QueryRow(ctx, `SELECT eventscope.append('invoice-3', -1,
		'[{"id":"0b6c1d1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e","type":"InvoiceIssued","data":{"amount":1200},"metadata":{"correlationId":"abc"}},
		  {"type":"InvoicePaid","data":{}}]')`).Scan(&v)
	if err != nil || v != 1 {
		t.Fatalf("append via SQL: v=%d err=%v", v, err)
	}
	// Conflicts from SQL carry the actual version in DETAIL.
	_, err = conn.Exec(ctx, `SELECT eventscope.append('invoice-3', 0, '[{"type":"X","data":{}}]')`)
	if err == nil || !strings.Contains(err.Error(), "ES409") {
		t.Fatalf("stale expected version via SQL: %v", err)
	}
	evs, err := st.ReadStream(ctx, "invoice-3", store.ReadStreamOptions{})
	if err != nil || len(evs) != 2 {
		t.Fatalf("read back: %v %v", evs, err)
	}
	if evs[0].EventID.String() != "0b6c1d1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e" || string(evs[0].Metadata) != `{"correlationId": "abc"}` {
		t.Fatalf("event 0 = %+v", evs[0])
	}
	// The SQL read functions agree with the Go client.
	visible(t, st, 2)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM eventscope.read_stream('invoice-3')`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("read_stream: %d %v", n, err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM eventscope.read_category('invoice')`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("read_category: %d %v", n, err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM eventscope.read_all('0', 0, 10)`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("read_all: %d %v", n, err)
	}
}

func TestReadAllFiltersAndCheckpoints(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	for i := 0; i < 10; i++ {
		mustAppend(t, st, fmt.Sprintf("order-%d", i), store.Any, ev("OrderPlaced", `{}`))
		mustAppend(t, st, fmt.Sprintf("customer-%d", i), store.Any, ev("CustomerRegistered", `{}`))
		mustAppend(t, st, fmt.Sprintf("order-%d", i), store.Any, ev("OrderShipped", `{}`))
	}
	visible(t, st, 30)
	// Page through everything in small pages.
	var all []store.Event
	cp := store.Start
	for {
		p, err := st.ReadAll(ctx, cp, store.ReadAllOptions{Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.Events...)
		cp = p.Next
		if p.Scanned < 7 {
			break
		}
	}
	if len(all) != 30 {
		t.Fatalf("read %d events, want 30", len(all))
	}
	head, _ := st.Head(ctx)
	if head != cp || head != all[29].Checkpoint {
		t.Fatalf("head %s, last %s, next %s", head, all[29].Checkpoint, cp)
	}
	// Checkpoints survive their text form.
	for _, e := range all {
		back, err := store.ParseCheckpoint(e.Checkpoint.String())
		if err != nil || back != e.Checkpoint {
			t.Fatalf("checkpoint %s round trip: %v %v", e.Checkpoint, back, err)
		}
	}

	// A filtered read returns matches only, up to Limit, in global order.
	p, err := st.ReadAll(ctx, store.Start, store.ReadAllOptions{Limit: 4, Categories: []string{"customer"}})
	if err != nil {
		t.Fatal(err)
	}
	if !p.More || len(p.Events) != 4 || p.Next != all[10].Checkpoint {
		t.Fatalf("filtered page: more %v, %d events, next %s (want true, 4, %s)", p.More, len(p.Events), p.Next, all[10].Checkpoint)
	}
	for _, e := range p.Events {
		if e.Category() != "customer" || len(e.Data) == 0 {
			t.Fatalf("unexpected %+v", e)
		}
	}
	// Caught up, it moves to the head: nothing matching lies before it.
	p, err = st.ReadAll(ctx, p.Next, store.ReadAllOptions{Limit: 100, Categories: []string{"customer"}})
	if err != nil || p.More || len(p.Events) != 6 || p.Next != head || p.Scanned != 6 {
		t.Fatalf("rest of the category: %d events, more %v, next %s (head %s), %v", len(p.Events), p.More, p.Next, head, err)
	}
	p, err = st.ReadAll(ctx, store.Start, store.ReadAllOptions{Limit: 100, Categories: []string{"order"}, Types: []string{"OrderShipped"}})
	if err != nil || len(p.Events) != 10 || p.More {
		t.Fatalf("by type: %d events, more %v, %v", len(p.Events), p.More, err)
	}
	p, err = st.ReadCategory(ctx, "nothing", store.Start, 100)
	if err != nil || len(p.Events) != 0 || p.Next != head {
		t.Fatalf("empty category: %+v %v", p, err)
	}
	// CheckpointAt: before the first event at or after a time.
	at, err := st.CheckpointAt(ctx, all[15].RecordedAt)
	if err != nil {
		t.Fatal(err)
	}
	if at.Compare(all[15].Checkpoint) >= 0 {
		t.Fatalf("CheckpointAt = %s, want before %s", at, all[15].Checkpoint)
	}
	if at, _ := st.CheckpointAt(ctx, time.Now().Add(time.Hour)); at != head {
		t.Fatalf("CheckpointAt(future) = %s, want head %s", at, head)
	}
	if at, _ := st.CheckpointAt(ctx, time.Now().Add(-time.Hour)); at != store.Start {
		t.Fatalf("CheckpointAt(past) = %s, want start", at)
	}
}

func TestListStreams(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	for i := 0; i < 25; i++ {
		mustAppend(t, st, fmt.Sprintf("order-%02d", i), store.Any, ev("A", `{}`))
	}
	for i := 0; i < 5; i++ {
		mustAppend(t, st, fmt.Sprintf("customer-%d", i), store.Any, ev("A", `{}`))
	}
	mustAppend(t, st, "order_x-1", store.Any, ev("A", `{}`)) // '_' must not act as a LIKE wildcard
	var ids []string
	after := ""
	for pages := 0; ; pages++ {
		l, err := st.ListStreams(ctx, store.ListStreamsOptions{Category: "order", Limit: 10, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range l.Streams {
			ids = append(ids, s.StreamID)
		}
		if l.Next == "" {
			break
		}
		after = l.Next
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(ids) != 25 || ids[0] != "order-00" || ids[24] != "order-24" {
		t.Fatalf("ids = %v", ids)
	}
	// Reverse: the last page without reading the rest, and paging on
	// backwards to the first.
	var back []string
	after = ""
	for pages := 0; ; pages++ {
		l, err := st.ListStreams(ctx, store.ListStreamsOptions{Category: "order", Limit: 10, After: after, Reverse: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range l.Streams {
			back = append(back, s.StreamID)
		}
		if l.Next == "" {
			break
		}
		after = l.Next
		if pages > 5 {
			t.Fatal("reverse paging does not end")
		}
	}
	if len(back) != 25 || back[0] != "order-24" || back[24] != "order-00" {
		t.Fatalf("reversed ids = %v", back)
	}
	l, _ := st.ListStreams(ctx, store.ListStreamsOptions{Prefix: "order-"})
	if len(l.Streams) != 25 {
		t.Fatalf("prefix order- gave %d", len(l.Streams))
	}
	l, _ = st.ListStreams(ctx, store.ListStreamsOptions{Prefix: "order_"})
	if len(l.Streams) != 1 {
		t.Fatalf("prefix order_ gave %d", len(l.Streams))
	}
	l, _ = st.ListStreams(ctx, store.ListStreamsOptions{Match: "CSR3"})
	if len(l.Streams) != 1 || l.Streams[0].StreamID != "customer-3" {
		t.Fatalf("match CSR3 gave %v", l.Streams)
	}
	// Exclude: an inverted filter, on the server, paged as any list.
	l, _ = st.ListStreams(ctx, store.ListStreamsOptions{Exclude: store.StreamMatch{Match: "ord"}})
	if len(l.Streams) != 5 || l.Streams[0].StreamID != "customer-0" {
		t.Fatalf("exclude ord gave %v", l.Streams)
	}
	l, _ = st.ListStreams(ctx, store.ListStreamsOptions{Exclude: store.StreamMatch{Category: "order", Match: "1"}, Limit: 100})
	if len(l.Streams) != 31-12 { // order-01, 10-19 and 21 out
		t.Fatalf("exclude category order with 1 gave %d: %v", len(l.Streams), l.Streams)
	}
	l, _ = st.ListStreams(ctx, store.ListStreamsOptions{Category: "customer", Exclude: store.StreamMatch{Category: "customer"}})
	if len(l.Streams) != 0 {
		t.Fatalf("exclude the category listed gave %v", l.Streams)
	}
	mustAppend(t, st, "order-07", store.Any, ev("B", `{}`))
	l, _ = st.ListStreams(ctx, store.ListStreamsOptions{Order: store.ByUpdated, Limit: 2})
	if l.Streams[0].StreamID != "order-07" || l.Next == "" {
		t.Fatalf("by updated: %v next %q", l.Streams, l.Next)
	}
	l2, err := st.ListStreams(ctx, store.ListStreamsOptions{Order: store.ByUpdated, Limit: 100, After: l.Next})
	if err != nil || len(l2.Streams) != 29 {
		t.Fatalf("second page by updated: %d, %v", len(l2.Streams), err)
	}
	// By updated, reversed: the oldest first, paged on; order-07 (just
	// updated) is the last.
	r, err := st.ListStreams(ctx, store.ListStreamsOptions{Order: store.ByUpdated, Reverse: true, Limit: 20})
	if err != nil || len(r.Streams) != 20 || r.Streams[0].StreamID != "order-00" || r.Next == "" {
		t.Fatalf("by updated, reversed: %v next %q, %v", r.Streams, r.Next, err)
	}
	r2, err := st.ListStreams(ctx, store.ListStreamsOptions{Order: store.ByUpdated, Reverse: true, Limit: 20, After: r.Next})
	if err != nil || len(r2.Streams) != 11 || r2.Streams[10].StreamID != "order-07" {
		t.Fatalf("by updated, reversed, second page: %v, %v", r2.Streams, err)
	}
	if _, err := st.ListStreams(ctx, store.ListStreamsOptions{Order: store.ByUpdated, After: "garbage"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad cursor: %v", err)
	}
}

func TestStatsNamesTheBlocker(t *testing.T) {
	t.Parallel()
	st, ctx := setupPrivate(t)
	mustAppend(t, st, "order-1", store.Any, ev("OrderPlaced", `{}`))
	mustAppend(t, st, "customer-1", store.Any, ev("CustomerRegistered", `{}`), ev("CreditReserved", `{}`))

	// A transaction that holds a transaction id and stays open.
	tx, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_current_xact_id() /* the-slow-one */`); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, st, "order-2", store.Any, ev("OrderPlaced", `{}`))
	time.Sleep(20 * time.Millisecond)

	s, err := st.Stats(ctx, store.StatsOptions{Types: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Events != 4 || s.Streams != 3 || len(s.Categories) != 2 || s.Categories[0].Category != "customer" {
		t.Fatalf("counts: %+v", s)
	}
	if len(s.Types) != 3 || s.Types[0].Type != "OrderPlaced" || s.Types[0].Events != 2 {
		t.Fatalf("types: %+v", s.Types)
	}
	if s.Pending != 1 || s.Blocker == nil {
		t.Fatalf("pending %d, blocker %+v", s.Pending, s.Blocker)
	}
	if !strings.Contains(s.Blocker.Query, "the-slow-one") || s.Blocker.PID == 0 || s.Blocker.Age < 20*time.Millisecond {
		t.Fatalf("blocker = %+v", s.Blocker)
	}
	// The held-back event is not in the log yet...
	visible(t, st, 3)
	p, _ := st.ReadAll(ctx, store.Start, store.ReadAllOptions{})
	if len(p.Events) != 3 {
		t.Fatalf("read %d events while held back, want 3", len(p.Events))
	}
	// ...and is, once the blocker ends.
	tx.Rollback(ctx)
	p, _ = st.ReadAll(ctx, store.Start, store.ReadAllOptions{})
	s, _ = st.Stats(ctx, store.StatsOptions{})
	if len(p.Events) != 4 || s.Blocker != nil || s.Pending != 0 || s.ServerVersion == "" {
		t.Fatalf("after rollback: %d events, %+v", len(p.Events), s)
	}
	if s.Head != p.Events[3].Checkpoint {
		t.Fatalf("stats head %s, last event %s", s.Head, p.Events[3].Checkpoint)
	}
}

// TestAppendInTransaction: AppendTx is atomic with the caller's transaction.
func TestAppendInTransaction(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	tx, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendTx(ctx, tx, "order-1", store.NoStream, ev("A", `{}`)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.StreamInfo(ctx, "order-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("rolled-back AppendTx left a stream")
	}
	tx, _ = st.Pool().Begin(ctx)
	if _, err := st.AppendTx(ctx, tx, "order-1", store.NoStream, ev("A", `{}`)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if info, err := st.StreamInfo(ctx, "order-1"); err != nil || info.Version != 0 {
		t.Fatalf("%+v %v", info, err)
	}
}

// TestEnsureSchemaFillsGaps: a database that has a later migration but lacks
// an earlier one (migrated by a binary built between them) gets the gap.
func TestEnsureSchemaFillsGaps(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	ms := store.Migrations()
	if len(ms) < 2 {
		t.Skip("needs two migrations")
	}
	gap := ms[1]
	// Pretend the second migration never ran: drop its record (its objects
	// stay, and re-applying must then fail loudly, which proves it ran).
	if _, err := st.Pool().Exec(ctx, `DELETE FROM eventscope.schema_migrations WHERE version = $1`, gap.Version); err != nil {
		t.Fatal(err)
	}
	err := store.EnsureSchema(ctx, st.Pool())
	if err == nil || !strings.Contains(err.Error(), gap.Name) {
		t.Fatalf("EnsureSchema did not try to apply the missing %s: %v", gap.Name, err)
	}
}
