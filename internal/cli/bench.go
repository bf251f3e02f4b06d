package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"eventscope/internal/bench"
)

func init() { commandFactories = append(commandFactories, newBenchCmd) }

// benchRow is one line of the table: our figure beside the raw limit's.
type benchRow struct {
	Workload string  `json:"workload"`
	Unit     string  `json:"unit"`
	Ours     float64 `json:"ours"`
	Raw      float64 `json:"raw"`
	RawName  string  `json:"raw_name"`
	Ratio    float64 `json:"ratio"`
	Target   string  `json:"target"`
	Runs     int     `json:"runs"`
}

func newBenchCmd(g *globals) *cobra.Command {
	var (
		duration time.Duration
		repeat   int
		clients  int
		events   int
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "bench (append|read|filter|all)",
		Short: "Benchmark the store against the raw limit of the same server",
		Long: `Runs each workload through eventscope and through a plain INSERT/COPY (or an
indexed scan) of the same rows into an equivalent table, on the same server in
the same run, in a scratch database that is dropped afterwards. Runs alternate
and repeat; the table shows medians and the ratio ours/raw.

filter measures the filtered reads' indexes: what they cost appends (with
and without them, same run) and reading a 3-event category from the start
of --events events, indexed and as the store read before them.`,
		Args:      wrapArgs(cobra.ExactArgs(1)),
		ValidArgs: []string{"append", "read", "filter", "all"},
		RunE: func(cmd *cobra.Command, args []string) error {
			what := args[0]
			if what != "append" && what != "read" && what != "filter" && what != "all" {
				return Usagef("bench: unknown workload %q (append, read, filter or all)", what)
			}
			if repeat < 1 || clients < 1 || duration <= 0 || events < 1000 {
				return Usagef("bench: --repeat and --clients must be >= 1, --duration > 0, --events >= 1000")
			}
			ctx := cmd.Context()
			url, err := g.resolveURL(ctx)
			if err != nil {
				return err
			}
			env, err := bench.Setup(ctx, url)
			if err != nil {
				return err
			}
			defer env.Close()
			progress := func(format string, a ...any) {
				if !asJSON {
					fmt.Fprintf(g.errw, format+"\n", a...)
				}
			}
			var rows []benchRow
			if what == "append" || what == "all" {
				r, err := benchAppend(ctx, env, duration, repeat, clients, progress)
				if err != nil {
					return err
				}
				rows = append(rows, r...)
			}
			if what == "filter" || what == "all" {
				r, err := benchIndexCost(ctx, env, duration, repeat, clients, progress)
				if err != nil {
					return err
				}
				rows = append(rows, r...)
			}
			if what == "read" || what == "filter" || what == "all" {
				r, err := benchRead(ctx, env, repeat, events, what != "filter", progress)
				if err != nil {
					return err
				}
				rows = append(rows, r...)
			}
			return printBench(g.out, rows, asJSON)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&duration, "duration", 3*time.Second, "length of each append run")
	f.IntVar(&repeat, "repeat", 3, "runs of each workload (the median is reported)")
	f.IntVar(&clients, "clients", 16, "concurrent writers")
	f.IntVar(&events, "events", 200000, "events loaded for the read workloads")
	f.BoolVar(&asJSON, "json", false, "print the rows as JSON")
	return cmd
}

func benchAppend(ctx context.Context, env *bench.Env, d time.Duration, repeat, clients int, progress func(string, ...any)) ([]benchRow, error) {
	type pair struct {
		name, target string
		ours, raw    bench.AppendConfig
		latency      bool
	}
	pairs := []pair{
		{name: fmt.Sprintf("1 event/call, %d writers, own streams", clients), target: ">= 0.70",
			ours: bench.AppendConfig{Path: bench.Ours, Clients: clients, Batch: 1},
			raw:  bench.AppendConfig{Path: bench.RawInsert, Clients: clients, Batch: 1}},
		{name: fmt.Sprintf("1 event/call, %d writers, 4 categories", clients), target: ">= 0.70",
			ours: bench.AppendConfig{Path: bench.Ours, Clients: clients, Batch: 1, Categories: 4},
			raw:  bench.AppendConfig{Path: bench.RawInsert, Clients: clients, Batch: 1, Categories: 4}},
		{name: fmt.Sprintf("1 event/call, %d writers, NOTIFY in each tx", clients), target: "(for comparison)",
			ours: bench.AppendConfig{Path: bench.OursNotifyInTx, Clients: clients, Batch: 1},
			raw:  bench.AppendConfig{Path: bench.RawInsert, Clients: clients, Batch: 1}},
		{name: "1 writer, p50 latency (ms)", target: "<= 1.30", latency: true,
			ours: bench.AppendConfig{Path: bench.Ours, Clients: 1, Batch: 1, Latencies: true},
			raw:  bench.AppendConfig{Path: bench.RawInsert, Clients: 1, Batch: 1, Latencies: true}},
		{name: fmt.Sprintf("100 events/call, %d writers, vs multi-row INSERT", clients), target: ">= 0.50",
			ours: bench.AppendConfig{Path: bench.Ours, Clients: clients, Batch: 100},
			raw:  bench.AppendConfig{Path: bench.RawInsert, Clients: clients, Batch: 100}},
		{name: fmt.Sprintf("100 events/call, %d writers, vs COPY", clients), target: "(for comparison)",
			ours: bench.AppendConfig{Path: bench.Ours, Clients: clients, Batch: 100},
			raw:  bench.AppendConfig{Path: bench.RawCopy, Clients: clients, Batch: 100}},
	}
	var rows []benchRow
	for _, p := range pairs {
		var ours, raw []bench.Result
		p.ours.Duration, p.raw.Duration = d, d
		for i := 0; i < repeat; i++ {
			for _, side := range []bool{i%2 == 0, i%2 != 0} { // alternate which goes first
				if err := env.Truncate(ctx); err != nil {
					return nil, err
				}
				c := p.raw
				if side {
					c = p.ours
				}
				r, err := bench.RunAppend(ctx, env, c)
				if err != nil {
					return nil, err
				}
				if side {
					ours = append(ours, r)
				} else {
					raw = append(raw, r)
				}
			}
		}
		row := benchRow{Workload: p.name, RawName: p.raw.Path.String(), Target: p.target, Runs: repeat}
		if p.latency {
			o, r := bench.MedianLatency(ours), bench.MedianLatency(raw)
			row.Unit = "ms p50"
			row.Ours, row.Raw = ms(o.Quantile(0.5)), ms(r.Quantile(0.5))
		} else {
			o, r := bench.Median(ours), bench.Median(raw)
			row.Unit = "events/s"
			row.Ours, row.Raw = o.EventsPerSec(), r.EventsPerSec()
		}
		row.Ratio = row.Ours / row.Raw
		progress("%-55s ours %10.1f  raw %10.1f  %s  ratio %.2f", row.Workload, row.Ours, row.Raw, row.Unit, row.Ratio)
		rows = append(rows, row)
	}
	return rows, nil
}

func benchRead(ctx context.Context, env *bench.Env, repeat, events int, full bool, progress func(string, ...any)) ([]benchRow, error) {
	if err := env.Truncate(ctx); err != nil {
		return nil, err
	}
	const streamLen = 1000
	progress("loading %d events (streams of %d) into both tables...", events, streamLen)
	if err := bench.Fill(ctx, env, events, streamLen); err != nil {
		return nil, err
	}
	filtered, err := benchFilteredRead(ctx, env, repeat, events, progress)
	if err != nil || !full {
		return filtered, err
	}
	var oursAll, rawAll, oursStream, rawStream []bench.Result
	streams := events / streamLen
	for i := 0; i < repeat; i++ {
		o, err := bench.ReadAllOurs(ctx, env, 1000)
		if err != nil {
			return nil, err
		}
		r, err := bench.ReadAllRaw(ctx, env, 1000)
		if err != nil {
			return nil, err
		}
		if o.Events != r.Events {
			return nil, fmt.Errorf("bench: ReadAll read %d events, the raw scan %d", o.Events, r.Events)
		}
		oursAll, rawAll = append(oursAll, o), append(rawAll, r)
		o, err = bench.ReadStreams(ctx, env, false, streams, streamLen, 200)
		if err != nil {
			return nil, err
		}
		r, err = bench.ReadStreams(ctx, env, true, streams, streamLen, 200)
		if err != nil {
			return nil, err
		}
		oursStream, rawStream = append(oursStream, o), append(rawStream, r)
	}
	rows := []benchRow{
		{Workload: fmt.Sprintf("ReadAll catch-up, batches of 1,000 (%d events)", events), Unit: "events/s",
			Ours: bench.Median(oursAll).EventsPerSec(), Raw: bench.Median(rawAll).EventsPerSec(), RawName: "raw range scan", Target: ">= 0.50", Runs: repeat},
		{Workload: "read a 1,000-event stream", Unit: "events/s",
			Ours: bench.Median(oursStream).EventsPerSec(), Raw: bench.Median(rawStream).EventsPerSec(), RawName: "raw indexed scan", Target: ">= 0.50", Runs: repeat},
	}
	for i := range rows {
		rows[i].Ratio = rows[i].Ours / rows[i].Raw
		progress("%-55s ours %10.1f  raw %10.1f  %s  ratio %.2f", rows[i].Workload, rows[i].Ours, rows[i].Raw, rows[i].Unit, rows[i].Ratio)
	}
	return append(filtered, rows...), nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func printBench(w io.Writer, rows []benchRow, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(rows)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tours\traw limit\tunit\tratio\ttarget\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f (%s)\t%s\t%.2f×\t%s\t\n", r.Workload, r.Ours, r.Raw, r.RawName, r.Unit, r.Ratio, r.Target)
	}
	return tw.Flush()
}
