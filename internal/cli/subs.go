package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"eventscope/store"
	"eventscope/subscriptions"
)

// Unknown subscriptions and bad input exit 4 and 2 through exitCode's
// store sentinels: subscriptions' errors match store.ErrNotFound and
// store.ErrInvalid.
func init() { commandFactories = append(commandFactories, newSubsCmd) }

func newSubsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "subs",
		Short: "Show and control durable subscriptions",
		Long: `Show and control durable subscriptions: list them with their state, holder,
checkpoint, lag and rate; pause, resume or reset them; list, retry or skip
their parked events; delete them.

A running holder acts on pause, resume, reset, retry and skip within a
second; the commands wait up to 2 seconds for it to acknowledge.
Unknown subscriptions and parked events exit with code 4.`,
		Args: wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newSubsListCmd(g), newSubsShowCmd(g), newSubsPauseCmd(g, true), newSubsPauseCmd(g, false), newSubsResetCmd(g),
		newSubsParkedCmd(g), newSubsRetryCmd(g), newSubsSkipCmd(g), newSubsDeleteCmd(g))
	return cmd
}

// withAdmin opens the store and runs fn with an Admin.
func (g *globals) withAdmin(ctx context.Context, fn func(*store.Store, *subscriptions.Admin) error) error {
	st, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(st, subscriptions.NewAdmin(st))
}

func checkName(name string) error {
	if err := subscriptions.ValidateName(name); err != nil {
		return Usagef("subscription NAME: %v", err)
	}
	return nil
}

func newSubsListCmd(g *globals) *cobra.Command {
	var asJSON, watch bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List subscriptions: state, holder, checkpoint, lag, rate, processed, parked, last error",
		Long: `List every subscription with its state (catching-up, live, paused, failing,
stopped, no-holder), checkpoint, lag behind the head, rate (events/s over
the last 10 seconds), processed and parked counts, holder and last error.

LAG is exact and filtered when the subscription is at most 10,000 events
behind; beyond that it is estimated from positions over all events, shown
with a leading ~.

--json prints one JSON object per subscription (NDJSON). --watch refreshes
every --interval until interrupted; with --json it prints one line per
refresh: {"time": ..., "subscriptions": [...]}.`,
		Example: `  eventscope subs list
  eventscope subs list --watch
  eventscope subs list --json`,
		Args: wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval <= 0 {
				return Usagef("--interval must be > 0, got %s", interval)
			}
			return g.withAdmin(cmd.Context(), func(st *store.Store, adm *subscriptions.Admin) error {
				if !watch {
					list, err := adm.List(cmd.Context())
					if err != nil {
						return err
					}
					if asJSON {
						enc := newJSONEncoder(g.out)
						for _, s := range list {
							if err := enc.Encode(s); err != nil {
								return err
							}
						}
						return nil
					}
					if err := printStatusTable(g.out, list, time.Now()); err != nil {
						return err
					}
					return g.printReplica(cmd.Context(), st)
				}
				clearScreen := isTerminalWriter(g.out) && !asJSON
				var werr error
				subscriptions.NewMonitor(st, interval).Run(cmd.Context(), func(list []subscriptions.Status, err error) {
					now := time.Now()
					if err != nil {
						fmt.Fprintf(g.errw, "eventscope: %s\n", safe(err.Error()))
						return
					}
					if asJSON {
						if e := newJSONEncoder(g.out).Encode(map[string]any{"time": now, "subscriptions": list}); e != nil {
							werr = e
						}
						return
					}
					if clearScreen {
						fmt.Fprint(g.out, "\x1b[H\x1b[2J")
					} else {
						fmt.Fprintln(g.out)
					}
					fmt.Fprintf(g.out, "%s  (every %s; Ctrl-C to stop)\n", now.Format("15:04:05"), interval)
					if e := printStatusTable(g.out, list, now); e != nil {
						werr = e
					}
					if e := g.printReplica(cmd.Context(), st); e != nil {
						fmt.Fprintf(g.errw, "eventscope: %v\n", e)
					}
				})
				return werr
			})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "NDJSON: one object per subscription")
	f.BoolVar(&watch, "watch", false, "refresh until interrupted")
	f.DurationVar(&interval, "interval", time.Second, "with --watch: time between refreshes")
	return cmd
}

func isTerminalWriter(w io.Writer) bool {
	r, ok := w.(io.Reader)
	return ok && isTerminal(r)
}

func printStatusTable(w io.Writer, list []subscriptions.Status, now time.Time) error {
	if len(list) == 0 {
		_, err := fmt.Fprintln(w, "no subscriptions")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tCHECKPOINT\tLAG\tRATE/S\tPROCESSED\tPARKED\tHOLDER\tHEARTBEAT\tLAST ERROR")
	for _, s := range list {
		lag := fmt.Sprint(s.Lag)
		if s.LagEstimated {
			lag = "~" + lag
		}
		hb := "-"
		if !s.Heartbeat.IsZero() {
			hb = now.Sub(s.Heartbeat).Round(100*time.Millisecond).String() + " ago"
		}
		lastErr := "-"
		if s.LastError != "" {
			lastErr = oneLine(s.LastError, 60)
			if !s.LastErrorAt.IsZero() {
				lastErr = s.LastErrorAt.Local().Format("15:04:05") + " " + lastErr
			}
		}
		state := string(s.State)
		if s.ControlPending {
			state += "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f\t%d\t%d\t%s\t%s\t%s\n",
			safe(s.Name), state, s.Checkpoint, lag, s.Rate, s.Processed, s.Parked, safe(holderText(s)), hb, lastErr)
		for _, m := range s.Members {
			// one line per member of a group: its partitions and its lag
			live := "live"
			if !m.Live {
				live = "gone"
			}
			mlag := fmt.Sprint(m.Lag)
			if m.LagEstimated {
				mlag = "~" + mlag
			}
			fmt.Fprintf(tw, "  member %s\t%s\t-\t%s\t%.1f\t-\t-\t%s\t-\tpartitions %s\n",
				safe(m.Instance), live, mlag, m.Rate, safe(fmt.Sprintf("%s/%d/%s", m.Host, m.PID, m.Instance)), partitionList(m.Partitions))
		}
		if unheld := unheldPartitions(s); len(unheld) > 0 {
			fmt.Fprintf(tw, "  no member\t-\t-\t-\t-\t-\t-\t-\t-\tpartitions %s\n", partitionList(unheld))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range list {
		if s.ControlPending {
			_, err := fmt.Fprintln(w, "* the holder has not yet acted on the latest admin operation")
			return err
		}
	}
	return nil
}

// holderText is the HOLDER column: the holder, or a group's members and
// partitions.
func holderText(s subscriptions.Status) string {
	if s.Partitions == nil {
		return fmt.Sprint(s.Holder)
	}
	live := 0
	for _, m := range s.Members {
		if m.Live {
			live++
		}
	}
	return fmt.Sprintf("group: %d members, %d partitions", live, len(s.Partitions))
}

// hasHolder: a holder, or a live member of a group.
func hasHolder(s subscriptions.Status) bool {
	for _, m := range s.Members {
		if m.Live {
			return true
		}
	}
	return s.Holder != nil
}

func unheldPartitions(s subscriptions.Status) []int {
	var out []int
	for _, p := range s.Partitions {
		if p.Holder == nil {
			out = append(out, p.Partition)
		}
	}
	return out
}

// partitionList prints partition numbers as "0,2,4" ("-" for none).
func partitionList(ps []int) string {
	if len(ps) == 0 {
		return "-"
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprint(p)
	}
	return strings.Join(parts, ",")
}

// awaitHolder waits up to 2s for the holder to acknowledge an operation and
// says what happened.
func (g *globals) awaitHolder(ctx context.Context, adm *subscriptions.Admin, name, done string) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		s, err := adm.Get(ctx, name)
		if err != nil {
			return err
		}
		switch {
		case !hasHolder(s):
			fmt.Fprintf(g.out, "%s %s (no holder now: the next one applies it)\n", done, name)
			return nil
		case !s.ControlPending:
			fmt.Fprintf(g.out, "%s %s (holder %s acknowledged; state %s)\n", done, name, safe(holderText(s)), s.State)
			return nil
		case time.Now().After(deadline):
			fmt.Fprintf(g.out, "%s %s (holder %s has not acknowledged yet)\n", done, name, safe(holderText(s)))
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func newSubsPauseCmd(g *globals, pause bool) *cobra.Command {
	use, short, done := "pause NAME", "Pause a subscription: nothing is delivered until resume", "paused"
	if !pause {
		use, short, done = "resume NAME", "Resume a paused subscription, or one stopped at a failing event (retrying it)", "resumed"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  wrapArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkName(args[0]); err != nil {
				return err
			}
			return g.withAdmin(cmd.Context(), func(_ *store.Store, adm *subscriptions.Admin) error {
				op := adm.Resume
				if pause {
					op = adm.Pause
				}
				if err := op(cmd.Context(), args[0]); err != nil {
					return err
				}
				return g.awaitHolder(cmd.Context(), adm, args[0], done)
			})
		},
	}
}

func newSubsResetCmd(g *globals) *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "reset NAME --to start|end|CHECKPOINT|TIME",
		Short: "Move a subscription's checkpoint: to the start (replay everything), the end, a checkpoint or a time",
		Long: `Move a subscription's checkpoint. --to is one of:
  start        the beginning of the log: every event is delivered again
  end          the head of the log: only events appended from now on
  TX:POS       a checkpoint (as printed by read --all and subs list): events after it
  TIME         an RFC 3339 time (2024-05-01T12:00:00Z), a local date and time
               ("2024-05-01 10:00"), "now", or an age (-10m, -1h30m, -2d, "2h ago"):
               events recorded at or after it
The holder drops the batch in flight and continues from there; a stop at a
failing event (StopOnFailure) is cleared.`,
		Example: `  eventscope subs reset order-summary --to start
  eventscope subs reset credit-check --to -15m
  eventscope subs reset credit-check --to 7731:120455`,
		Args: wrapArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkName(args[0]); err != nil {
				return err
			}
			if !cmd.Flags().Changed("to") {
				return Usagef("subs reset: --to is required (start, end, TX:POS or a time)")
			}
			target, err := subscriptions.ParseResetTarget(to)
			if err != nil {
				return Usagef("--to: %v", err)
			}
			return g.withAdmin(cmd.Context(), func(_ *store.Store, adm *subscriptions.Admin) error {
				if err := adm.Reset(cmd.Context(), args[0], target); err != nil {
					return err
				}
				s, err := adm.Get(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return g.awaitHolder(cmd.Context(), adm, args[0], fmt.Sprintf("reset to %s (checkpoint %s):", target, s.Checkpoint))
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "start, end, a checkpoint TX:POS, or a time (RFC 3339, local \"2024-05-01 10:00\", or an age like -10m)")
	return cmd
}

func newSubsShowCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show one subscription and why it is behind",
		Long: `Show one subscription: first, in one line, why it is behind — its time lag
(the age of the oldest event after its checkpoint that its filter takes) and
the main reason: paused since when, stopped at a failing event, no process
runs it, its holder is silent, retrying which event (attempt n of m, next in
s), held back by which open transaction (pid), or its handler is slow (p99
of its handler time per event) — with its parked count; then its filter,
checkpoint, holder, rate, counts and last error.

--json prints one object: {"status" (as subs list --json), "oldest" (the
oldest undelivered event, without its data), "time_lag_ns", "reason",
"blocker", "at", "line"}. Reasons: up-to-date, paused, stopped, no-holder,
unresponsive, retrying, held-back, slow.`,
		Example: `  eventscope subs show notifications
  eventscope subs show order-summary --json`,
		Args: wrapArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkName(args[0]); err != nil {
				return err
			}
			return g.withAdmin(cmd.Context(), func(_ *store.Store, adm *subscriptions.Admin) error {
				w, err := adm.Why(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return newJSONEncoder(g.out).Encode(struct {
						subscriptions.Why
						Line string `json:"line"`
					}{w, w.Line(w.At)})
				}
				return printWhy(g.out, w)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

func printWhy(out io.Writer, w subscriptions.Why) error {
	s := w.Status
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	state := string(s.State)
	if s.ControlPending {
		state += " (the holder has not acted on the last operation yet)"
	}
	filter := "every event"
	var parts []string
	if len(s.Categories) > 0 {
		parts = append(parts, "categories "+strings.Join(s.Categories, ", "))
	}
	if len(s.Types) > 0 {
		parts = append(parts, "types "+strings.Join(s.Types, ", "))
	}
	if len(parts) > 0 {
		filter = strings.Join(parts, "; ")
	}
	lag := fmt.Sprint(s.Lag)
	if s.LagEstimated {
		lag = "~" + lag
	}
	hb := "-"
	if !s.Heartbeat.IsZero() {
		hb = w.At.Sub(s.Heartbeat).Round(100*time.Millisecond).String() + " ago"
	}
	fmt.Fprintf(tw, "%s\t%s\n", safe(s.Name), state)
	fmt.Fprintf(tw, "why\t%s\n", safe(w.Line(w.At)))
	fmt.Fprintf(tw, "filter\t%s\n", safe(filter))
	fmt.Fprintf(tw, "checkpoint\t%s (head %s, lag %s events)\n", s.Checkpoint, s.Head, lag)
	if o := w.Oldest; o != nil {
		fmt.Fprintf(tw, "oldest pending\t%s@%d %s, recorded %s\n", safe(o.StreamID), o.Version, safe(o.Type), o.RecordedAt.Local().Format("2006-01-02 15:04:05.000"))
	}
	fmt.Fprintf(tw, "holder\t%s (heartbeat %s)\n", safe(fmt.Sprint(s.Holder)), hb)
	fmt.Fprintf(tw, "rate\t%.1f/s, %d processed, %d failed attempts, %d parked\n", s.Rate, s.Processed, s.Failures, s.Parked)
	if s.HandlerCalls > 0 {
		fmt.Fprintf(tw, "handler\tp99 %s per event over the last %d calls\n", s.HandlerP99.Round(time.Microsecond), s.HandlerCalls)
	}
	if s.LastError != "" {
		fmt.Fprintf(tw, "last error\t%s %s\n", s.LastErrorAt.Local().Format("2006-01-02 15:04:05"), oneLine(s.LastError, 200))
	}
	return tw.Flush()
}

func newSubsParkedCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "parked NAME",
		Short: "List a subscription's parked events (those that failed every attempt)",
		Long: `List a subscription's parked events in global order: the event, the number
of attempts, the last error and when it was parked. --json prints one
object per parked event: {"subscription", "event" (as read --json),
"attempts", "last_error", "parked_at", "retry_requested", "first_failed_at",
"history" (its failed attempts, oldest first, the last 20: {"at",
"attempt", "error"})}.`,
		Args: wrapArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkName(args[0]); err != nil {
				return err
			}
			return g.withAdmin(cmd.Context(), func(_ *store.Store, adm *subscriptions.Admin) error {
				list, err := adm.Parked(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if asJSON {
					enc := newJSONEncoder(g.out)
					for _, p := range list {
						if err := enc.Encode(p); err != nil {
							return err
						}
					}
					return nil
				}
				if len(list) == 0 {
					_, err := fmt.Fprintf(g.out, "no parked events for %s\n", args[0])
					return err
				}
				tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "EVENT ID\tCHECKPOINT\tSTREAM@VERSION\tTYPE\tATTEMPTS\tPARKED\tLAST ERROR")
				for _, p := range list {
					retry := ""
					if p.RetryRequested {
						retry = " (retry requested)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s@%d\t%s\t%d\t%s\t%s%s\n", p.Event.EventID, p.Event.Checkpoint,
						safe(p.Event.StreamID), p.Event.Version, safe(p.Event.Type), p.Attempts,
						p.ParkedAt.Local().Format("2006-01-02 15:04:05"), oneLine(p.LastError, 80), retry)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "NDJSON: one object per parked event")
	return cmd
}

func parseEventID(s string) (uuid.UUID, error) {
	id, err := uuid.Parse(strings.TrimSpace(s))
	if err != nil {
		return uuid.Nil, Usagef("EVENT_ID %q is not a UUID", s)
	}
	return id, nil
}

func newSubsRetryCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "retry NAME (EVENT_ID | --all)",
		Short: "Deliver a parked event (or all of them) again through the handler",
		Long: `Ask the subscription's holder to deliver a parked event, or every parked
event with --all, again through its handler (with its retry policy). An
event delivered leaves the parked list; one that fails again stays parked
with the new error. Without a holder, the retry waits for the next one.`,
		Example: `  eventscope subs retry credit-check 3c1a9d52-4b1e-4c8a-9f00-1d2e3f4a5b6c
  eventscope subs retry credit-check --all`,
		Args: wrapArgs(cobra.RangeArgs(1, 2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkName(args[0]); err != nil {
				return err
			}
			if all == (len(args) == 2) {
				return Usagef("subs retry: give an EVENT_ID or --all")
			}
			var id uuid.UUID
			if !all {
				var err error
				if id, err = parseEventID(args[1]); err != nil {
					return err
				}
			}
			return g.withAdmin(cmd.Context(), func(_ *store.Store, adm *subscriptions.Admin) error {
				if all {
					n, err := adm.RetryAll(cmd.Context(), args[0])
					if err != nil {
						return err
					}
					return g.awaitHolder(cmd.Context(), adm, args[0], fmt.Sprintf("retry of %d parked events queued for", n))
				}
				if err := adm.Retry(cmd.Context(), args[0], id); err != nil {
					return err
				}
				return g.awaitHolder(cmd.Context(), adm, args[0], fmt.Sprintf("retry of %s queued for", id))
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "retry every parked event of the subscription")
	return cmd
}

// confirm asks before discarding: --yes, or y on an interactive terminal.
func (g *globals) confirm(yes bool, what string) error {
	if yes {
		return nil
	}
	if !isTerminal(g.in) {
		return Usagef("%s: confirm with --yes (stdin is not a terminal to ask on)", what)
	}
	fmt.Fprintf(g.errw, "%s? [y/N] ", what)
	line, _ := bufio.NewReader(g.in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return Usagef("%s: not confirmed", what)
}

func newSubsSkipCmd(g *globals) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "skip NAME EVENT_ID",
		Short: "Discard a parked event: it is never delivered",
		Long: `Discard a parked event: it leaves the parked list and is never delivered to
this subscription. Asks for confirmation on a terminal; elsewhere --yes is
required.`,
		Args: wrapArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkName(args[0]); err != nil {
				return err
			}
			id, err := parseEventID(args[1])
			if err != nil {
				return err
			}
			return g.withAdmin(cmd.Context(), func(_ *store.Store, adm *subscriptions.Admin) error {
				if _, err := adm.Get(cmd.Context(), args[0]); err != nil {
					return err
				}
				if err := g.confirm(yes, fmt.Sprintf("discard parked event %s of %s", id, args[0])); err != nil {
					return err
				}
				if err := adm.Skip(cmd.Context(), args[0], id); err != nil {
					return err
				}
				fmt.Fprintf(g.out, "discarded parked event %s of %s\n", id, args[0])
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func newSubsDeleteCmd(g *globals) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a subscription, its checkpoint and its parked events",
		Long: `Delete a subscription: its row, checkpoint and parked events. Runners that
have it registered stop it; a runner started later with it registered
creates it anew from its configured start. Asks for confirmation on a
terminal; elsewhere --yes is required.`,
		Args: wrapArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkName(args[0]); err != nil {
				return err
			}
			return g.withAdmin(cmd.Context(), func(_ *store.Store, adm *subscriptions.Admin) error {
				s, err := adm.Get(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if err := g.confirm(yes, fmt.Sprintf("delete subscription %s (checkpoint %s, %d parked events)", args[0], s.Checkpoint, s.Parked)); err != nil {
					return err
				}
				if err := adm.Delete(cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(g.out, "deleted subscription %s\n", args[0])
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

// printReplica prints the --read-db standby's lag (nothing without one).
func (g *globals) printReplica(ctx context.Context, st *store.Store) error {
	r, err := g.replicaStatus(ctx, st)
	if err != nil || r == nil {
		return err
	}
	_, err = fmt.Fprintf(g.out, "read db: %s\n", r)
	return err
}
