package subscriptions

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"eventscope/store"
	"eventscope/store/storetest"
)

// BenchmarkGroupMembers: a group of 16 partitions catching up on a log of
// EVENTSCOPE_BENCH_GROUP_EVENTS events (default 20,000, over 256 streams)
// with 1, 2 and 4 members (Runners in this process, each with its own
// lease connection), against the raw ReadAll loop over the same log and a
// plain subscription, in the same run, alternating; medians reported. The
// handler is a no-op, or sleeps EVENTSCOPE_BENCH_GROUP_WORK (default 0).
// Each consumer starts at the end, settles (its members balanced), and is
// then reset to the start: the figure is the catch-up, not the joining.
func BenchmarkGroupMembers(b *testing.B) {
	bd := benchStore(b, store.Options{})
	ctx := context.Background()
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("EVENTSCOPE_BENCH_GROUP_EVENTS")); err == nil && v > 0 {
		n = v
	}
	work, _ := time.ParseDuration(os.Getenv("EVENTSCOPE_BENCH_GROUP_WORK"))
	payload := json.RawMessage(`{"customerId":"customer-42","lines":[{"sku":"SKU-1","qty":2,"price":1250}],"total":2500}`)
	for i := 0; i < n; i += 100 {
		evs := make([]store.NewEvent, min(100, n-i))
		for j := range evs {
			evs[j] = store.NewEvent{Type: "OrderPlaced", Data: payload}
		}
		_, err := bd.st.Append(ctx, fmt.Sprintf("order-%d", (i/100)%256), store.Any, evs...)
		must(b, err)
	}
	must(b, storetest.Analyze(ctx, bd.st))

	rates := map[string][]float64{}
	consume := func(name string, partitions, members int) float64 {
		var got atomic.Int64
		done := make(chan struct{})
		h := func(context.Context, store.Event) error {
			if work > 0 {
				time.Sleep(work)
			}
			if got.Add(1) == int64(n) {
				close(done)
			}
			return nil
		}
		// The members start at the end of the log and settle (every
		// partition held, balanced); then a reset to the start sets them
		// all to work at once, and the time to catch up is measured.
		var stops []func()
		for m := range max(members, 1) {
			r := NewRunner(bd.st, RunnerOptions{Instance: fmt.Sprintf("%s-m%d", name, m)})
			must(b, r.Add(Subscription{Name: name, Partitions: partitions, StartAtEnd: true, Handler: h}))
			stops = append(stops, run(b, r))
		}
		settle := time.Now().Add(time.Minute)
		for {
			s, err := bd.adm.Get(ctx, name)
			if err == nil && settled(s, partitions, members) {
				break
			}
			if time.Now().After(settle) {
				b.Fatalf("%s did not settle: %+v (%v)", name, s, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		start := time.Now()
		must(b, bd.adm.Reset(ctx, name, ResetTarget{Kind: ResetStart}))
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			st, err := bd.adm.Get(ctx, name)
			b.Fatalf("%s did not catch up: %d of %d delivered; status %+v (%v)", name, got.Load(), n, st, err)
		}
		rate := float64(n) / time.Since(start).Seconds()
		for _, s := range stops {
			s()
		}
		return rate
	}
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
		rates["readall"] = append(rates["readall"], float64(read)/time.Since(start).Seconds())
		rates["plain"] = append(rates["plain"], consume(fmt.Sprintf("plain-%d", it), 0, 1))
		for _, m := range []int{1, 2, 4} {
			key := fmt.Sprintf("members%d", m)
			rates[key] = append(rates[key], consume(fmt.Sprintf("g%d-%d", m, it), 16, m))
		}
	}
	b.StopTimer()
	med := func(xs []float64) float64 {
		s := append([]float64(nil), xs...)
		sort.Float64s(s)
		return s[len(s)/2]
	}
	raw := med(rates["readall"])
	for _, k := range []string{"readall", "plain", "members1", "members2", "members4"} {
		b.ReportMetric(med(rates[k]), k+"-ev/s")
	}
	b.Logf("%d events, handler work %s, medians of %d: ReadAll %.0f ev/s; plain subscription %.0f (%.2fx); group of 16 partitions with 1 member %.0f (%.2fx), 2 members %.0f (%.2fx), 4 members %.0f (%.2fx)",
		n, work, b.N, raw, med(rates["plain"]), med(rates["plain"])/raw,
		med(rates["members1"]), med(rates["members1"])/raw, med(rates["members2"]), med(rates["members2"])/raw,
		med(rates["members4"]), med(rates["members4"])/raw)
}

// settled: a plain subscription has a holder; a group has every partition
// held, by members live members sharing them evenly.
func settled(s Status, partitions, members int) bool {
	if partitions == 0 {
		return s.Holder != nil
	}
	if len(s.Partitions) != partitions {
		return false
	}
	per := map[string]int{}
	for _, p := range s.Partitions {
		if p.Holder == nil {
			return false
		}
		per[p.Holder.Instance]++
	}
	if len(per) != members {
		return false
	}
	for _, n := range per {
		if n < partitions/members || n > (partitions+members-1)/members {
			return false
		}
	}
	return true
}
