package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"eventscope/store"
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
		Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, v)), Metadata: json.RawMessage(`{}`), RecordedAt: tuitest.Now.Add(time.Duration(v) * time.Second)}
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

func TestFilter(t *testing.T) {
	t.Parallel()
	m := setup(t, 10, -1)
	tuitest.Settle(m, tuitest.Key("/"))
	for _, r := range "shipped" {
		tuitest.Settle(m, tuitest.Key(string(r)))
	}
	tuitest.Settle(m, tuitest.Key("enter"))
	if len(m.visible) != 5 {
		t.Fatalf("%d visible", len(m.visible))
	}
	if e, _ := m.Selected(); e.Type != "OrderShipped" {
		t.Fatalf("selected %s", e.Type)
	}
	if !m.ClaimsKey(tuitest.Key("esc")) {
		t.Fatal("esc belongs to the active filter")
	}
	tuitest.Settle(m, tuitest.Key("esc"))
	if m.filter != "" || len(m.visible) != 0 {
		t.Fatal("esc did not clear")
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
