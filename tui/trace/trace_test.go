package trace

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
	"github.com/google/uuid"

	"eventscope/store"
	"eventscope/tui/common"
	"eventscope/tui/tuitest"
)

type fake struct{ tr store.Trace }

func (f fake) Trace(_ context.Context, ref store.EventRef, _ store.TraceOptions) (store.Trace, error) {
	if ref.Stream == "nope" {
		return store.Trace{}, &store.NotFoundError{What: "event nope@0"}
	}
	return f.tr, nil
}

func saga() store.Trace {
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.Local)
	ids := []uuid.UUID{uuid.MustParse("11111111-1111-4111-8111-111111111111"), uuid.MustParse("22222222-2222-4222-8222-222222222222"),
		uuid.MustParse("33333333-3333-4333-8333-333333333333"), uuid.MustParse("44444444-4444-4444-8444-444444444444")}
	d := func(ms int) *time.Duration { v := time.Duration(ms) * time.Millisecond; return &v }
	ev := func(i int, stream string, v int64, typ string, ms int) store.Event {
		return store.Event{EventID: ids[i], StreamID: stream, Version: v, Type: typ, RecordedAt: at.Add(time.Duration(ms) * time.Millisecond),
			Data: []byte(`{"amount":1500}`), Metadata: []byte(`{"source":"x"}`)}
	}
	return store.Trace{CorrelationID: "d6c347ff-04b2-5bdb-8b78-f285c7611746", Start: ids[1], Steps: []store.TraceStep{
		{Event: ev(0, "order-1", 0, "OrderPlaced", 0), Cause: "d6c347ff-04b2-5bdb-8b78-f285c7611746", Source: "api"},
		{Event: ev(1, "customer-42", 7, "CreditReserved", 3), Parent: &ids[0], Depth: 1, After: d(3), CauseStored: true, Source: "customer-service"},
		{Event: ev(2, "order-1", 1, "OrderApproved", 14), Parent: &ids[1], Depth: 2, After: d(11), CauseStored: true, Source: "order-service", Slowest: true},
		{Event: ev(3, "order-1", 2, "OrderShipped", 90000), Cause: "99999999-0000-4000-8000-000000000000", Source: "api"},
	}}
}

func TestGoldenTrace(t *testing.T) {
	t.Parallel()
	m := New(context.Background(), tuitest.Common(100, 12), fake{saga()}, "customer-42@7")
	m.SetSize(100, 12)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	if s, _ := m.Selected(); s.Type != "CreditReserved" {
		t.Fatalf("cursor on %s, want the traced event", s.Type)
	}
	golden.RequireEqual(t, []byte(tuitest.Plain(m.View())))
	msgs := tuitest.Settle(m, tuitest.Key("j"), tuitest.Key("enter"))
	if o, ok := tuitest.Find[common.OpenEventMsg](msgs); !ok || o.Event.Type != "OrderApproved" {
		t.Fatalf("enter: %v", msgs)
	}
	if txt, what, ok := m.CopyText(); !ok || what != "event" || !strings.Contains(txt, `"OrderApproved"`) {
		t.Fatalf("copy %q %q", txt, what)
	}
}

func TestTraceFilter(t *testing.T) {
	t.Parallel()
	m := New(context.Background(), tuitest.Common(100, 12), fake{saga()}, "customer-42@7")
	m.SetSize(100, 12)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	tuitest.Settle(m, tuitest.Key("/"))
	if !m.ClaimsKey(tuitest.Key("q")) {
		t.Fatal("the focused filter must take keys")
	}
	for _, r := range "cat:order -type:OrderShipped" {
		tuitest.Settle(m, tuitest.Key(string(r)))
	}
	tuitest.Settle(m, tuitest.Key("enter"))
	v := tuitest.Plain(m.View())
	if !strings.Contains(v, "2 of 4 steps") || strings.Contains(v, "CreditReserved") || !strings.Contains(v, "OrderApproved") {
		t.Fatalf("filtered view:\n%s", v)
	}
	// a malformed filter says where, and keeps the last good one
	tuitest.Settle(m, tuitest.Key("/"), tuitest.Key(" "), tuitest.Key("t"), tuitest.Key("y"), tuitest.Key("p"), tuitest.Key("e"), tuitest.Key(":"))
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "column") || !strings.Contains(v, "OrderApproved") {
		t.Fatalf("bad filter:\n%s", v)
	}
	tuitest.Settle(m, tuitest.Key("esc"), tuitest.Key("esc"))
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "CreditReserved") {
		t.Fatalf("cleared filter:\n%s", v)
	}
	// words match the data and ids as the tail's do; "!" inverts
	for _, c := range []struct{ text, want string }{{"!shipped", "3 of 4 steps"}, {"customer", "1 of 4 steps"}, {"1500", "4 of 4 steps"}} {
		tuitest.Settle(m, tuitest.Key("/"))
		for _, r := range c.text {
			tuitest.Settle(m, tuitest.Key(string(r)))
		}
		if v := tuitest.Plain(m.View()); !strings.Contains(v, c.want) {
			t.Fatalf("%q:\n%s", c.text, v)
		}
		tuitest.Settle(m, tuitest.Key("esc"))
	}
}

func TestTraceErrors(t *testing.T) {
	t.Parallel()
	m := New(context.Background(), tuitest.Common(100, 12), fake{}, "not an event")
	m.SetSize(100, 12)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "neither an event id") {
		t.Fatalf("bad ref:\n%s", v)
	}
	m = New(context.Background(), tuitest.Common(100, 12), fake{}, "nope@0")
	m.SetSize(100, 12)
	msgs := tuitest.Settle(m, tuitest.Drain(m.Init())...)
	if _, ok := tuitest.Find[common.ErrorMsg](msgs); !ok || !strings.Contains(tuitest.Plain(m.View()), "not found") {
		t.Fatalf("unknown event:\n%s", tuitest.Plain(m.View()))
	}
}
