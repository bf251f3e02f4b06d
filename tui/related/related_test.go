package related

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"eventscope/store"
	"eventscope/tui/common"
	"eventscope/tui/tuitest"
)

type fake []store.Event

func (f fake) Correlated(_ context.Context, id string, limit int) ([]store.Event, error) {
	return f, nil
}

func TestListOpenAndMarkOrigin(t *testing.T) {
	t.Parallel()
	a, b := uuid.New(), uuid.New()
	m := New(context.Background(), tuitest.Common(120, 20), fake{
		{StreamID: "order-1", EventID: a, Type: "OrderPlaced", Data: []byte(`{}`)},
		{StreamID: "customer-1", Version: 3, EventID: b, Type: "CreditReserved", Data: []byte(`{}`)},
	}, "corr-1", b.String())
	m.SetSize(120, 20)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	v := tuitest.Plain(m.View())
	if !strings.Contains(v, "2 events, in global order") || !strings.Contains(v, "▶ ") || !strings.Contains(v, "customer-1  ◀ this event") {
		t.Fatalf("view:\n%s", v)
	}
	msgs := tuitest.Settle(m, tuitest.Key("enter"))
	if o, ok := tuitest.Find[common.OpenEventMsg](msgs); !ok || o.Event.EventID != b {
		t.Fatalf("%+v", msgs)
	}
	tuitest.Settle(m, tuitest.Key("k"))
	if e, _ := m.Selected(); e.EventID != a {
		t.Fatal("k moves up")
	}
}
