package subscriptions

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// BenchmarkDeliveryLatencySQL: BenchmarkDeliveryLatency with the writers
// plain SQL clients (4 connections of their own calling eventscope.append,
// no NOTIFY in their transactions, no wake-ups from a Go client): delivery
// from the append's commit to the handler's start at 1,000 events/s rests
// on the commit watcher alone.
//
//	go test -run '^$' -bench DeliveryLatencySQL -benchtime 5000x -count 3 ./subscriptions/
func BenchmarkDeliveryLatencySQL(b *testing.B) {
	bd := benchStore(b, store.Options{NoNotify: true})
	ctx := context.Background()
	n := b.N
	committed := make([]time.Time, n)
	started := make([]time.Time, n)
	var got atomic.Int64
	r := NewRunner(bd.st, RunnerOptions{PollInterval: time.Hour})
	must(b, r.Add(Subscription{Name: "latency-sql", StartAtEnd: true, Handler: func(_ context.Context, e store.Event) error {
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
	waitFor(b, "the runner", time.Minute, func() bool {
		return r.lis.connected.Load() && r.lis.watching.Load() && r.byName["latency-sql"].public().active
	})
	conns := make(chan *pgx.Conn, 4)
	for range 4 {
		c, err := pgx.Connect(ctx, bd.url)
		must(b, err)
		defer c.Close(ctx)
		// Until migration 005 makes it the default: no NOTIFY in the transaction.
		_, err = c.Exec(ctx, `SET eventscope.notify = off`)
		must(b, err)
		conns <- c
	}
	checks0 := r.lis.checks.Load()
	b.ResetTimer()
	t0 := time.Now()
	rate := paced(n, 1000, 4, func(i int) {
		c := <-conns
		defer func() { conns <- c }()
		events := `[{"type":"Measured","data":{"i":` + strconv.Itoa(i) + `}}]`
		if _, err := c.Exec(ctx, `SELECT eventscope.append($1, NULL, $2)`, fmt.Sprintf("lat-%d", i%16), events); err != nil {
			b.Error(err)
		}
		committed[i] = time.Now()
	})
	waitFor(b, "every event", time.Minute, func() bool { return got.Load() == int64(n) })
	checksPerSec := float64(r.lis.checks.Load()-checks0) / time.Since(t0).Seconds()
	b.StopTimer()
	stop()
	lat := make([]time.Duration, n)
	for i := range n {
		lat[i] = max(started[i].Sub(committed[i]), 0)
	}
	slices.Sort(lat)
	rt := notifyRoundTrips(b, bd, n) // the machine's floor for any wake-up, same run
	b.ReportMetric(rate, "appends/s")
	b.ReportMetric(pctMS(lat, 0.50), "p50-ms")
	b.ReportMetric(pctMS(lat, 0.99), "p99-ms")
	b.ReportMetric(pctMS(lat, 1), "max-ms")
	b.ReportMetric(pctMS(rt, 0.50), "notify-p50-ms")
	b.ReportMetric(pctMS(rt, 0.99), "notify-p99-ms")
	b.ReportMetric(checksPerSec, "watcher-checks/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkWatcherIdle: what wake-ups cost an idle database. One process
// (runner) with 1 live subscription, then with 50, then a second process
// beside it: the database's committed transactions per second
// (pg_stat_database.xact_commit: every statement of every connection,
// the runners' heartbeats and polls included) and the watcher's own head
// checks per second. The second process is not the watcher: its share is
// its election try (a ping) each second plus its own poll and heartbeat.
//
//	go test -run '^$' -bench WatcherIdle -benchtime 1x ./subscriptions/
func BenchmarkWatcherIdle(b *testing.B) {
	bd := benchStore(b, store.Options{})
	ctx := context.Background()
	appendN(b, bd.st, "idle", 3, 10)
	window := idleWindow()
	xacts := func() (n int64) {
		must(b, bd.st.Pool().QueryRow(ctx, `SELECT pg_stat_force_next_flush()`).Scan(new(any)))
		must(b, bd.st.Pool().QueryRow(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&n))
		return n
	}
	start := func(name string, subs int) (*Runner, func()) {
		r := NewRunner(bd.st, RunnerOptions{})
		for i := range subs {
			must(b, r.Add(Subscription{Name: fmt.Sprintf("%s-%d", name, i), Handler: func(context.Context, store.Event) error { return nil }}))
		}
		stop := run(b, r)
		waitFor(b, name+" live", time.Minute, func() bool {
			for _, s := range r.snapshot() {
				if p := s.public(); !p.active || p.state != StateLive {
					return false
				}
			}
			return r.lis.connected.Load()
		})
		return r, stop
	}
	measure := func(rs ...*Runner) (xactPerSec, checksPerSec float64) {
		time.Sleep(12 * time.Second) // start-up statistics flush first
		var c0 int64
		for _, r := range rs {
			c0 += r.lis.checks.Load()
		}
		x0, t0 := xacts(), time.Now()
		time.Sleep(window)
		x1 := xacts()
		var c1 int64
		for _, r := range rs {
			c1 += r.lis.checks.Load()
		}
		el := time.Since(t0).Seconds()
		return float64(x1-x0) / el, float64(c1-c0) / el
	}
	b.ResetTimer()
	for it := range b.N {
		r1, stop1 := start(fmt.Sprintf("one-%d", it), 1)
		x1, c1 := measure(r1)
		stop1()
		r50, stop50 := start(fmt.Sprintf("fifty-%d", it), 50)
		x50, c50 := measure(r50)
		r2, stop2 := start(fmt.Sprintf("second-%d", it), 1)
		x2, c2 := measure(r50, r2)
		stop2()
		stop50()
		b.ReportMetric(x1, "xact/s-1sub")
		b.ReportMetric(x50, "xact/s-50subs")
		b.ReportMetric(x2, "xact/s-2procs")
		b.ReportMetric(c1, "checks/s-1sub")
		b.ReportMetric(c50, "checks/s-50subs")
		b.ReportMetric(c2, "checks/s-2procs")
	}
	b.StopTimer()
	b.ReportMetric(0, "ns/op")
}
