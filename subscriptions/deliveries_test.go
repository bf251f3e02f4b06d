package subscriptions

import (
	"context"
	"testing"
	"time"
)

// TestDeliveries: per subscription whose filter takes an event, whether it
// was handled, is pending, or was parked with the error.
func TestDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	f := &flaky{rec: newRecorder()}
	f.failing.Store(true)
	ok := newRecorder()
	r := NewRunner(b.st, RunnerOptions{PollInterval: 100 * time.Millisecond, Logf: testLogf(t)})
	must(t, r.Add(Subscription{Name: "all", Handler: ok.handle}))
	must(t, r.Add(Subscription{Name: "picky", Handler: f.handle, Retry: RetryPolicy{Attempts: 2, Initial: time.Millisecond}}))
	must(t, r.Add(Subscription{Name: "later", Handler: ok.handle}))
	must(t, r.Add(Subscription{Name: "elsewhere", Categories: []string{"x"}, Handler: ok.handle}))
	run(t, r)
	waitFor(t, "the rows", time.Minute, func() bool { l, err := b.adm.List(ctx); must(t, err); return len(l) == 4 })
	must(t, b.adm.Pause(ctx, "later"))
	acknowledged(t, b, "later")
	appendData(t, b.st, "k-1", `{"ok": true}`)
	bad := appendData(t, b.st, "k-2", `{"bad": true}`)
	waitFor(t, "the parked event", time.Minute, func() bool { return mustGet(t, b, "picky").Parked == 1 })
	e, err := b.st.EventByID(ctx, bad)
	must(t, err)
	waitFor(t, "all to save its checkpoint", time.Minute, func() bool { return e.Checkpoint.Compare(mustGet(t, b, "all").Checkpoint) <= 0 })
	ds, err := b.adm.Deliveries(ctx, e)
	must(t, err)
	got := map[string]Delivery{}
	for _, d := range ds {
		got[d.Subscription] = d
	}
	if len(ds) != 3 || got["all"].State != DeliveryHandled || got["later"].State != DeliveryPending || got["later"].SubState != StatePaused {
		t.Fatalf("deliveries = %+v", ds)
	}
	if p := got["picky"]; p.State != DeliveryParked || p.Attempts != 2 || p.LastError != "cannot handle T" || p.ParkedAt.IsZero() {
		t.Fatalf("picky = %+v", p)
	}
	if _, ok := got["elsewhere"]; ok {
		t.Fatal("a subscription whose filter does not take the event is listed")
	}
}
