package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"eventscope/domain"
	"eventscope/domain/worker"
	"eventscope/internal/pgserver"
	"eventscope/seed"
	"eventscope/store"
	"eventscope/subscriptions"
	"eventscope/tui"
)

func init() { commandFactories = append(commandFactories, newDemoCmd) }

type demoFlags struct {
	customers, orders int
	seed              uint64
	rate              float64
	noTUI             bool
	duration          time.Duration
	every             time.Duration
}

func newDemoCmd(g *globals) *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "The one-command tour: embedded database, seeded shop, live traffic, the saga and the console",
		Long: `demo brings up a live, populated system with no set-up:

  1. the database: --db, else DATABASE_URL, else the embedded private
     PostgreSQL (created and started on first use), migrated;
  2. if it holds no streams, a seeded history (about 190,000 events by
     default, with two key-account streams of 10,000+ events), loaded in the
     background while the console already runs;
  3. then, in this process, the worker (credit saga, order-summary read
     model, unreliable notifications) and live traffic (--rate commands/s);
  4. the console. Without a terminal, or with --no-tui, a live plain-text
     summary instead.

Ctrl-C (or q in the console) stops everything cleanly: the traffic, the
worker, and the embedded PostgreSQL if this demo started it (one that was
already running, or that other sessions use, keeps running). Run it again
to continue where it left off: the history is only seeded into an empty
database.`,
		Example: `  eventscope demo
  eventscope demo --db postgres://localhost/shop --rate 100
  eventscope demo --no-tui --duration 30s`,
		Args: wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case f.customers < 0:
				return Usagef("--customers must be >= 0, got %d", f.customers)
			case f.orders < 0:
				return Usagef("--orders must be >= 0, got %d", f.orders)
			case f.rate < 0:
				return Usagef("--rate must be >= 0 commands/s, got %g", f.rate)
			case f.duration < 0:
				return Usagef("--duration must be >= 0, got %v", f.duration)
			case f.every <= 0:
				return Usagef("--every must be > 0, got %v", f.every)
			}
			return runDemo(cmd.Context(), g, f)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.customers, "customers", seed.DefaultCustomers, "customers to seed into an empty database")
	fl.IntVar(&f.orders, "orders", seed.DefaultOrders, "orders to seed into an empty database")
	fl.Uint64Var(&f.seed, "seed", 1, "random seed of the seeded history")
	fl.Float64Var(&f.rate, "rate", 20, "live traffic, commands per second (0: none)")
	fl.BoolVar(&f.noTUI, "no-tui", false, "print a live plain-text summary instead of opening the console")
	fl.DurationVar(&f.duration, "duration", 0, "stop after this long (default: until Ctrl-C)")
	fl.DurationVar(&f.every, "every", 2*time.Second, "with the summary: time between lines")
	return cmd
}

// demoState is what the background system reports to the summary.
type demoState struct {
	mu        sync.Mutex
	phase     string
	seeded    int64
	seedTotal int64
	seedTook  time.Duration
	err       error
	live      atomic.Pointer[seed.LiveStats]
}

func (s *demoState) set(f func(*demoState)) { s.mu.Lock(); f(s); s.mu.Unlock() }

func runDemo(ctx context.Context, g *globals, f demoFlags) error {
	useTUI := !f.noTUI && isTerminalWriter(g.out)
	// The embedded server, when that is the database: stopped at the end
	// if this demo started it (q "stops everything"), left alone if it was
	// running already.
	var startedEmbedded bool
	if g.otherDatabase() == "" {
		before, err := pgserver.Status(ctx, g.embeddedOptions())
		if err != nil {
			return err
		}
		startedEmbedded = !before.Running
	}
	st, err := g.openStore(ctx)
	if err != nil {
		if startedEmbedded {
			g.stopEmbeddedIfIdle(context.WithoutCancel(ctx))
		}
		return err
	}
	defer func() {
		st.Close()
		if startedEmbedded {
			g.stopEmbeddedIfIdle(context.WithoutCancel(ctx))
		}
	}()
	// --duration counts from here: starting (or initialising) the embedded
	// server first is not part of the run.
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}
	seeded, err := st.HasStreams(ctx)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	empty := !seeded
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	state := &demoState{phase: "starting"}
	var bg sync.WaitGroup
	bg.Go(func() { runDemoSystem(ctx, st, f, empty, state, !useTUI, g.errw) })

	var runErr error
	if useTUI {
		runErr = tui.Run(ctx, tui.Config{
			Store:       st,
			Admin:       subscriptions.NewAdmin(st),
			Monitor:     subscriptions.NewMonitor(st, 0),
			TimeTravel:  domain.NewTimeTravel(st, domain.DefaultRegistry(), domain.TimeTravelOptions{}),
			Forget:      domain.NewTimeTravel(st, domain.DefaultRegistry(), domain.TimeTravelOptions{}),
			DatabaseURL: st.Pool().Config().ConnString(),
		})
	} else {
		fmt.Fprintf(g.out, "eventscope demo on %s (Ctrl-C to stop)\n", redactURL(st.Pool().Config().ConnString()))
		runErr = demoSummary(ctx, g.out, st, state, f.every)
	}
	stop()
	bg.Wait()
	state.mu.Lock()
	bgErr := state.err
	state.mu.Unlock()
	if runErr != nil && !errors.Is(runErr, context.Canceled) && !errors.Is(runErr, context.DeadlineExceeded) {
		return runErr
	}
	if bgErr != nil {
		return bgErr
	}
	if !useTUI {
		fmt.Fprintln(g.out, "demo stopped")
	}
	return nil
}

// stopEmbeddedIfIdle stops the embedded server unless other sessions (an
// eventscope tui started meanwhile, a psql) are connected to it: the demo
// stops what it started, not what others came to use.
func (g *globals) stopEmbeddedIfIdle(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	o := g.embeddedOptions()
	s, err := pgserver.Status(ctx, o)
	if err != nil || !s.Running {
		return
	}
	// The demo's own connections were closed just now, but a server process
	// leaves pg_stat_activity only when it has exited, which on a busy
	// machine takes a moment: count again for up to 3 s before taking a
	// session for someone else's.
	var others int
	for deadline := time.Now().Add(3 * time.Second); ; {
		others, _ = pgserver.OtherSessions(ctx, pgserver.WithDatabase(s.URL, "postgres"))
		if others == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if others > 0 {
		g.progressf("left the embedded PostgreSQL running: %d other session(s) use it (stop it with eventscope db stop)", others)
		return
	}
	if err := pgserver.Stop(ctx, o); err != nil {
		g.progressf("could not stop the embedded PostgreSQL: %v", err)
	}
}

// runDemoSystem seeds an empty database, then runs the worker and live
// traffic until ctx ends.
func runDemoSystem(ctx context.Context, st *store.Store, f demoFlags, empty bool, state *demoState, logToStderr bool, errw io.Writer) {
	fail := func(err error) {
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			state.set(func(s *demoState) { s.err = err })
		}
	}
	if empty && (f.customers > 0 || f.orders > 0) {
		state.set(func(s *demoState) { s.phase = "seeding" })
		res, err := seed.Seed(ctx, st, seed.Config{Customers: f.customers, Orders: f.orders, Seed: f.seed}, seed.Options{
			Progress: func(done, total int64) { state.set(func(s *demoState) { s.seeded, s.seedTotal = done, total }) },
		})
		if err != nil {
			fail(err)
			return
		}
		state.set(func(s *demoState) { s.seedTook = res.Duration })
	}
	logf := func(string, ...any) {}
	if logToStderr && os.Getenv("EVENTSCOPE_DEMO_LOG") != "" {
		logf = func(format string, a ...any) { fmt.Fprintf(errw, "worker: "+format+"\n", a...) }
	}
	// A history this process just seeded is complete (it holds the saga's
	// events), so the saga starts after it; otherwise it starts at the
	// beginning and recognises what it handled before.
	w, err := worker.New(st, worker.Options{SagaFromEnd: empty, Runner: subscriptions.RunnerOptions{Logf: logf}})
	if err != nil {
		fail(err)
		return
	}
	state.set(func(s *demoState) { s.phase = "running" })
	var wg sync.WaitGroup
	wg.Go(func() { fail(w.Run(ctx)) })
	if f.rate > 0 {
		wg.Go(func() {
			res, err := seed.RunLive(ctx, st, seed.LiveOptions{Rate: f.rate, ReportEvery: time.Second,
				Report: func(ls seed.LiveStats) { state.live.Store(&ls) }})
			state.live.Store(&res)
			fail(err)
		})
	}
	wg.Wait()
}

// demoSummary prints one line of the live system every interval.
func demoSummary(ctx context.Context, w io.Writer, st *store.Store, state *demoState, every time.Duration) error {
	mon := subscriptions.NewMonitor(st, every)
	tick := time.NewTicker(every)
	defer tick.Stop()
	var lastEvents int64
	lastAt := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		state.mu.Lock()
		phase, seeded, total, took, bgErr := state.phase, state.seeded, state.seedTotal, state.seedTook, state.err
		state.mu.Unlock()
		if bgErr != nil {
			return bgErr
		}
		stats, err := st.Stats(ctx, store.StatsOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			fmt.Fprintf(w, "%s  stats: %v\n", time.Now().Format("15:04:05"), err)
			continue
		}
		rate := float64(stats.Events-lastEvents) / time.Since(lastAt).Seconds()
		lastEvents, lastAt = stats.Events, time.Now()
		var b strings.Builder
		fmt.Fprintf(&b, "%s  events %d (%+.0f/s)  streams %d", time.Now().Format("15:04:05"), stats.Events, rate, stats.Streams)
		if phase == "seeding" && total == 0 {
			fmt.Fprintf(&b, "  | seeding...")
		} else if phase == "seeding" {
			fmt.Fprintf(&b, "  | seeding %d of ~%d events", seeded, total)
		} else if took > 0 && phase == "running" {
			fmt.Fprintf(&b, "  | seeded in %v", took.Round(100*time.Millisecond))
			state.set(func(s *demoState) { s.seedTook = 0 })
		}
		if ls := state.live.Load(); ls != nil {
			fmt.Fprintf(&b, "  | live: placed %d shipped %d cancelled %d", ls.Placed, ls.Shipped, ls.Cancelled)
			if ls.Errors > 0 {
				fmt.Fprintf(&b, " errors %d", ls.Errors)
			}
		}
		if counts, err := domain.OrdersByStatus(ctx, st.Pool()); err == nil && len(counts) > 0 {
			parts := make([]string, len(counts))
			for i, c := range counts {
				parts[i] = fmt.Sprintf("%s %d", c.Status, c.Orders)
			}
			fmt.Fprintf(&b, "  | orders: %s", strings.Join(parts, " "))
		}
		if subs, err := mon.Snapshot(ctx); err == nil {
			for _, s := range subs {
				fmt.Fprintf(&b, "\n          %-17s %-12s lag %-7d processed %-8d parked %d", s.Name, s.State, s.Lag, s.Processed, s.Parked)
			}
		}
		fmt.Fprintln(w, b.String())
	}
}
