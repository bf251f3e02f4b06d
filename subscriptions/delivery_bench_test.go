package subscriptions

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"eventscope/store"
	"eventscope/store/storetest"
)

// The benchmarks report figures (b.ReportMetric) rather than ns/op: the
// percentiles of delivery latency, rates and their ratios to the raw
// limits measured in the same run. They run on a private cluster of their
// own (see benchStore). Typical run:
//
//	go test -run '^$' -bench . -benchtime 5000x ./subscriptions/
//
// (-benchtime Nx: N events for the latency benchmarks, N catch-ups, N idle
// windows; the figures do not depend on N beyond the sample size.)

// percentile of sorted durations, in milliseconds.
func pctMS(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	i = min(max(i, 0), len(sorted)-1)
	return float64(sorted[i]) / float64(time.Millisecond)
}

// paced runs fn(i) for i in [0, n) at rate per second, spread over
// `workers` goroutines, each call starting at its due time (or at once when
// behind), and returns the achieved rate.
func paced(n, rate, workers int, fn func(i int)) float64 {
	var next atomic.Int64
	start := time.Now()
	gap := time.Second / time.Duration(rate)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if d := time.Until(start.Add(time.Duration(i) * gap)); d > 0 {
					time.Sleep(d)
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkDeliveryLatency: from an append's commit (its return to the
// appender) to the handler's start, at a sustained 1,000 events/s from 4
// appenders; beside it, a bare LISTEN/NOTIFY round trip at the same rate on
// the same server, and the ratios.
func BenchmarkDeliveryLatency(b *testing.B) {
	bd := benchStore(b, store.Options{})
	ctx := context.Background()
	n := b.N
	committed := make([]time.Time, n)
	started := make([]time.Time, n)
	var got atomic.Int64
	r := NewRunner(bd.st, RunnerOptions{})
	must(b, r.Add(Subscription{Name: "latency", StartAtEnd: true, Handler: func(_ context.Context, e store.Event) error {
		now := time.Now()
		var d struct{ I int }
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return err
		}
		started[d.I] = now
		got.Add(1)
		return nil
	}}))
	stop := run(b, r)
	waitFor(b, "the runner", time.Minute, func() bool { return r.lis.connected.Load() && r.byName["latency"].public().active })

	b.ResetTimer()
	rate := paced(n, 1000, 4, func(i int) {
		data := json.RawMessage(`{"i":` + strconv.Itoa(i) + `}`)
		if _, err := bd.st.Append(ctx, fmt.Sprintf("lat-%d", i%16), store.Any, store.NewEvent{Type: "Measured", Data: data}); err != nil {
			b.Error(err)
		}
		committed[i] = time.Now()
	})
	waitFor(b, "every event", time.Minute, func() bool { return got.Load() == int64(n) })
	b.StopTimer()
	stop()
	lat := make([]time.Duration, n)
	for i := range n {
		lat[i] = max(started[i].Sub(committed[i]), 0)
	}
	slices.Sort(lat)

	rt := notifyRoundTrips(b, bd, n)
	b.ReportMetric(rate, "appends/s")
	b.ReportMetric(pctMS(lat, 0.50), "p50-ms")
	b.ReportMetric(pctMS(lat, 0.99), "p99-ms")
	b.ReportMetric(pctMS(lat, 1), "max-ms")
	b.ReportMetric(pctMS(rt, 0.50), "notify-p50-ms")
	b.ReportMetric(pctMS(rt, 0.99), "notify-p99-ms")
	b.ReportMetric(pctMS(lat, 0.50)/pctMS(rt, 0.50), "p50-ratio")
	b.ReportMetric(pctMS(lat, 0.99)/pctMS(rt, 0.99), "p99-ratio")
	b.ReportMetric(0, "ns/op")
}

// notifyRoundTrips measures n bare NOTIFY → LISTEN round trips at
// 1,000/s: from sending the NOTIFY (an autocommit statement) to the
// listener's receipt. (Measured from the statement's return, most receipts
// come first: the notification is sent to the listener at commit, before
// the reply to the sender.)
func notifyRoundTrips(b *testing.B, bd *bundle, n int) []time.Duration {
	ctx := context.Background()
	lconn, err := pgx.ConnectConfig(ctx, dedicatedConfig(bd.st, "bench-listen"))
	must(b, err)
	defer lconn.Close(ctx)
	_, err = lconn.Exec(ctx, "LISTEN bench_rt")
	must(b, err)
	sent := make([]time.Time, n)
	recv := make([]time.Time, n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for k := 0; k < n; k++ {
			msg, err := lconn.WaitForNotification(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			now := time.Now()
			i, _ := strconv.Atoi(msg.Payload)
			recv[i] = now
		}
	}()
	paced(n, 1000, 4, func(i int) {
		sent[i] = time.Now() // the receipt may beat the NOTIFY's own reply, so from the call
		if _, err := bd.st.Pool().Exec(ctx, `SELECT pg_notify('bench_rt', $1)`, strconv.Itoa(i)); err != nil {
			b.Error(err)
		}
	})
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatal("notifications lost")
	}
	rt := make([]time.Duration, n)
	for i := range n {
		rt[i] = max(recv[i].Sub(sent[i]), 0)
	}
	slices.Sort(rt)
	return rt
}

// BenchmarkPollOnly: with wake-ups off (the store sends no NOTIFY), an
// event reaches the handler within the poll interval plus a read. Events
// are appended at random moments of the poll cycle.
func BenchmarkPollOnly(b *testing.B) {
	interval := 200 * time.Millisecond // EVENTSCOPE_BENCH_POLL overrides
	if d, err := time.ParseDuration(os.Getenv("EVENTSCOPE_BENCH_POLL")); err == nil && d > 0 {
		interval = d
	}
	bd := benchStore(b, store.Options{NoNotify: true})
	ctx := context.Background()
	n := b.N
	committed := make([]time.Time, n)
	started := make([]time.Time, n)
	var got atomic.Int64
	r := NewRunner(bd.st, RunnerOptions{PollInterval: interval})
	must(b, r.Add(Subscription{Name: "poll", StartAtEnd: true, Handler: func(_ context.Context, e store.Event) error {
		now := time.Now()
		var d struct{ I int }
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return err
		}
		started[d.I] = now
		got.Add(1)
		return nil
	}}))
	stop := run(b, r)
	waitFor(b, "the runner", time.Minute, func() bool { return r.byName["poll"].public().active })
	b.ResetTimer()
	for i := range n {
		// 0..interval apart, so appends land all over the poll cycle
		time.Sleep(time.Duration((i*7919)%100) * interval / 100)
		data := json.RawMessage(`{"i":` + strconv.Itoa(i) + `}`)
		if _, err := bd.st.Append(ctx, "poll-1", store.Any, store.NewEvent{Type: "Polled", Data: data}); err != nil {
			b.Fatal(err)
		}
		committed[i] = time.Now()
	}
	waitFor(b, "every event", time.Minute, func() bool { return got.Load() == int64(n) })
	b.StopTimer()
	stop()
	lat := make([]time.Duration, n)
	for i := range n {
		lat[i] = max(started[i].Sub(committed[i]), 0)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(interval)/float64(time.Millisecond), "interval-ms")
	b.ReportMetric(pctMS(lat, 0.50), "p50-ms")
	b.ReportMetric(pctMS(lat, 0.99), "p99-ms")
	b.ReportMetric(pctMS(lat, 1), "max-ms")
	b.ReportMetric(pctMS(lat, 1)-float64(interval)/float64(time.Millisecond), "max-over-interval-ms")
	b.ReportMetric(0, "ns/op")
}

// benchEvents is the size of the log the catch-up benchmark reads.
func benchEvents() int {
	if n, err := strconv.Atoi(os.Getenv("EVENTSCOPE_BENCH_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 100000
}

// fillLog appends n events in batches of 100 to streams of 1,000 events,
// through the store, and vacuums.
func fillLog(b *testing.B, st *store.Store, n int) {
	ctx := context.Background()
	payload := json.RawMessage(`{"customerId":"customer-42","lines":[{"sku":"SKU-1","qty":2,"price":1250}],"total":2500}`)
	for i := 0; i < n; i += 100 {
		k := min(100, n-i)
		evs := make([]store.NewEvent, k)
		for j := range evs {
			evs[j] = store.NewEvent{Type: "OrderPlaced", Data: payload}
		}
		if _, err := st.Append(ctx, fmt.Sprintf("fill-%d", i/1000), store.Any, evs...); err != nil {
			b.Fatal(err)
		}
	}
	must(b, storetest.Analyze(ctx, st))
}

// BenchmarkCatchUp: a subscription with a no-op handler reading a log of
// 100,000 events (EVENTSCOPE_BENCH_EVENTS) from the start, against the raw
// store.ReadAll loop over the same log (pages of 1,000, as the store
// benchmark reads), in the same run.
func BenchmarkCatchUp(b *testing.B) {
	bd := benchStore(b, store.Options{})
	ctx := context.Background()
	n := benchEvents()
	fillLog(b, bd.st, n)
	var readAll, sub100, sub1000 []float64
	b.ResetTimer()
	for it := range b.N {
		start := time.Now()
		cp, read := store.Start, 0
		for {
			p, err := bd.st.ReadAll(ctx, cp, store.ReadAllOptions{Limit: 1000})
			must(b, err)
			read += len(p.Events)
			cp = p.Next
			if p.Scanned < 1000 {
				break
			}
		}
		if read != n {
			b.Fatalf("ReadAll read %d events, want %d", read, n)
		}
		readAll = append(readAll, float64(n)/time.Since(start).Seconds())
		for _, batch := range []int{100, 1000} {
			var got atomic.Int64
			done := make(chan struct{})
			r := NewRunner(bd.st, RunnerOptions{})
			must(b, r.Add(Subscription{Name: fmt.Sprintf("catchup-%d-%d", batch, it), BatchSize: batch, Handler: func(context.Context, store.Event) error {
				if got.Add(1) == int64(n) {
					close(done)
				}
				return nil
			}}))
			start := time.Now()
			stop := run(b, r)
			select {
			case <-done:
			case <-time.After(5 * time.Minute):
				b.Fatal("catch-up did not finish")
			}
			rate := float64(n) / time.Since(start).Seconds()
			stop()
			if batch == 100 {
				sub100 = append(sub100, rate)
			} else {
				sub1000 = append(sub1000, rate)
			}
		}
	}
	b.StopTimer()
	med := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	b.ReportMetric(med(readAll), "readall-ev/s")
	b.ReportMetric(med(sub100), "sub100-ev/s")
	b.ReportMetric(med(sub1000), "sub1000-ev/s")
	b.ReportMetric(med(sub100)/med(readAll), "sub100-ratio")
	b.ReportMetric(med(sub1000)/med(readAll), "sub1000-ratio")
	b.ReportMetric(0, "ns/op")
}

// idleWindow is how long the idle benchmark watches the database.
func idleWindow() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("EVENTSCOPE_BENCH_IDLE")); err == nil && d > 0 {
		return d
	}
	return 10 * time.Second
}

// BenchmarkIdleSubscriptions: 1 and then 50 live subscriptions in one
// process while nothing is appended: the database's committed transactions
// per second (pg_stat_database.xact_commit) stay flat, whatever the
// number of subscriptions, and the process holds one LISTEN connection.
func BenchmarkIdleSubscriptions(b *testing.B) {
	bd := benchStore(b, store.Options{})
	ctx := context.Background()
	appendN(b, bd.st, "idle", 3, 10)
	window := idleWindow()
	measure := func(subs int) (xactPerSec float64, listeners, conns int) {
		r := NewRunner(bd.st, RunnerOptions{})
		for i := range subs {
			must(b, r.Add(Subscription{Name: fmt.Sprintf("idle-%d-%d", subs, i), Handler: func(context.Context, store.Event) error { return nil }}))
		}
		stop := run(b, r)
		defer stop()
		waitFor(b, "every subscription live", time.Minute, func() bool {
			for _, s := range r.snapshot() {
				if p := s.public(); !p.active || p.state != StateLive {
					return false
				}
			}
			return r.lis.connected.Load()
		})
		// An idle backend flushes its statistics within 10 s: let those of
		// the start-up arrive before counting.
		time.Sleep(12 * time.Second)
		read := func() (n int64) {
			must(b, bd.st.Pool().QueryRow(ctx, `SELECT pg_stat_force_next_flush()`).Scan(new(any)))
			must(b, bd.st.Pool().QueryRow(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&n))
			return n
		}
		before := read()
		t0 := time.Now()
		time.Sleep(window)
		after := read()
		xactPerSec = float64(after-before) / time.Since(t0).Seconds()
		must(b, bd.st.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE application_name = $1), count(*) FILTER (WHERE application_name LIKE 'eventscope%')
			FROM pg_stat_activity WHERE datname = current_database()`, listenerAppName).Scan(&listeners, &conns))
		return
	}
	var one, fifty []float64
	var listeners, conns int
	b.ResetTimer()
	for range b.N {
		x1, _, _ := measure(1)
		x50, l, c := measure(50)
		one, fifty = append(one, x1), append(fifty, x50)
		listeners, conns = l, c
	}
	b.StopTimer()
	med := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	b.ReportMetric(med(one), "xact/s-1sub")
	b.ReportMetric(med(fifty), "xact/s-50subs")
	b.ReportMetric(float64(listeners), "listen-conns")
	b.ReportMetric(float64(conns), "conns")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkAppendWithSubscribers: 16 writers appending for 3 s, first
// with no subscriber, then with 10 live subscriptions (no-op handlers) in
// the same process; the ratio shows what live subscribers cost appends.
func BenchmarkAppendWithSubscribers(b *testing.B) {
	bd := benchStore(b, store.Options{})
	ctx := context.Background()
	const writers, dur = 16, 3 * time.Second
	appends := func() float64 {
		var n atomic.Int64
		deadline := time.Now().Add(dur)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; time.Now().Before(deadline); i++ {
					if _, err := bd.st.Append(ctx, fmt.Sprintf("w%d-%d", w, i%50), store.Any, ev("Appended", i)); err != nil {
						b.Error(err)
						return
					}
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		return float64(n.Load()) / dur.Seconds()
	}
	var alone, with []float64
	b.ResetTimer()
	for it := range b.N {
		alone = append(alone, appends())
		r := NewRunner(bd.st, RunnerOptions{})
		for i := range 10 {
			must(b, r.Add(Subscription{Name: fmt.Sprintf("live-%d-%d", it, i), StartAtEnd: true, Handler: func(context.Context, store.Event) error { return nil }}))
		}
		stop := run(b, r)
		waitFor(b, "live subscriptions", time.Minute, func() bool {
			for _, s := range r.snapshot() {
				if !s.public().active {
					return false
				}
			}
			return true
		})
		with = append(with, appends())
		stop()
	}
	b.StopTimer()
	med := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	b.ReportMetric(med(alone), "appends/s-alone")
	b.ReportMetric(med(with), "appends/s-10subs")
	b.ReportMetric(med(with)/med(alone), "ratio")
	b.ReportMetric(0, "ns/op")
}
