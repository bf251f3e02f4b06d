package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"eventscope/store"
)

// The observability figures (issue 12), each measured against its baseline
// in the same run, alternating, medians of -count runs:
//
//	go test -run '^$' -bench 'AppendObserve' -benchtime 1x -count 3 -v ./store/
//	EVENTSCOPE_BIG_DB=postgres://.../observe_big go test -run '^$' -bench 'TypesVsStats' -benchtime 1x -count 3 -v ./store/
//	EVENTSCOPE_BIG_DB=postgres://.../observe_big go test -run '^$' -bench 'TraceVsReadStream' -benchtime 1x -count 5 -v ./store/
//
// EVENTSCOPE_BIG_DB names a database holding a large seeded history, e.g.
// `eventscope seed --customers 14600 --orders 146000` (699,922 events).

const observeRounds = 5

// appendWithMeta runs 16 writers, each on streams of its own, appending one
// event per call with the domain's metadata (correlation and causation ids,
// source) for d, and returns events/s.
func appendWithMeta(ctx context.Context, st *store.Store, run string, d time.Duration) (float64, error) {
	var (
		n   atomic.Int64
		wg  sync.WaitGroup
		bad atomic.Value
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				corr, cause := uuid.NewString(), uuid.NewString()
				md, _ := json.Marshal(map[string]string{"correlationId": corr, "causationId": cause, "source": "bench"})
				stream := fmt.Sprintf("w%d-%s.%d", w, run, i/1000)
				if _, err := st.Append(ctx, stream, store.Any, store.NewEvent{Type: "OrderPlaced", Data: json.RawMessage(`{"customerId":"customer-42","lines":[{"sku":"SKU-1","qty":2,"price":1250}],"total":2500}`), Metadata: md}); err != nil {
					bad.Store(err)
					return
				}
				n.Add(1)
			}
		}(w)
	}
	wg.Wait()
	if err, ok := bad.Load().(error); ok {
		return 0, err
	}
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkAppendObserve: the correlation/causation indexes' cost on
// appends (ratio with/without them), and the catalog follower's (ratio with
// FollowCatalog running / without), 16 writers, metadata on every event.
func BenchmarkAppendObserve(b *testing.B) {
	env := benchEnv(b)
	ctx := context.Background()
	st := env.Store
	const d = 3 * time.Second
	truncate := func() {
		if _, err := env.Raw.Exec(ctx, `TRUNCATE eventscope.events, eventscope.streams; UPDATE eventscope.catalog_state SET tx_id = '0', position = 0, events = 0; DELETE FROM eventscope.catalog_types; CHECKPOINT`); err != nil {
			b.Fatal(err)
		}
	}
	setIndexes := func(on bool) {
		q := `DROP INDEX eventscope.events_correlation_idx; DROP INDEX eventscope.events_causation_idx`
		if on {
			q = `CREATE INDEX events_correlation_idx ON eventscope.events ((metadata->>'correlationId')) WHERE metadata ? 'correlationId';
			     CREATE INDEX events_causation_idx ON eventscope.events ((metadata->>'causationId')) WHERE metadata ? 'causationId' AND NOT metadata ? 'correlationId'`
		}
		if _, err := env.Raw.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	var with, without, follow, plain []float64
	for r := 0; r < observeRounds; r++ {
		for _, on := range []bool{r%2 == 0, r%2 != 0} {
			truncate()
			if !on {
				setIndexes(false)
			}
			v, err := appendWithMeta(ctx, st, fmt.Sprintf("i%d%v", r, on), d)
			if err != nil {
				b.Fatal(err)
			}
			if !on {
				setIndexes(true)
				without = append(without, v)
			} else {
				with = append(with, v)
			}
		}
		for _, on := range []bool{r%2 == 0, r%2 != 0} {
			truncate()
			fctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			if on {
				go func() { defer close(done); _ = st.FollowCatalog(fctx, time.Second) }()
			} else {
				close(done)
			}
			v, err := appendWithMeta(ctx, st, fmt.Sprintf("f%d%v", r, on), d)
			cancel()
			<-done
			if err != nil {
				b.Fatal(err)
			}
			if on {
				follow = append(follow, v)
			} else {
				plain = append(plain, v)
			}
		}
	}
	b.ReportMetric(median(with), "indexed-events/s")
	b.ReportMetric(median(without), "unindexed-events/s")
	b.ReportMetric(median(with)/median(without), "index-ratio")
	b.ReportMetric(median(follow), "with-catalog-events/s")
	b.ReportMetric(median(plain), "no-catalog-events/s")
	b.ReportMetric(median(follow)/median(plain), "catalog-ratio")
	b.Logf("indexes: %v vs %v; catalog follower: %v vs %v", with, without, follow, plain)
}

func bigDB(b *testing.B) *store.Store {
	url := os.Getenv("EVENTSCOPE_BIG_DB")
	if url == "" {
		b.Skip("EVENTSCOPE_BIG_DB is not set")
	}
	st, err := store.Open(context.Background(), url, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	return st
}

// BenchmarkTraceVsReadStream: tracing an order's saga (its correlation
// across the order and the customer streams) against a plain read of the
// order's stream, on a large history, the same orders alternating.
func BenchmarkTraceVsReadStream(b *testing.B) {
	st := bigDB(b)
	ctx := context.Background()
	list, err := st.ListStreams(ctx, store.ListStreamsOptions{Category: "order", Limit: 5000})
	if err != nil {
		b.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	// warm up: every pooled connection prepares both statements and passes
	// the server's five custom plans before it settles on a generic one
	for i := 0; i < 200; i++ {
		s := list.Streams[rnd.IntN(len(list.Streams))].StreamID
		if _, err := st.Trace(ctx, store.EventRef{Stream: s, Version: 0}, store.TraceOptions{}); err != nil {
			b.Fatal(err)
		}
		if _, err := st.ReadStream(ctx, s, store.ReadStreamOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	var trace, read, ratios []float64
	var steps, evs int
	for r := 0; r < observeRounds; r++ {
		var tt, rt time.Duration
		for i := 0; i < 300; i++ {
			s := list.Streams[rnd.IntN(len(list.Streams))].StreamID
			for _, first := range []bool{i%2 == 0, i%2 != 0} {
				t0 := time.Now()
				if first {
					tr, err := st.Trace(ctx, store.EventRef{Stream: s, Version: 0}, store.TraceOptions{})
					if err != nil {
						b.Fatal(err)
					}
					tt += time.Since(t0)
					steps += len(tr.Steps)
				} else {
					e, err := st.ReadStream(ctx, s, store.ReadStreamOptions{})
					if err != nil {
						b.Fatal(err)
					}
					rt += time.Since(t0)
					evs += len(e)
				}
			}
		}
		trace, read = append(trace, float64(tt.Microseconds())/300), append(read, float64(rt.Microseconds())/300)
		ratios = append(ratios, float64(tt)/float64(rt))
	}
	b.ReportMetric(median(trace), "trace-µs")
	b.ReportMetric(median(read), "readstream-µs")
	b.ReportMetric(median(ratios), "ratio")
	b.Logf("trace %v µs, read %v µs; %.1f events per trace, %.1f per stream", trace, read, float64(steps)/float64(observeRounds*300), float64(evs)/float64(observeRounds*300))
}

// BenchmarkTypesVsStats: answering the catalog (caught up, checking for
// the delta first) against Stats, on a large history.
func BenchmarkTypesVsStats(b *testing.B) {
	st := bigDB(b)
	ctx := context.Background()
	if _, err := st.AdvanceCatalog(ctx, store.CatalogOptions{Budget: 10 * time.Minute}); err != nil {
		b.Fatal(err)
	}
	var types, stats []float64
	for r := 0; r < observeRounds; r++ {
		var tt, stt time.Duration
		for i := 0; i < 50; i++ {
			for _, first := range []bool{i%2 == 0, i%2 != 0} {
				t0 := time.Now()
				if first {
					if _, _, err := st.CatalogTypes(ctx, store.CatalogOptions{}); err != nil {
						b.Fatal(err)
					}
					tt += time.Since(t0)
				} else {
					if _, err := st.Stats(ctx, store.StatsOptions{}); err != nil {
						b.Fatal(err)
					}
					stt += time.Since(t0)
				}
			}
		}
		types, stats = append(types, float64(tt.Microseconds())/50), append(stats, float64(stt.Microseconds())/50)
	}
	b.ReportMetric(median(types), "types-µs")
	b.ReportMetric(median(stats), "stats-µs")
	b.ReportMetric(median(types)/median(stats), "ratio")
	b.Logf("types %v µs, stats %v µs", types, stats)
}
