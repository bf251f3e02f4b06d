package bench

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"

	"eventscope/seed"
)

// SeedResult compares seeding with a raw COPY of the same rows.
type SeedResult struct {
	Events int64 `json:"events"`
	// Generate is the time to generate the history in memory (alone).
	Generate time.Duration `json:"generate_ns"`
	// Seed is the time of Seed: generating and bulk-loading, streams rows,
	// snapshots, everything.
	Seed time.Duration `json:"seed_ns"`
	// RawIndexed is one COPY of the same rows (same columns) into a plain
	// table shaped like eventscope.events: same columns, defaults, primary
	// key and unique indexes; no streams table, no snapshots.
	RawIndexed time.Duration `json:"raw_indexed_ns"`
	// RawHeap is the same COPY into a table without any index.
	RawHeap time.Duration `json:"raw_heap_ns"`
}

// Ratio is seeding throughput over raw-COPY throughput into the indexed
// equivalent table (1.0: as fast as the raw limit).
func (r SeedResult) Ratio() float64 { return r.RawIndexed.Seconds() / r.Seed.Seconds() }

// RatioHeap is seeding throughput over raw COPY into an index-less table.
func (r SeedResult) RatioHeap() float64 { return r.RawHeap.Seconds() / r.Seed.Seconds() }

// SeedConfig is the seed configuration Seed uses for about n events.
func SeedConfig(n int64) seed.Config {
	orders := seed.OrdersFor(n)
	return seed.Config{Customers: max(1000, orders/40), Orders: orders, Seed: 42}
}

// Seed seeds about n events into env's store (empty, as Setup makes it)
// and COPYs the same rows into two plain tables, in the same run on the
// same server, and reports the times. It drops the plain tables.
func Seed(ctx context.Context, env *Env, n int64, logf func(string, ...any)) (SeedResult, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	c := SeedConfig(n)
	st, raw := env.Store, env.Raw
	var res SeedResult
	start := time.Now()
	events, stats, err := seed.Generate(c)
	if err != nil {
		return res, err
	}
	res.Generate = time.Since(start)
	res.Events = stats.Events
	logf("generated %d events in %v", stats.Events, res.Generate.Round(time.Millisecond))

	rawCopy := func(name string, indexed bool) (time.Duration, error) {
		like := "INCLUDING DEFAULTS"
		if indexed {
			like += " INCLUDING CONSTRAINTS INCLUDING INDEXES"
		}
		tbl := pgx.Identifier{"public", name}
		if _, err := raw.Exec(ctx, `DROP TABLE IF EXISTS `+tbl.Sanitize()+`; CREATE TABLE `+tbl.Sanitize()+` (LIKE eventscope.events `+like+`); CHECKPOINT`); err != nil {
			return 0, fmt.Errorf("bench: create %s: %w", name, err)
		}
		defer raw.Exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS `+tbl.Sanitize()) //nolint:errcheck
		// the versions a loader would give: count per stream in order
		next := map[string]int64{}
		versions := make([]int64, len(events))
		for i, e := range events {
			versions[i] = next[e.StreamID]
			next[e.StreamID]++
		}
		runtime.GC()
		i := 0
		t0 := time.Now()
		_, err := raw.CopyFrom(ctx, tbl, []string{"stream_id", "version", "event_id", "type", "data", "metadata", "recorded_at"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if i >= len(events) {
					return nil, nil
				}
				e := events[i]
				row := []any{e.StreamID, versions[i], e.ID, e.Type, []byte(e.Data), []byte(e.Metadata), e.RecordedAt}
				i++
				return row, nil
			}))
		d := time.Since(t0)
		if err != nil {
			return 0, fmt.Errorf("bench: copy into %s: %w", name, err)
		}
		return d, nil
	}
	if res.RawIndexed, err = rawCopy("bench_raw_events_indexed", true); err != nil {
		return res, err
	}
	logf("raw COPY into an indexed plain table: %v", res.RawIndexed.Round(time.Millisecond))
	events = nil
	runtime.GC()
	if _, err := raw.Exec(ctx, `CHECKPOINT`); err != nil {
		return res, err
	}
	t0 := time.Now()
	if _, err := seed.Seed(ctx, st, c, seed.Options{}); err != nil {
		return res, err
	}
	res.Seed = time.Since(t0)
	logf("seed (generate + bulk load + streams + snapshots): %v", res.Seed.Round(time.Millisecond))
	events, _, _ = seed.Generate(c)
	if res.RawHeap, err = rawCopy("bench_raw_events_heap", false); err != nil {
		return res, err
	}
	logf("raw COPY into an index-less table: %v", res.RawHeap.Round(time.Millisecond))
	return res, nil
}
