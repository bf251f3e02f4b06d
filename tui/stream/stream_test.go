package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"eventscope/store"
	"eventscope/store/query"
	"eventscope/tui/common"
	"eventscope/tui/tuitest"
)

// fakeStream serves one stream of n events with ReadStream's semantics.
type fakeStream struct {
	id string
	n  int64
}

func (f fakeStream) ev(v int64) store.Event {
	return store.Event{StreamID: f.id, Version: v, Position: 100 + v, Checkpoint: store.Checkpoint{Tx: 7, Pos: 100 + v},
		EventID: uuid.NewSHA1(uuid.Nil, []byte(fmt.Sprint(v))), Type: []string{"OrderPlaced", "OrderShipped"}[v%2],
		Data: json.RawMessage(fmt.Sprintf(`{"n":%d,"ref":"%06d"}`, v, v)), Metadata: json.RawMessage(`{}`), RecordedAt: tuitest.Now.Add(time.Duration(v) * time.Second)}
}

func (f fakeStream) ReadStream(_ context.Context, s string, o store.ReadStreamOptions) ([]store.Event, error) {
	if s != f.id {
		return nil, &store.NotFoundError{What: "stream " + s}
	}
	if o.Limit <= 0 {
		o.Limit = 1000
	}
	var out []store.Event
	if o.Backward {
		from := o.From
		if o.FromEnd || from < 0 || from >= f.n {
			from = f.n - 1
		}
		for v := from; v >= 0 && len(out) < o.Limit; v-- {
			out = append(out, f.ev(v))
		}
		return out, nil
	}
	for v := max(o.From, 0); v < f.n && len(out) < o.Limit; v++ {
		out = append(out, f.ev(v))
	}
	return out, nil
}

var cache sync.Map // fakeStream → []store.Event

// all is every event of the stream, built once per length.
func (f fakeStream) all() []store.Event {
	if v, ok := cache.Load(f); ok {
		return v.([]store.Event)
	}
	evs := make([]store.Event, f.n)
	for v := range evs {
		evs[v] = f.ev(int64(v))
	}
	cache.Store(f, evs)
	return evs
}

// FindInStream evaluates the filter over every event, as the server does.
func (f fakeStream) FindInStream(_ context.Context, s string, flt query.Filter, o query.FindOptions) (query.Found, error) {
	if s != f.id {
		return query.Found{}, &store.NotFoundError{What: "stream " + s}
	}
	var out query.Found
	all := f.all()
	for v := max(o.From, 0); v < f.n; v++ {
		if flt.Match(&all[v]) {
			out.Total++
			if len(out.Versions) < o.Limit {
				out.Versions = append(out.Versions, v)
			}
		}
	}
	return out, nil
}

func (f fakeStream) StreamInfo(_ context.Context, s string) (store.StreamInfo, error) {
	if s != f.id {
		return store.StreamInfo{}, &store.NotFoundError{What: "stream " + s}
	}
	return store.StreamInfo{StreamID: s, Category: "order", Version: f.n - 1, EventCount: f.n, CreatedAt: tuitest.Now, UpdatedAt: tuitest.Now}, nil
}

func setup(t *testing.T, n int64, start int64) *Model {
	t.Helper()
	m := New(context.Background(), tuitest.Common(120, 30), fakeStream{id: "order-1", n: n}, "order-1", start)
	m.SetSize(120, 30)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	return m
}

func TestOpensAtVersionAndPages(t *testing.T) {
	t.Parallel()
	m := setup(t, 100000, 5000)
	e, ok := m.Selected()
	if !ok || e.Version != 5000 {
		t.Fatalf("selected %d", e.Version)
	}
	// Paging up past the window's start reads the page before it.
	for i := 0; i < 10; i++ {
		tuitest.Settle(m, tuitest.Key("pgup"))
	}
	if m.events[0].Version >= 4950 {
		t.Fatalf("window did not extend backward: starts at v%d", m.events[0].Version)
	}
	if e, _ := m.Selected(); e.Version != 5000-10*27 {
		t.Fatalf("cursor drifted to v%d", e.Version)
	}
	// G jumps to the end of the stream.
	tuitest.Settle(m, tuitest.Key("G"))
	if e, _ := m.Selected(); e.Version != 99999 {
		t.Fatalf("G selected v%d", e.Version)
	}
	tuitest.Settle(m, tuitest.Key("g"))
	if e, _ := m.Selected(); e.Version != 0 {
		t.Fatalf("g selected v%d", e.Version)
	}
}

func TestKeysNavigate(t *testing.T) {
	t.Parallel()
	m := setup(t, 10, -1)
	tuitest.Settle(m, tuitest.Key("j"))
	msgs := tuitest.Settle(m, tuitest.Key("enter"))
	if o, ok := tuitest.Find[common.OpenEventMsg](msgs); !ok || o.Event.Version != 1 {
		t.Fatalf("enter: %+v", o)
	}
	msgs = tuitest.Settle(m, tuitest.Key("t"))
	if o, ok := tuitest.Find[common.OpenTimeTravelMsg](msgs); !ok || o.Stream != "order-1" || o.Version != 1 {
		t.Fatalf("t: %+v", o)
	}
	text, what, ok := m.CopyText()
	if !ok || what != "event" || !strings.Contains(text, `"stream_id":"order-1"`) {
		t.Fatalf("copy %q %q", text, what)
	}
}

// typeIn types text into the focused input, a key at a time, letting
// each key's commands (the debounced search) run.
func typeIn(m *Model, text string) {
	for _, r := range text {
		tuitest.Settle(m, tuitest.Key(string(r)))
	}
}

func selected(t *testing.T, m *Model) int64 {
	t.Helper()
	e, ok := m.Selected()
	if !ok {
		t.Fatal("nothing selected")
	}
	return e.Version
}

// TestSearchEveryVersion: "/" after G finds a match far before the loaded
// window (the issue: "/000032" after G said "no events"), on the server,
// without hiding the other rows.
func TestSearchEveryVersion(t *testing.T) {
	t.Parallel()
	m := setup(t, 100000, -1)
	tuitest.Settle(m, tuitest.Key("G"))
	tuitest.Settle(m, tuitest.Key("/"))
	typeIn(m, "000032")
	tuitest.Settle(m, tuitest.Key("enter"))
	if v := selected(t, m); v != 32 {
		t.Fatalf("the search selected v%d, want v32", v)
	}
	view := tuitest.Plain(m.View())
	if !strings.Contains(view, "match 1 of 1 in the stream") || !strings.Contains(view, "wrapped") {
		t.Fatalf("status:\n%s", view)
	}
	if m.tbl.Events().Len() < 2 {
		t.Fatal("a search moves the cursor, it does not hide the rows around it")
	}
}

// TestSearchSteps: n/N step between matches across the whole stream, in
// batches past FindBatch, wrapping at either end.
func TestSearchSteps(t *testing.T) {
	t.Parallel()
	m := setup(t, 100000, -1)
	tuitest.Settle(m, tuitest.Key("/"))
	typeIn(m, "shipped")
	tuitest.Settle(m, tuitest.Key("enter"))
	if v := selected(t, m); v != 1 {
		t.Fatalf("first match v%d", v)
	}
	if view := tuitest.Plain(m.View()); !strings.Contains(view, "match 1 of 50,000 in the stream") {
		t.Fatalf("status:\n%s", view)
	}
	for _, c := range []struct {
		key  string
		want int64
	}{{"n", 3}, {"n", 5}, {"N", 3}, {"N", 1}, {"N", 99999}, {"N", 99997}, {"n", 99999}, {"n", 1}} {
		tuitest.Settle(m, tuitest.Key(c.key))
		if v := selected(t, m); v != c.want {
			t.Fatalf("%s: v%d, want v%d", c.key, v, c.want)
		}
	}
	// from a cursor moved by hand, n is the next match after it
	tuitest.Settle(m, tuitest.Key("G"))
	tuitest.Settle(m, tuitest.Key("g"))
	tuitest.Settle(m, tuitest.Key("j"), tuitest.Key("j"))
	tuitest.Settle(m, tuitest.Key("n"))
	if v := selected(t, m); v != 3 {
		t.Fatalf("n from v2: v%d", v)
	}
	// beyond the first batch of matches, forward
	tuitest.Settle(m, tuitest.Key("G"))
	for i := 0; i < 5; i++ {
		tuitest.Settle(m, tuitest.Key("k"))
	}
	tuitest.Settle(m, tuitest.Key("n"))
	if v := selected(t, m); v != 99995 {
		t.Fatalf("n from v99994: v%d", v)
	}
	if view := tuitest.Plain(m.View()); !strings.Contains(view, "match 49,998 of 50,000") {
		t.Fatalf("status:\n%s", view)
	}
}

// TestSearchInvertErrorsAndClear: "!" inverts, an unknown key names the
// keys there are, esc clears the search for good.
func TestSearchInvertErrorsAndClear(t *testing.T) {
	t.Parallel()
	m := setup(t, 10, -1)
	tuitest.Settle(m, tuitest.Key("j"))
	tuitest.Settle(m, tuitest.Key("/"))
	typeIn(m, "!shipped")
	if v := selected(t, m); v != 2 {
		t.Fatalf("!shipped from v1: v%d, want v2 (the next OrderPlaced)", v)
	}
	tuitest.Settle(m, tuitest.Key("esc"))
	tuitest.Settle(m, tuitest.Key("/"))
	typeIn(m, "bogus:x")
	view := tuitest.Plain(m.View())
	if !strings.Contains(view, `unknown key "bogus"`) || !strings.Contains(view, "type:, cat:, stream:") {
		t.Fatalf("unknown key:\n%s", view)
	}
	tuitest.Settle(m, tuitest.Key("esc"))
	tuitest.Settle(m, tuitest.Key("/"))
	typeIn(m, "placed")
	tuitest.Settle(m, tuitest.Key("enter"))
	if !m.ClaimsKey(tuitest.Key("esc")) || !m.ClaimsKey(tuitest.Key("n")) {
		t.Fatal("esc and n belong to the active search")
	}
	tuitest.Settle(m, tuitest.Key("esc"))
	tuitest.Settle(m, common.RefreshMsg{})
	view = tuitest.Plain(m.View())
	if strings.Contains(view, "placed") || strings.Contains(view, "match") || m.ClaimsKey(tuitest.Key("esc")) {
		t.Fatalf("esc cleared the search for good:\n%s", view)
	}
	if v := selected(t, m); v != 2 {
		t.Fatalf("esc left the cursor at v%d", v)
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	m := New(context.Background(), tuitest.Common(80, 10), fakeStream{id: "order-1", n: 3}, "nope-1", -1)
	m.SetSize(80, 10)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	if !strings.Contains(tuitest.Plain(m.View()), `Stream "nope-1" does not exist.`) {
		t.Fatalf("view:\n%s", tuitest.Plain(m.View()))
	}
}
