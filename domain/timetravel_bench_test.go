package domain

import (
	"context"
	"math/rand/v2"
	"os"
	"sort"
	"testing"
	"time"

	"eventscope/store"
)

// bigStream loads a 100,000-event customer stream and visits its last
// version once, which writes its snapshots (as the seeder does for seeded
// long streams).
func bigStream(tb testing.TB) (*store.Store, *TimeTravel, context.Context) {
	st, ctx := setup(tb)
	loadCustomerHistory(tb, ctx, st, "customer-big", 100_000, time.Now().Add(-100_000*time.Minute))
	tt := NewTimeTravel(st, nil, TimeTravelOptions{})
	if _, err := tt.StateAt(ctx, "customer-big", 99_999); err != nil {
		tb.Fatal(err)
	}
	return st, tt, ctx
}

// TestTimeTravelFigure prints StateAt at random versions of a
// 100,000-event stream beside reading 100 events of it, same database,
// same run. It asserts nothing about time. Run it with
//
//	EVENTSCOPE_FIGURES=1 go test ./domain -run TimeTravelFigure -v
func TestTimeTravelFigure(t *testing.T) {
	if os.Getenv("EVENTSCOPE_FIGURES") == "" {
		t.Skip("set EVENTSCOPE_FIGURES=1 to measure time-travel")
	}
	st, tt, ctx := bigStream(t)
	rng := rand.New(rand.NewPCG(1, 1))
	const n = 1000
	var stateAt, read100 []time.Duration
	for range n {
		v := rng.Int64N(100_000)
		t0 := time.Now()
		s, err := tt.StateAt(ctx, "customer-big", v)
		stateAt = append(stateAt, time.Since(t0))
		if err != nil || s.Version != v {
			t.Fatal(err)
		}
		from := rng.Int64N(100_000 - 100)
		t0 = time.Now()
		evs, err := st.ReadStream(ctx, "customer-big", store.ReadStreamOptions{From: from, Limit: 100})
		read100 = append(read100, time.Since(t0))
		if err != nil || len(evs) != 100 {
			t.Fatal(err)
		}
	}
	q := func(d []time.Duration, p float64) time.Duration {
		s := append([]time.Duration(nil), d...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s[min(len(s)-1, int(p*float64(len(s))))]
	}
	r := func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
	t.Logf("StateAt, random versions of a 100,000-event stream (snapshot every %d): p50 %s  p99 %s  max %s",
		tt.SnapshotEvery(), r(q(stateAt, .5)), r(q(stateAt, .99)), r(q(stateAt, 1)))
	t.Logf("ReadStream of 100 events, random offsets:                               p50 %s  p99 %s  max %s",
		r(q(read100, .5)), r(q(read100, .99)), r(q(read100, 1)))
	t.Logf("StateAt / read 100: p50 %.2f×  p99 %.2f×",
		q(stateAt, .5).Seconds()/q(read100, .5).Seconds(), q(stateAt, .99).Seconds()/q(read100, .99).Seconds())
}

func BenchmarkStateAt100k(b *testing.B) {
	_, tt, ctx := bigStream(b)
	rng := rand.New(rand.NewPCG(2, 2))
	b.ResetTimer()
	for b.Loop() {
		if _, err := tt.StateAt(ctx, "customer-big", rng.Int64N(100_000)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead100Of100k(b *testing.B) {
	st, _, ctx := bigStream(b)
	rng := rand.New(rand.NewPCG(3, 3))
	b.ResetTimer()
	for b.Loop() {
		if _, err := st.ReadStream(ctx, "customer-big", store.ReadStreamOptions{From: rng.Int64N(99_900), Limit: 100}); err != nil {
			b.Fatal(err)
		}
	}
}
