package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"eventscope/domain"
	"eventscope/domain/worker"
	"eventscope/subscriptions"
)

func init() { commandFactories = append(commandFactories, newWorkerCmd) }

func newWorkerCmd(g *globals) *cobra.Command {
	var (
		metricsAddr          string
		fromEnd, quiet       bool
		partitions, members  int
		transient, permanent float64
		snapshotEvery        int
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run the demo domain's subscribers (credit saga, order-summary read model, notifications)",
		Long: `worker runs the domain's subscriptions until SIGINT or SIGTERM:

  customer-service  order events -> reserves or releases credit on customer streams
  order-service     customer events -> approves or rejects orders
  order-summary     order events -> eventscope.order_summary and customer_totals (exactly once)
  notifications     order outcomes -> "sends" mail; fails 2% of events once and 0.1% always
                    (those get parked: see "eventscope subs parked notifications")

New saga and read-model subscriptions start at the beginning of the log (the
seeded history already holds the saga's events, which the handlers recognise
and skip); new notifications start at the end. Run several workers for
standbys: one holds each subscription, another takes over within seconds.
On SIGINT/SIGTERM the batch in flight finishes (or is redelivered later:
nothing is lost) and the leases are released.

Competing consumers: with --partitions P every subscription is a group of P
partitions (streams split by a hash of their id) and every worker started
with the same --partitions is a member: the partitions are shared among the
live members and move within seconds when one joins, stops or dies.
--members N runs N members in this process. Subscriptions created without
partitions stay as they are: delete them first ("subs delete NAME").`,
		Example: `  eventscope worker
  eventscope worker --metrics-addr :9100
  eventscope worker --partitions 16 --members 2`,
		Args: wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case transient < 0 || transient > 1:
				return Usagef("--transient-rate must be within 0..1, got %g", transient)
			case permanent < 0 || permanent > 1:
				return Usagef("--permanent-rate must be within 0..1, got %g", permanent)
			case snapshotEvery < 0:
				return Usagef("--snapshot-every must be >= 0, got %d", snapshotEvery)
			case partitions < 0 || partitions > subscriptions.MaxPartitions:
				return Usagef("--partitions must be within 0..%d, got %d", subscriptions.MaxPartitions, partitions)
			case members < 1 || members > 64:
				return Usagef("--members must be within 1..64, got %d", members)
			case members > 1 && partitions == 0:
				return Usagef("--members %d needs --partitions P (a group of competing consumers)", members)
			}
			var ln net.Listener
			if metricsAddr != "" {
				var err error
				if ln, err = net.Listen("tcp", metricsAddr); err != nil {
					return Usagef("--metrics-addr %s: %v", metricsAddr, err)
				}
			}
			ctx := cmd.Context()
			st, rd, closeStores, err := g.openStores(ctx)
			if err != nil {
				if ln != nil {
					ln.Close()
				}
				return err
			}
			defer closeStores()
			logw := g.errw
			if quiet {
				logw = io.Discard
			}
			o := worker.Options{
				SnapshotEvery: snapshotEvery,
				SagaFromEnd:   fromEnd,
				Partitions:    partitions,
				Members:       members,
				Notifications: domain.NotificationsOptions{TransientRate: rateFlag(transient), PermanentRate: rateFlag(permanent)},
			}
			o.Runner.ReadStore = standbyPrimaryRead(st, rd)
			o.Runner.Logf = func(f string, a ...any) {
				fmt.Fprintf(logw, "%s "+f+"\n", append([]any{time.Now().Format("15:04:05.000")}, a...)...)
			}
			var srv *http.Server
			if ln != nil {
				reg := prometheus.NewRegistry()
				reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
				o.Runner.Registerer = reg
				mux := http.NewServeMux()
				mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
				srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
				go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
				fmt.Fprintf(g.errw, "worker: metrics on http://%s/metrics\n", ln.Addr())
			}
			w, err := worker.New(st, o)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.errw, "worker: running %s, %s, %s, %s (Ctrl-C to stop)\n",
				domain.CustomerServiceName, domain.OrderServiceName, domain.OrderSummaryName, domain.NotificationsName)
			err = w.Run(ctx)
			if srv != nil {
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
				_ = srv.Shutdown(sctx)
				cancel()
			}
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			fmt.Fprintf(g.errw, "worker: stopped (notifications sent: %d)\n", w.Notifications.Sent())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address (e.g. :9100)")
	f.BoolVar(&fromEnd, "from-end", false, "start NEW saga subscriptions at the end of the log instead of the beginning")
	f.Float64Var(&transient, "transient-rate", 0.02, "share of events notifications fails once (0..1)")
	f.Float64Var(&permanent, "permanent-rate", 0.001, "share of events notifications always fails, to be parked (0..1)")
	f.IntVar(&snapshotEvery, "snapshot-every", domain.DefaultSnapshotEvery, "write a snapshot every N events of a stream the saga appends to")
	f.BoolVar(&quiet, "quiet", false, "no log lines")
	f.IntVar(&partitions, "partitions", 0, "run every subscription as a group of this many partitions shared by all such workers (default 0: one holder each)")
	f.IntVar(&members, "members", 1, "with --partitions: members to run in this process")
	return cmd
}

// rateFlag maps a 0..1 flag to NotificationsOptions, where 0 means default
// and negative means none.
func rateFlag(r float64) float64 {
	if r == 0 {
		return -1
	}
	return r
}
