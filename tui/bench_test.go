package tui

import (
	"context"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"eventscope/domain"
	"eventscope/store"
	"eventscope/subscriptions"
	"eventscope/tui/common"
	"eventscope/tui/streams"
	"eventscope/tui/tail"
	"eventscope/tui/timetravel"
	"eventscope/tui/tuitest"
)

// Benchmarks of the console's hot paths on a real database, driving the
// views' Update and View as the program does. They need a seeded database:
//
//	EVENTSCOPE_BENCH_DB=postgres://... go test ./tui/ -run XXX -bench . -benchtime 200x
//
// (the README's figures use 1,000,000 events in 100,000 streams, with a
// 100,000-event stream customer-whale). Without it they are skipped.

func benchStore(b *testing.B) (*store.Store, Deps) {
	b.Helper()
	url := os.Getenv("EVENTSCOPE_BENCH_DB")
	if url == "" {
		b.Skip("EVENTSCOPE_BENCH_DB is not set")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	d := DepsFor(ctx, Config{Store: st, Admin: subscriptions.NewAdmin(st),
		TimeTravel: domain.NewTimeTravel(st, domain.DefaultRegistry(), domain.TimeTravelOptions{})})
	return st, d
}

// settle feeds msgs to the view and runs its commands, answering debounce
// timers at once (the benchmark measures the work, and reports the
// debounce separately).
func settle(u interface{ Update(tea.Msg) tea.Cmd }, msgs ...tea.Msg) {
	for round := 0; len(msgs) > 0 && round < 20; round++ {
		var next []tea.Msg
		for _, m := range msgs {
			next = append(next, tuitest.DrainWithin(u.Update(m), 10*time.Second)...)
		}
		msgs = next
	}
}

func benchCommon() common.Common {
	c := tuitest.Common(160, 44)
	c.Tick = func(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd {
		if d > 100*time.Millisecond {
			return nil
		}
		return func() tea.Msg { return fn(time.Now()) }
	}
	return c
}

// BenchmarkStreamsFilterKeystroke: one keystroke in the streams filter to
// the updated frame. "extend" types a character that narrows the query:
// the loaded candidates are re-ranked at once (no query). "server" types a
// query nothing loaded can answer: the server narrows (prefix + subsequence
// ILIKE, capped at 2,000), sahilm/fuzzy ranks, the frame renders; the 70 ms
// debounce before it is not included.
func BenchmarkStreamsFilterKeystroke(b *testing.B) {
	_, d := benchStore(b)
	ctx := context.Background()
	open := func() *streams.Model {
		m := streams.New(ctx, benchCommon(), d.Streams)
		m.SetSize(160, 40)
		settle(m, tuitest.DrainWithin(m.Init(), 10*time.Second)...)
		settle(m, tuitest.Key("/"))
		return m
	}
	b.Run("extend", func(b *testing.B) {
		m := open()
		for _, r := range "order-0" {
			settle(m, tuitest.Key(string(r)))
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			m.Update(tuitest.Key("1")) // "order-01": re-ranked from "order-0"'s candidates
			_ = m.View()
			b.StopTimer()
			settle(m, tuitest.Key("backspace"))
			b.StartTimer()
		}
	})
	b.Run("server", func(b *testing.B) {
		m := open()
		queries := []string{"cust9", "ord77", "aud42", "whal", "r-0004", "er-12", "omer-08", "dit-5"}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			m = open() // no cache: every query goes to the server
			q := queries[i%len(queries)]
			for _, r := range q[:len(q)-1] {
				m.Update(tuitest.Key(string(r))) // no settle: nothing is asked yet
			}
			b.StartTimer()
			settle(m, tuitest.Key(q[len(q)-1:]))
			if v := m.View(); !strings.Contains(v, "matches for") || strings.Contains(v, "searching") {
				b.Fatalf("not answered:\n%s", v)
			}
		}
	})
}

// BenchmarkTimeTravelStep: one step (→) on the 100,000-event stream
// customer-whale, at a random uncached version, to the rendered frame: one
// TransitionAt (a snapshot plus at most 100 events folded) and the diff.
func BenchmarkTimeTravelStep(b *testing.B) {
	_, d := benchStore(b)
	ctx := context.Background()
	const stream = "customer-whale"
	// Warm: one visit to the end writes the snapshots the fold passes (the
	// domain does that lazily, once per stream).
	start := time.Now()
	if _, err := d.TimeTravel.TransitionAt(ctx, stream, -1); err != nil {
		b.Skipf("%s: %v", stream, err)
	}
	b.Logf("first visit to v99999 (lazy snapshots): %s", time.Since(start))
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		v := rng.Int64N(99000)
		m := timetravel.New(ctx, benchCommon(), d.TimeTravel, stream, v, time.Time{})
		m.SetSize(160, 40)
		settle(m, tuitest.DrainWithin(m.Init(), 10*time.Second)...)
		b.StartTimer()
		settle(m, tuitest.Key("right"))
		out := m.View()
		b.StopTimer()
		if s, ok := m.Current(); !ok || s.Version != v+1 || !strings.Contains(out, "Customer aggregate") {
			b.Fatalf("at %+v", s)
		}
		b.StartTimer()
	}
}

// BenchmarkTailBatch: one 75 ms batch at 2,000 events/s (150 events) into
// a full 10,000-event ring, and the frame: the per-batch cost of the tail.
func BenchmarkTailBatch(b *testing.B) {
	m := tail.New(context.Background(), tuitest.Common(160, 44), nil, 0)
	m.SetSize(160, 40)
	evs := make([]store.Event, 150)
	for i := range evs {
		evs[i] = store.Event{StreamID: "order-123456", Version: int64(i), Checkpoint: store.Checkpoint{Tx: 99, Pos: int64(i)}, Type: "OrderPlaced",
			Data: []byte(`{"customerId":"0042","lines":[{"sku":"LAMP-050","qty":3,"price":1247}],"total":3741}`), RecordedAt: time.Now()}
	}
	for i := 0; i < 100; i++ {
		m.Update(tail.BatchMsg{ID: m.ID(), Events: evs})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Update(tail.BatchMsg{ID: m.ID(), Events: evs})
		_ = m.View()
	}
}
