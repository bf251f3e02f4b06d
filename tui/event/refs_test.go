package event

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"eventscope/store"
	"eventscope/tui/common"
	"eventscope/tui/tuitest"
)

// streamsRead holds the events of named streams (ReadStream by name).
type streamsRead struct{ streams map[string][]store.Event }

func (f streamsRead) Deliveries(context.Context, store.Event) ([]common.Delivery, error) {
	return []common.Delivery{}, nil
}

func (f streamsRead) ReadStream(_ context.Context, s string, o store.ReadStreamOptions) ([]store.Event, error) {
	evs := f.streams[s]
	if o.Limit > 0 && len(evs) > o.Limit {
		evs = evs[:o.Limit]
	}
	return evs, nil
}

func TestRefStreams(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		key, value string
		want       []string
	}{
		{"orderId", "001617", []string{"order-001617"}},
		{"customer_id", "0001", []string{"customer-0001"}},
		{"orderId", "order-000042", []string{"order-000042", "order-order-000042"}},
		{"shippingAddressId", "7", []string{"shipping-address-7", "shippingaddress-7", "shippingAddress-7"}},
		{"id", "7", nil},
		{"total", "7", nil},
		{"orderId", "a b", nil},
	} {
		if got := RefStreams(c.key, c.value); !reflect.DeepEqual(got, c.want) {
			t.Errorf("RefStreams(%q, %q) = %q, want %q", c.key, c.value, got, c.want)
		}
	}
}

// TestFollowReference (issue 14, item 11): the values of the data that
// name a stream are marked; n/N select them; enter opens the stream it
// names after checking it exists, and says so when none does.
func TestFollowReference(t *testing.T) {
	t.Parallel()
	e := ev(0, `{}`)
	e.Data = json.RawMessage(`{"orderId":"001617","total":10,"customer":{"customerId":"0001"}}`)
	src := streamsRead{streams: map[string][]store.Event{"customer-0001": {ev(0, `{}`)}}}
	m := New(context.Background(), tuitest.Common(100, 40), src, e)
	m.SetSize(100, 40)
	tuitest.Settle(m, m.Init())
	v := tuitest.Plain(m.View())
	if !strings.Contains(v, `▸ "orderId": "001617",  ↵ order-001617`) || !strings.Contains(v, `"customerId": "0001"  →`) {
		t.Fatalf("references not marked:\n%s", v)
	}
	msgs := tuitest.Settle(m, tuitest.Key("enter"))
	if s, ok := tuitest.Find[common.StatusMsg](msgs); !ok || s.Kind != common.Failure || !strings.Contains(s.Text, "no stream order-001617 exists") {
		t.Fatalf("enter on a reference to no stream: %+v", msgs)
	}
	if _, ok := tuitest.Find[common.OpenStreamMsg](msgs); ok {
		t.Fatal("opened a stream that does not exist")
	}
	tuitest.Settle(m, tuitest.Key("n"))
	if v := tuitest.Plain(m.View()); !strings.Contains(v, `▸   "customerId": "0001"  ↵ customer-0001`) {
		t.Fatalf("n did not select the next reference:\n%s", v)
	}
	msgs = tuitest.Settle(m, tuitest.Key("enter"))
	if o, ok := tuitest.Find[common.OpenStreamMsg](msgs); !ok || o.Stream != "customer-0001" || o.Version != -1 {
		t.Fatalf("enter on customerId: %+v", msgs)
	}
	tuitest.Settle(m, tuitest.Key("N"))
	if m.refSel != 0 {
		t.Fatalf("N: selected %d", m.refSel)
	}
	// An event without references says so.
	m = New(context.Background(), tuitest.Common(100, 40), src, ev(0, `{}`))
	msgs = tuitest.Settle(m, tuitest.Key("enter"))
	if s, ok := tuitest.Find[common.StatusMsg](msgs); !ok || !strings.Contains(s.Text, "names a stream") {
		t.Fatalf("enter without references: %+v", msgs)
	}
}

// TestWrapAndScrollSideways (issue 14, item 5): a long data line is cut
// with …; → scrolls it sideways; w wraps it whole.
func TestWrapAndScrollSideways(t *testing.T) {
	t.Parallel()
	e := ev(0, `{}`)
	e.Data = json.RawMessage(`{"note":"` + strings.Repeat("abcdefghij", 12) + `END"}`)
	m := New(context.Background(), tuitest.Common(60, 40), streamsRead{}, e)
	m.SetSize(60, 40)
	tuitest.Settle(m, m.Init())
	v := tuitest.Plain(m.View())
	if !strings.Contains(v, `"note": "abcdefghij`) || !strings.Contains(v, "…\n") || strings.Contains(v, "END") {
		t.Fatalf("long line not cut with …:\n%s", v)
	}
	for range 10 {
		tuitest.Settle(m, tuitest.Key("right"))
	}
	if v := tuitest.Plain(m.View()); !strings.Contains(v, `END"`) {
		t.Fatalf("→ did not scroll to the end of the line:\n%s", v)
	}
	tuitest.Settle(m, tuitest.Key("w"))
	v = tuitest.Plain(m.View())
	if !strings.Contains(v, `"note": "abcdefghij`) || !strings.Contains(v, `END"`) {
		t.Fatalf("w did not wrap the line:\n%s", v)
	}
}
