package store_test

import (
	"context"
	"testing"

	"eventscope/internal/bench"
	"eventscope/internal/testdb"
)

// Benchmarks run our path and the raw limit (a plain INSERT/COPY of the same
// rows into an equivalent table, or a plain indexed scan) on the same server
// in the same run, and report both rates and their ratio:
//
//	go test -run '^$' -bench . -benchtime 20000x ./store/
//
// `eventscope bench all` prints the same comparisons as a table.

func benchEnv(b *testing.B) *bench.Env {
	b.Helper()
	env, err := bench.Setup(context.Background(), testdb.AdminURL(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(env.Close)
	return env
}

func BenchmarkAppend(b *testing.B) {
	env := benchEnv(b)
	ctx := context.Background()
	cases := []struct {
		name      string
		ours, raw bench.AppendConfig
	}{
		{"1event-16writers", bench.AppendConfig{Path: bench.Ours, Clients: 16, Batch: 1}, bench.AppendConfig{Path: bench.RawInsert, Clients: 16, Batch: 1}},
		{"1event-16writers-4categories", bench.AppendConfig{Path: bench.Ours, Clients: 16, Batch: 1, Categories: 4}, bench.AppendConfig{Path: bench.RawInsert, Clients: 16, Batch: 1, Categories: 4}},
		{"1event-16writers-notify-in-tx", bench.AppendConfig{Path: bench.OursNotifyInTx, Clients: 16, Batch: 1}, bench.AppendConfig{Path: bench.RawInsert, Clients: 16, Batch: 1}},
		{"1event-1writer", bench.AppendConfig{Path: bench.Ours, Clients: 1, Batch: 1, Latencies: true}, bench.AppendConfig{Path: bench.RawInsert, Clients: 1, Batch: 1, Latencies: true}},
		{"100events-16writers-vs-insert", bench.AppendConfig{Path: bench.Ours, Clients: 16, Batch: 100}, bench.AppendConfig{Path: bench.RawInsert, Clients: 16, Batch: 100}},
		{"100events-16writers-vs-copy", bench.AppendConfig{Path: bench.Ours, Clients: 16, Batch: 100}, bench.AppendConfig{Path: bench.RawCopy, Clients: 16, Batch: 100}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			c.ours.Calls, c.raw.Calls = b.N, b.N
			if err := env.Truncate(ctx); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			ours, err := bench.RunAppend(ctx, env, c.ours)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := env.Truncate(ctx); err != nil {
				b.Fatal(err)
			}
			raw, err := bench.RunAppend(ctx, env, c.raw)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(ours.EventsPerSec(), "events/s")
			b.ReportMetric(raw.EventsPerSec(), "raw-events/s")
			b.ReportMetric(ours.EventsPerSec()/raw.EventsPerSec(), "ratio")
			if c.ours.Latencies {
				b.ReportMetric(float64(ours.Quantile(0.5).Microseconds()), "p50-µs")
				b.ReportMetric(float64(raw.Quantile(0.5).Microseconds()), "raw-p50-µs")
			}
		})
	}
}

func BenchmarkRead(b *testing.B) {
	env := benchEnv(b)
	ctx := context.Background()
	const events, streamLen = 100000, 1000
	if err := bench.Fill(ctx, env, events, streamLen); err != nil {
		b.Fatal(err)
	}
	b.Run("readall-batches-of-1000", func(b *testing.B) {
		var ours, raw bench.Result
		for i := 0; i < b.N; i++ {
			o, err := bench.ReadAllOurs(ctx, env, 1000)
			if err != nil {
				b.Fatal(err)
			}
			r, err := bench.ReadAllRaw(ctx, env, 1000)
			if err != nil {
				b.Fatal(err)
			}
			ours.Events, ours.Elapsed = ours.Events+o.Events, ours.Elapsed+o.Elapsed
			raw.Events, raw.Elapsed = raw.Events+r.Events, raw.Elapsed+r.Elapsed
		}
		b.ReportMetric(ours.EventsPerSec(), "events/s")
		b.ReportMetric(raw.EventsPerSec(), "raw-events/s")
		b.ReportMetric(ours.EventsPerSec()/raw.EventsPerSec(), "ratio")
	})
	b.Run("readstream-1000-events", func(b *testing.B) {
		o, err := bench.ReadStreams(ctx, env, false, events/streamLen, streamLen, b.N)
		if err != nil {
			b.Fatal(err)
		}
		r, err := bench.ReadStreams(ctx, env, true, events/streamLen, streamLen, b.N)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(o.EventsPerSec(), "events/s")
		b.ReportMetric(r.EventsPerSec(), "raw-events/s")
		b.ReportMetric(o.EventsPerSec()/r.EventsPerSec(), "ratio")
	})
}
