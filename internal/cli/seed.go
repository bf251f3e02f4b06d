package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"eventscope/internal/bench"
	"eventscope/seed"
	"eventscope/store"
)

func init() { commandFactories = append(commandFactories, newSeedCmd) }

func newSeedCmd(g *globals) *cobra.Command {
	var (
		customers, orders int
		seedN             uint64
		asJSON, liveMode  bool
		rate              float64
		duration          time.Duration
		bench             int64
	)
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Load a deterministic demo history (Orders, Customers, the credit saga), or run live traffic",
		Long: `seed generates a realistic shop history and bulk-loads it through COPY:
customers with skewed order counts, about 10% of orders over the credit
limit, cancellations and shipments, correlation and causation ids in the
metadata, a few key-account streams of 10,000+ events, recorded over the
past four weeks. The same flags give the same streams, types, versions, data
and event ids. The database must not hold seeded data already.

With --live it runs steady traffic through the domain's commands instead
(placing, shipping and cancelling orders, now and then registering a
customer) at --rate commands/s; run "eventscope worker" beside it for the saga.

With --bench N it measures: it seeds about N events into a scratch database
on the same server and COPYs the same rows into plain tables, then prints
the throughput ratio (and drops the scratch database).`,
		Example: `  eventscope seed
  eventscope seed --customers 5000 --orders 200000 --seed 7 --json
  eventscope seed --live --rate 50 --duration 1m
  eventscope seed --bench 1000000`,
		Args: wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			f := cmd.Flags()
			switch {
			case customers < 0:
				return Usagef("--customers must be >= 0, got %d", customers)
			case orders < 0:
				return Usagef("--orders must be >= 0, got %d", orders)
			case bench < 0:
				return Usagef("--bench must be > 0 events, got %d", bench)
			case liveMode && rate <= 0:
				return Usagef("--rate must be > 0 commands/s, got %g", rate)
			case !liveMode && (f.Changed("rate") || f.Changed("duration")):
				return Usagef("--rate and --duration go with --live")
			case duration < 0:
				return Usagef("--duration must be >= 0, got %v", duration)
			case liveMode && bench > 0:
				return Usagef("--live and --bench are exclusive")
			case orders > 0 && customers == 0 && f.Changed("customers"):
				return Usagef("--orders %d needs customers, but --customers is 0", orders)
			}
			if bench > 0 {
				return runSeedBench(ctx, g, bench, asJSON)
			}
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			if liveMode {
				return runLive(ctx, g, st, seed.LiveOptions{Rate: rate, Duration: duration, Seed: seedN}, asJSON)
			}
			c := seed.Config{Customers: customers, Orders: orders, Seed: seedN}
			if c.Customers == 0 && !f.Changed("customers") {
				c.Customers = seed.DefaultCustomers
			}
			if c.Orders == 0 && !f.Changed("orders") {
				c.Orders = seed.DefaultOrders
			}
			if c.Customers == 0 && c.Orders == 0 {
				return Usagef("nothing to seed: --customers and --orders are both 0")
			}
			prog := newProgress(g.errw, "seeding")
			res, err := seed.Seed(ctx, st, c, seed.Options{Progress: prog.update})
			prog.done()
			if errors.Is(err, seed.ErrSeeded) {
				return &UsageError{Msg: err.Error()}
			}
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(g.out).Encode(res)
			}
			fmt.Fprintf(g.out, "seeded %d events in %v (%.0f events/s): %d customers, %d orders (%d approved and open, %d shipped, %d cancelled, %d rejected), %d snapshots\n",
				res.Events, res.Duration.Round(time.Millisecond), float64(res.Events)/res.Duration.Seconds(),
				res.Customers, res.Orders, res.Approved, res.Shipped, res.Cancelled, res.Rejected, res.Snapshots)
			if len(res.LongStreams) > 0 {
				fmt.Fprintf(g.out, "long streams for time-travel: %s\n", strings.Join(res.LongStreams, ", "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&customers, "customers", seed.DefaultCustomers, "customers to register")
	f.IntVar(&orders, "orders", seed.DefaultOrders, "orders to place (about 4.25 events each)")
	f.Uint64Var(&seedN, "seed", 1, "random seed: the same flags give the same history")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.BoolVar(&liveMode, "live", false, "run live traffic through the domain's commands instead of loading history")
	f.Float64Var(&rate, "rate", 20, "with --live: commands per second")
	f.DurationVar(&duration, "duration", 0, "with --live: stop after this long (default: until interrupted)")
	f.Int64Var(&bench, "bench", 0, "measure seeding about N events against a raw COPY (in a scratch database)")
	return cmd
}

func runLive(ctx context.Context, g *globals, st *store.Store, o seed.LiveOptions, asJSON bool) error {
	if !asJSON {
		o.Report = func(s seed.LiveStats) {
			fmt.Fprintf(g.out, "%6.0fs  placed %d  shipped %d  cancelled %d  registered %d  errors %d\n",
				s.Elapsed.Seconds(), s.Placed, s.Shipped, s.Cancelled, s.Registered, s.Errors)
		}
	}
	res, err := seed.RunLive(ctx, st, o)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(g.out).Encode(res)
	}
	fmt.Fprintf(g.out, "live traffic for %v: placed %d, shipped %d, cancelled %d, registered %d, skipped %d, errors %d\n",
		res.Elapsed.Round(time.Second), res.Placed, res.Shipped, res.Cancelled, res.Registered, res.Skipped, res.Errors)
	if res.LastError != "" {
		fmt.Fprintf(g.out, "last error: %s\n", res.LastError)
	}
	return nil
}

func runSeedBench(ctx context.Context, g *globals, n int64, asJSON bool) error {
	url, err := g.resolveURL(ctx)
	if err != nil {
		return err
	}
	env, err := bench.Setup(ctx, url)
	if err != nil {
		return err
	}
	defer env.Close()
	logf := func(f string, a ...any) { fmt.Fprintf(g.errw, "bench: "+f+"\n", a...) }
	res, err := bench.Seed(ctx, env, n, logf)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(g.out).Encode(struct {
			bench.SeedResult
			Ratio     float64 `json:"ratio"`
			RatioHeap float64 `json:"ratio_heap"`
		}{res, res.Ratio(), res.RatioHeap()})
	}
	rate := func(d time.Duration) float64 { return float64(res.Events) / d.Seconds() }
	fmt.Fprintf(g.out, "seeding %d events, same server, same run:\n", res.Events)
	fmt.Fprintf(g.out, "  seed (generate + COPY + streams + snapshots)  %8.2fs  %9.0f events/s\n", res.Seed.Seconds(), rate(res.Seed))
	fmt.Fprintf(g.out, "  raw COPY, plain table with the same indexes   %8.2fs  %9.0f events/s   seed/raw = %.2f×\n", res.RawIndexed.Seconds(), rate(res.RawIndexed), res.Ratio())
	fmt.Fprintf(g.out, "  raw COPY, plain table without indexes         %8.2fs  %9.0f events/s   seed/raw = %.2f×\n", res.RawHeap.Seconds(), rate(res.RawHeap), res.RatioHeap())
	fmt.Fprintf(g.out, "  (generating alone: %.2fs)\n", res.Generate.Seconds())
	return nil
}

// progress shows a bar on a terminal, plain lines otherwise.
type progress struct {
	w     io.Writer
	what  string
	term  bool
	start time.Time
	last  time.Time
	shown bool

	lastDone int64
}

func newProgress(w io.Writer, what string) *progress {
	return &progress{w: w, what: what, term: isTerminalWriter(w), start: time.Now()}
}

func (p *progress) update(done, total int64) {
	if total <= 0 {
		return
	}
	frac := min(float64(done)/float64(total), 1)
	el := time.Since(p.start).Round(100 * time.Millisecond)
	if p.term {
		const width = 30
		n := int(frac * width)
		fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%%  %d events  %v ", p.what, strings.Repeat("█", n), strings.Repeat("░", width-n), frac*100, done, el)
		p.shown = true
		return
	}
	if (time.Since(p.last) < time.Second && done < total) || done == p.lastDone {
		return
	}
	p.last, p.lastDone = time.Now(), done
	fmt.Fprintf(p.w, "%s: %d of ~%d events (%.0f%%), %v\n", p.what, done, total, frac*100, el)
}

func (p *progress) done() {
	if p.term && p.shown {
		fmt.Fprintln(p.w)
	}
}
