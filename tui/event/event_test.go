package event

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"eventscope/store"
	"eventscope/tui/action"
	"eventscope/tui/common"
	"eventscope/tui/eventlist"
	"eventscope/tui/tuitest"
)

type fakeRead struct {
	evs   []store.Event
	deliv []common.Delivery
	calls *int
}

func (f fakeRead) Deliveries(_ context.Context, e store.Event) ([]common.Delivery, error) {
	if f.calls != nil {
		*f.calls++
	}
	return f.deliv, nil
}

func (f *fakeRead) ReadStream(_ context.Context, s string, o store.ReadStreamOptions) ([]store.Event, error) {
	for _, e := range f.evs {
		if e.Version == o.From {
			return []store.Event{e}, nil
		}
	}
	return nil, nil
}

func ev(v int64, meta string) store.Event {
	return store.Event{StreamID: "order-9", Version: v, Position: 40 + v, Checkpoint: store.Checkpoint{Tx: 3, Pos: 40 + v},
		EventID: uuid.MustParse("00000000-0000-0000-0000-00000000000" + string(rune('0'+v))), Type: "OrderPlaced",
		Data: json.RawMessage(`{"total":10,"lines":[{"sku":"A"}]}`), Metadata: json.RawMessage(meta), RecordedAt: tuitest.Now}
}

func TestViewAndLinks(t *testing.T) {
	t.Parallel()
	cause := "11111111-1111-1111-1111-111111111111"
	e0 := ev(0, `{"causationId":"`+cause+`","correlationId":"corr-1"}`)
	e1 := ev(1, `{}`)
	m := New(context.Background(), tuitest.Common(100, 40), &fakeRead{evs: []store.Event{e0, e1}}, e0)
	m.SetSize(100, 40)
	v := tuitest.Plain(m.View())
	for _, want := range []string{"order-9 @ v0  OrderPlaced", "event id    00000000-0000-0000-0000-000000000000", "checkpoint  3:40", `"sku": "A"`, "causation   " + cause, "correlation corr-1"} {
		if !strings.Contains(v, want) {
			t.Fatalf("view lacks %q:\n%s", want, v)
		}
	}
	msgs := tuitest.Settle(m, tuitest.Key("C"))
	if o, ok := tuitest.Find[common.OpenEventIDMsg](msgs); !ok || o.ID != cause || o.Role != "causation" {
		t.Fatalf("C: %+v", msgs)
	}
	msgs = tuitest.Settle(m, tuitest.Key("O"))
	if o, ok := tuitest.Find[common.OpenCorrelatedMsg](msgs); !ok || o.ID != "corr-1" || o.From != e0.EventID.String() {
		t.Fatalf("O: %+v", msgs)
	}
	msgs = tuitest.Settle(m, tuitest.Key("S"))
	if o, ok := tuitest.Find[common.OpenStreamMsg](msgs); !ok || o.Stream != "order-9" || o.Version != 0 {
		t.Fatalf("S: %+v", msgs)
	}
	msgs = tuitest.Settle(m, tuitest.Key("t"))
	if o, ok := tuitest.Find[common.OpenTimeTravelMsg](msgs); !ok || o.Version != 0 {
		t.Fatalf("t: %+v", msgs)
	}
	// ] steps to the next event of the stream; there it has no links.
	tuitest.Settle(m, tuitest.Key("]"))
	if m.Event().Version != 1 {
		t.Fatalf("] stayed at v%d", m.Event().Version)
	}
	msgs = tuitest.Settle(m, tuitest.Key("C"))
	if s, ok := tuitest.Find[common.StatusMsg](msgs); !ok || !strings.Contains(s.Text, "no causation id") {
		t.Fatalf("C without a causation id: %+v", msgs)
	}
	msgs = tuitest.Settle(m, tuitest.Key("]"))
	if s, ok := tuitest.Find[common.StatusMsg](msgs); !ok || !strings.Contains(s.Text, "last event") {
		t.Fatalf("] at the end: %+v", msgs)
	}
	tuitest.Settle(m, tuitest.Key("["))
	if m.Event().Version != 0 {
		t.Fatal("[ did not step back")
	}
	text, what, ok := m.CopyText()
	if !ok || what != "event" || !json.Valid([]byte(text)) {
		t.Fatalf("copy: %q", text)
	}
	// the list's copy of the event (eventlist.CopyEvent), indented as
	// this view always copied it
	line, _, _ := eventlist.CopyEvent(m.Event())
	if want, _ := json.MarshalIndent(m.Event(), "", "  "); text != string(want) || !json.Valid([]byte(line)) || strings.Contains(line, "\n") {
		t.Fatalf("copy = %q, want %q (the list's %q indented)", text, want, line)
	}
}

func TestScroll(t *testing.T) {
	t.Parallel()
	big := `{"a":[` + strings.Repeat(`1,`, 100) + `1]}`
	e := ev(0, `{}`)
	e.Data = json.RawMessage(big)
	m := New(context.Background(), tuitest.Common(80, 10), &fakeRead{}, e)
	m.SetSize(80, 10)
	tuitest.Settle(m, tuitest.Key("G"))
	if m.offset != m.maxOffset() || m.offset == 0 {
		t.Fatalf("G offset %d max %d", m.offset, m.maxOffset())
	}
	tuitest.Settle(m, tuitest.Key("k"))
	if m.offset != m.maxOffset()-1 {
		t.Fatal("k did not scroll up")
	}
	tuitest.Settle(m, tuitest.Key("g"))
	if m.offset != 0 {
		t.Fatal("g did not go to the top")
	}
}

type fakeForget struct {
	subjects *[]string
	src      *fakeRead
}

func (f fakeForget) Forget(_ context.Context, subject string) (string, error) {
	*f.subjects = append(*f.subjects, subject)
	for i := range f.src.evs {
		f.src.evs[i].Data = json.RawMessage(`{"name":null,"limit":5}`)
		f.src.evs[i].Metadata = json.RawMessage(`{"$personal":{"subject":"customer-7","fields":["name"],"erased":true}}`)
	}
	return "forgot " + subject, nil
}

// TestPersonalAndForget: the view names an event's personal fields; F asks
// to type the subject, then forgets it and reads the event again, which
// now shows the fields as erased; read-only consoles and events without
// personal data say why F does nothing.
func TestPersonalAndForget(t *testing.T) {
	t.Parallel()
	e := ev(0, `{"$personal":{"subject":"customer-7","fields":["name"],"erased":false}}`)
	e.StreamID, e.Data = "customer-7", json.RawMessage(`{"name":"Ann","limit":5}`)
	src := &fakeRead{evs: []store.Event{e}}
	var forgotten []string
	act := action.New(context.Background(), nil, false)
	act.SetForgetter(fakeForget{&forgotten, src})
	m := New(context.Background(), tuitest.Common(100, 30), src, e).WithActions(act)
	m.SetSize(100, 30)
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "personal    name of customer-7") {
		t.Fatalf("view lacks the personal line:\n%s", v)
	}
	msgs := tuitest.Drain(m.Update(tuitest.Key("F")))
	c, ok := tuitest.Find[common.ConfirmMsg](msgs)
	if !ok || c.Typed != "customer-7" || !strings.Contains(c.Prompt, "for good") {
		t.Fatalf("F: %+v", msgs)
	}
	if len(forgotten) != 0 {
		t.Fatal("forgot before the confirmation")
	}
	tuitest.Settle(m, tuitest.Drain(c.Action)...)
	if len(forgotten) != 1 || forgotten[0] != "customer-7" {
		t.Fatalf("forgotten %v", forgotten)
	}
	v := tuitest.Plain(m.View())
	if !strings.Contains(v, "personal    ERASED name") || !strings.Contains(v, `"name": null`) {
		t.Fatalf("after forget:\n%s", v)
	}
	msgs = tuitest.Settle(m, tuitest.Key("F"))
	if s, ok := tuitest.Find[common.StatusMsg](msgs); !ok || !strings.Contains(s.Text, "forgotten already") {
		t.Fatalf("F on an erased event: %+v", msgs)
	}

	ro := New(context.Background(), tuitest.Common(100, 30), src, e).WithActions(action.New(context.Background(), nil, true))
	e.Metadata = json.RawMessage(`{"$personal":{"subject":"customer-7","fields":["name"]}}`)
	ro.set(e)
	msgs = tuitest.Settle(ro, tuitest.Key("F"))
	if s, ok := tuitest.Find[common.StatusMsg](msgs); !ok || !strings.Contains(s.Text, "unavailable") && !strings.Contains(s.Text, "read-only") {
		t.Fatalf("F read-only: %+v", msgs)
	}
	plain := New(context.Background(), tuitest.Common(100, 30), src, ev(1, `{}`)).WithActions(act)
	msgs = tuitest.Settle(plain, tuitest.Key("F"))
	if s, ok := tuitest.Find[common.StatusMsg](msgs); !ok || !strings.Contains(s.Text, "no personal data") {
		t.Fatalf("F without personal data: %+v", msgs)
	}
}

// TestDeliveries (issue 14, item 12): the event view shows, per
// subscription whose filter takes the event, whether it handled it, has it
// pending, or parked it with the error; it reloads while one is pending.
func TestDeliveries(t *testing.T) {
	t.Parallel()
	e0 := ev(0, `{}`)
	calls := 0
	f := &fakeRead{evs: []store.Event{e0}, calls: &calls, deliv: []common.Delivery{
		{Subscription: "customer-service", State: "handled", SubState: "live"},
		{Subscription: "notifications", State: "parked", SubState: "live", Attempts: 5, LastError: "mailbox rejected the message\nat line 2", ParkedAt: tuitest.Now.Add(-2 * time.Minute)},
		{Subscription: "order-summary", State: "pending", SubState: "paused"},
	}}
	m := New(context.Background(), tuitest.Common(120, 40), f, e0)
	m.SetSize(120, 40)
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "Subscriptions  (those whose filter takes this event)") || !strings.Contains(v, "loading…") {
		t.Fatalf("before the answer:\n%s", v)
	}
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	v := tuitest.Plain(m.View())
	for _, want := range []string{
		"customer-service  ✓ handled",
		"notifications     ✗ parked after 5 attempts (2m00s ago): mailbox rejected the message",
		"order-summary     … pending (paused)",
	} {
		if !strings.Contains(v, want) {
			t.Fatalf("view lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "at line 2") {
		t.Fatalf("a multi-line error shows its first line only:\n%s", v)
	}
	// pending: a snapshot reloads it; once settled, snapshots do not.
	before := calls
	tuitest.Settle(m, tuitest.Drain(m.Update(common.SubsMsg{}))...)
	if calls != before+1 {
		t.Fatalf("a snapshot with a pending delivery did not reload (%d → %d)", before, calls)
	}
	f.deliv[2].State = "handled"
	tuitest.Settle(m, tuitest.Drain(m.Update(common.RefreshMsg{}))...)
	before = calls
	if cmd := m.Update(common.SubsMsg{}); cmd != nil || calls != before {
		t.Fatal("settled deliveries reload on every snapshot")
	}
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "order-summary     ✓ handled") {
		t.Fatalf("after the refresh:\n%s", v)
	}
}
