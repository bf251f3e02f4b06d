package cli

import (
	"context"
	"fmt"
	"time"

	"eventscope/internal/bench"
)

// benchIndexCost measures what the filtered reads' indexes (migration 007)
// cost appends: the same workload with them, without them (dropped from the
// scratch database) and through a raw INSERT, alternating, in one run.
func benchIndexCost(ctx context.Context, env *bench.Env, d time.Duration, repeat, clients int, progress func(string, ...any)) ([]benchRow, error) {
	var rows []benchRow
	for _, cats := range []int{0, 1} {
		what := "own categories"
		if cats == 1 {
			what = "one category"
		}
		ours := bench.AppendConfig{Path: bench.Ours, Clients: clients, Batch: 1, Categories: cats, Duration: d}
		raw := bench.AppendConfig{Path: bench.RawInsert, Clients: clients, Batch: 1, Categories: cats, Duration: d}
		var with, without, rawRes []bench.Result
		for i := 0; i < repeat; i++ {
			for k := 0; k < 3; k++ {
				side := (i + k) % 3 // rotate which goes first
				if err := env.Truncate(ctx); err != nil {
					return nil, err
				}
				switch side {
				case 0:
					r, err := bench.RunAppend(ctx, env, ours)
					if err != nil {
						return nil, err
					}
					with = append(with, r)
				case 1:
					restore, err := bench.DropFilterIndexes(ctx, env)
					if err != nil {
						return nil, err
					}
					r, err := bench.RunAppend(ctx, env, ours)
					if rerr := restore(ctx); err == nil {
						err = rerr
					}
					if err != nil {
						return nil, err
					}
					without = append(without, r)
				case 2:
					r, err := bench.RunAppend(ctx, env, raw)
					if err != nil {
						return nil, err
					}
					rawRes = append(rawRes, r)
				}
			}
		}
		w, wo, rw := bench.Median(with).EventsPerSec(), bench.Median(without).EventsPerSec(), bench.Median(rawRes).EventsPerSec()
		for _, r := range []benchRow{
			{Workload: fmt.Sprintf("1 event/call, %d writers, %s, with the filter indexes", clients, what), Ours: w, Raw: rw, RawName: "raw INSERT", Target: "(for comparison)"},
			{Workload: fmt.Sprintf("1 event/call, %d writers, %s, without them", clients, what), Ours: wo, Raw: rw, RawName: "raw INSERT", Target: "(for comparison)"},
			{Workload: fmt.Sprintf("filter indexes' cost to appends, %s", what), Ours: w, Raw: wo, RawName: "eventscope.append without them", Target: ">= 0.90"},
		} {
			r.Unit, r.Runs, r.Ratio = "events/s", repeat, r.Ours/r.Raw
			progress("%-55s ours %10.1f  raw %10.1f  %s  ratio %.2f", r.Workload, r.Ours, r.Raw, r.Unit, r.Ratio)
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// benchFilteredRead measures reading a 3-event category from the start of
// the log Fill loaded: through the indexed read, through the pre-007 walk,
// against the raw limit of reading as many rows (one stream by primary key).
func benchFilteredRead(ctx context.Context, env *bench.Env, repeat, events int, progress func(string, ...any)) ([]benchRow, error) {
	if err := bench.FillSmallCategory(ctx, env, 3); err != nil {
		return nil, err
	}
	var ours, walk, raw []bench.Result
	for i := 0; i < repeat; i++ {
		o, err := bench.ReadCategoryOurs(ctx, env, 50)
		if err != nil {
			return nil, err
		}
		w, err := bench.ReadCategoryWalk(ctx, env, 3)
		if err != nil {
			return nil, err
		}
		r, err := bench.ReadSmallStreamRaw(ctx, env, 50)
		if err != nil {
			return nil, err
		}
		if o.Events != 3*50 || w.Events != 3*3 || r.Events != 3*50 {
			return nil, fmt.Errorf("bench: the category read %d, the walk %d, the raw stream read %d events", o.Events/50, w.Events/3, r.Events/50)
		}
		ours, walk, raw = append(ours, o), append(walk, w), append(raw, r)
	}
	rawMs := ms(bench.MedianLatency(raw).Quantile(0.5))
	rows := []benchRow{
		{Workload: fmt.Sprintf("read a 3-event category from the start (%d events)", events), Ours: ms(bench.MedianLatency(ours).Quantile(0.5)), Target: "<= 3.00"},
		{Workload: "the same, pre-007 read (walks the log)", Ours: ms(bench.MedianLatency(walk).Quantile(0.5)), Target: "(before)"},
	}
	for i := range rows {
		rows[i].Unit, rows[i].Raw, rows[i].RawName, rows[i].Runs = "ms p50", rawMs, "raw read of one 3-event stream", repeat
		rows[i].Ratio = rows[i].Ours / rows[i].Raw
		progress("%-55s ours %10.2f  raw %10.2f  %s  ratio %.2f", rows[i].Workload, rows[i].Ours, rows[i].Raw, rows[i].Unit, rows[i].Ratio)
	}
	return rows, nil
}
