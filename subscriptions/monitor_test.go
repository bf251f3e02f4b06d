package subscriptions

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"eventscope/store"
)

func TestMonitorAndMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	rec := newRecorder()
	r := NewRunner(b.st, RunnerOptions{Instance: "mon", Registerer: reg, Logf: testLogf(t)})
	must(t, r.Add(Subscription{Name: "all", Handler: rec.handle}))
	must(t, r.Add(Subscription{Name: "orders", Categories: []string{"order"}, Handler: func(context.Context, store.Event) error { return nil }}))
	stop := run(t, r)
	appendN(t, b.st, "order", 3, 30)
	appendN(t, b.st, "other", 3, 20)
	waitFor(t, "delivery", time.Minute, func() bool { return rec.count() == 50 })

	var snaps [][]Status
	var mu sync.Mutex
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		NewMonitor(b.st, 50*time.Millisecond).Run(mctx, func(l []Status, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil && mctx.Err() == nil {
				t.Errorf("monitor: %v", err)
			}
			snaps = append(snaps, l)
		})
	}()
	var all Status
	waitFor(t, "a live, caught-up snapshot with a rate", time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		if len(snaps) == 0 {
			return false
		}
		l := snaps[len(snaps)-1]
		if len(l) != 2 || l[0].Name != "all" || l[1].Name != "orders" {
			t.Fatalf("snapshot = %+v, want all and orders", l)
		}
		all = l[0]
		return all.State == StateLive && all.Lag == 0 && all.Processed == 50 && all.Rate > 0 && all.Checkpoint == all.Head && l[1].State == StateLive
	})
	if all.Holder == nil || all.Holder.Instance != "mon" || all.Holder.PID == 0 || all.Heartbeat.IsZero() || all.Processed != 50 || all.LagEstimated {
		t.Errorf("status of all = %+v", all)
	}

	// Prometheus, from the runner's memory.
	got := gather(t, reg)
	if v := got["eventscope_subscription_processed_total/all"]; v != 50 {
		t.Errorf("processed_total{all} = %v, want 50", v)
	}
	if v := got["eventscope_subscription_processed_total/orders"]; v != 30 {
		t.Errorf("processed_total{orders} = %v, want 30", v)
	}
	if v := got["eventscope_subscription_holder/all"]; v != 1 {
		t.Errorf("holder{all} = %v, want 1", v)
	}
	for _, name := range []string{"lag", "rate", "parked", "failures_total"} {
		if _, ok := got["eventscope_subscription_"+name+"/all"]; !ok {
			t.Errorf("no eventscope_subscription_%s series", name)
		}
	}

	// Lag of a filtered subscription: exact, matching its filter.
	must(t, b.adm.Pause(ctx, "orders"))
	acknowledged(t, b, "orders")
	appendN(t, b.st, "order", 3, 4)
	appendN(t, b.st, "other", 3, 6)
	waitFor(t, "lag 4", time.Minute, func() bool {
		s := mustGet(t, b, "orders")
		return s.Lag == 4 && !s.LagEstimated && s.State == StatePaused
	})

	// A graceful stop clears the holder: no-holder at once.
	stop()
	if s := mustGet(t, b, "all"); s.State != StateNoHolder || s.Holder != nil || s.Rate != 0 {
		t.Errorf("after stop: %+v, want no-holder", s)
	}
	if _, err := b.adm.Get(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(nope) = %v", err)
	}
}

// gather flattens a registry into "name/subscription" -> value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	must(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var sub string
			for _, l := range m.GetLabel() {
				if l.GetName() == "subscription" {
					sub = l.GetValue()
				}
			}
			out[mf.GetName()+"/"+sub] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	}
	return 0
}

// TestLagEstimate: far behind, the lag is estimated from positions.
func TestLagEstimate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	evs := make([]store.BulkEvent, 15000)
	for i := range evs {
		evs[i] = store.BulkEvent{Type: "Bulk", Data: json.RawMessage(`{}`)}
	}
	_, err := b.st.BulkLoad(ctx, []store.BulkStream{{StreamID: "bulk-1", Events: evs}}, store.BulkOptions{})
	must(t, err)
	_, err = b.st.Pool().Exec(ctx, `INSERT INTO eventscope.subscriptions (name) VALUES ('behind')`)
	must(t, err)
	var s Status
	// (another test's open transaction may hold the new events back a moment)
	waitFor(t, "the events to be deliverable", time.Minute, func() bool { s = mustGet(t, b, "behind"); return !s.Head.IsZero() })
	if !s.LagEstimated || s.Lag < 14000 || s.Lag > 15000 || s.State != StateNoHolder {
		t.Fatalf("far behind: %+v, want an estimated lag near 15000", s)
	}
}
