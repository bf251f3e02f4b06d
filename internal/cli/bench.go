package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
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
		only     string
	)
	cmd := &cobra.Command{
		Use:   "bench (append|read|filter|all)",
		Short: "Benchmark the store against the raw limit of the same server",
		Long: `Runs each workload through eventscope and through a plain INSERT/COPY (or an
indexed scan) of the same rows into an equivalent table, on the same server in
the same run, in a scratch database that is dropped afterwards. Runs alternate
and repeat; the table shows medians and the ratio ours/raw.

Every event is a realistic order: 325 bytes of data, 126 of metadata. The Go
rows go through the store's client (group commit on, as by default, unless the
row says otherwise); the plain-SQL rows are driven by pgbench (-M prepared),
as a client in any language calls the SQL API, and are skipped, with a note,
when pgbench is not on PATH.

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
			var onlyRe *regexp.Regexp
			if only != "" {
				re, err := regexp.Compile(only)
				if err != nil {
					return Usagef("bench: --only: %v", err)
				}
				onlyRe = re
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
				note := func(format string, a ...any) { fmt.Fprintf(g.errw, format+"\n", a...) }
				r, err := benchAppend(ctx, env, duration, repeat, clients, onlyRe, progress, note)
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
	f.StringVar(&only, "only", "", "run only the append rows whose workload name matches this regular expression")
	return cmd
}

// benchSide is one side of a row: a Go workload or a pgbench script.
type benchSide struct {
	name string
	run  func(ctx context.Context, env *bench.Env) (bench.Result, error)
}

func goSide(c bench.AppendConfig) benchSide {
	return benchSide{name: c.Path.String(), run: func(ctx context.Context, env *bench.Env) (bench.Result, error) {
		return bench.RunAppend(ctx, env, c)
	}}
}

func pgbenchSide(name string, c bench.PgbenchConfig) benchSide {
	return benchSide{name: name, run: func(ctx context.Context, env *bench.Env) (bench.Result, error) {
		return bench.RunPgbench(ctx, env, c)
	}}
}

func benchAppend(ctx context.Context, env *bench.Env, d time.Duration, repeat, clients int, only *regexp.Regexp, progress func(string, ...any), note func(string, ...any)) ([]benchRow, error) {
	type pair struct {
		name, target string
		ours, raw    benchSide
		latency      bool
		pgbench      bool
	}
	c1 := func(p bench.Path) bench.AppendConfig {
		return bench.AppendConfig{Path: p, Clients: clients, Batch: 1, Duration: d}
	}
	pg := func(script string, events int, options string) bench.PgbenchConfig {
		return bench.PgbenchConfig{Script: script, Clients: clients, Duration: d, Events: events, Options: options}
	}
	rawGo := goSide(c1(bench.RawInsert))
	rawPg := pgbenchSide("pgbench raw INSERT", pg(bench.PgbenchRawInsert, 1, ""))
	multi := bench.AppendConfig{Path: bench.OursMulti, Clients: clients, Batch: 1, Streams: 4, Duration: d}
	multiRaw := bench.AppendConfig{Path: bench.RawInsert, Clients: clients, Batch: 1, Streams: 4, Duration: d}
	cats := c1(bench.Ours)
	cats.Categories = 4
	catsRaw := c1(bench.RawInsert)
	catsRaw.Categories = 4
	lat := func(p bench.Path) bench.AppendConfig {
		return bench.AppendConfig{Path: p, Clients: 1, Batch: 1, Duration: d, Latencies: true}
	}
	b100 := func(p bench.Path) bench.AppendConfig {
		return bench.AppendConfig{Path: p, Clients: clients, Batch: 100, Duration: d}
	}
	pairs := []pair{
		{name: fmt.Sprintf("1 event/call, %d writers, own streams", clients), target: ">= 3.00",
			ours: goSide(c1(bench.Ours)), raw: rawGo},
		{name: fmt.Sprintf("1 event/call, %d writers, own streams, vs pgbench", clients), target: ">= 1.50", pgbench: true,
			ours: goSide(c1(bench.Ours)), raw: rawPg},
		{name: fmt.Sprintf("1 event/call, %d writers, no group commit", clients), target: "(for comparison)",
			ours: goSide(c1(bench.OursNoGroup)), raw: rawGo},
		{name: fmt.Sprintf("1 event/call, %d writers, 4 categories", clients), target: ">= 3.00",
			ours: goSide(cats), raw: goSide(catsRaw)},
		{name: fmt.Sprintf("plain SQL (pgbench), %d clients, append", clients), target: ">= 0.70", pgbench: true,
			ours: pgbenchSide("pgbench eventscope.append", pg(bench.PgbenchAppend, 1, "")), raw: rawPg},
		{name: fmt.Sprintf("plain SQL (pgbench), %d clients, append, notify=off", clients), target: "(for comparison)", pgbench: true,
			ours: pgbenchSide("pgbench eventscope.append", pg(bench.PgbenchAppend, 1, "-c eventscope.notify=off")), raw: rawPg},
		{name: fmt.Sprintf("plain SQL (pgbench), %d clients, append_multi 4x1", clients), target: "(for comparison)", pgbench: true,
			ours: pgbenchSide("pgbench eventscope.append_multi", pg(bench.PgbenchAppendMulti, 4, "")),
			raw:  pgbenchSide("pgbench 4-row INSERT", pg(bench.PgbenchRawInsertMulti, 4, ""))},
		{name: fmt.Sprintf("append_multi 4 streams x 1 event, %d writers", clients), target: "(for comparison)",
			ours: goSide(multi), raw: goSide(multiRaw)},
		{name: fmt.Sprintf("1 event/call, %d writers, NOTIFY in each tx", clients), target: "(for comparison)",
			ours: goSide(c1(bench.OursNotifyInTx)), raw: rawGo},
		{name: "1 writer, p50 latency (ms)", target: "<= 1.20", latency: true,
			ours: goSide(lat(bench.Ours)), raw: goSide(lat(bench.RawInsert))},
		{name: fmt.Sprintf("100 events/call, %d writers, vs multi-row INSERT", clients), target: ">= 0.50",
			ours: goSide(b100(bench.Ours)), raw: goSide(b100(bench.RawInsert))},
		{name: fmt.Sprintf("100 events/call, %d writers, vs COPY", clients), target: "(for comparison)",
			ours: goSide(b100(bench.Ours)), raw: goSide(b100(bench.RawCopy))},
	}
	_, pgErr := bench.PgbenchPath()
	if pgErr != nil {
		note("bench: %v", pgErr)
	}
	var rows []benchRow
	for _, p := range pairs {
		if p.pgbench && pgErr != nil {
			continue
		}
		if only != nil && !only.MatchString(p.name) {
			continue
		}
		var ours, raw []bench.Result
		for i := 0; i < repeat; i++ {
			for _, first := range []bool{i%2 == 0, i%2 != 0} { // alternate which goes first
				if err := env.Truncate(ctx); err != nil {
					return nil, err
				}
				s := p.raw
				if first {
					s = p.ours
				}
				r, err := s.run(ctx, env)
				if err != nil {
					return nil, err
				}
				if first {
					ours = append(ours, r)
				} else {
					raw = append(raw, r)
				}
			}
		}
		row := benchRow{Workload: p.name, RawName: p.raw.name, Target: p.target, Runs: repeat}
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
