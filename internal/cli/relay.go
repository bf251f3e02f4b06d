package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"eventscope/internal/relay"
	"eventscope/subscriptions"
)

func init() { commandFactories = append(commandFactories, newRelayCmd) }

func newRelayCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "relay",
		Short: "Relay the log to another system through a durable subscription",
		Args:  wrapArgs(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newRelayNATSCmd(g))
	return cmd
}

func newRelayNATSCmd(g *globals) *cobra.Command {
	var (
		o          relay.NATSOptions
		name       string
		categories []string
		types      []string
		quiet      bool
		from       string
	)
	cmd := &cobra.Command{
		Use:   "nats --url URL",
		Short: "Publish every event to NATS JetStream, checkpointed once the stream acknowledged it",
		Long: `relay nats runs the durable subscription --name (default nats-relay; shown by
"subs list" and the console, paused, reset and resumed by "subs" like any
other) and publishes each of its events to the JetStream stream --stream on
subject PREFIX.<category>.<type>. The body is the event as read --all --json
prints it; headers: Nats-Msg-Id (the event id), Eventscope-Stream-Id,
Eventscope-Version, Eventscope-Position, Eventscope-Checkpoint,
Eventscope-Type, Content-Type.

Subject tokens: bytes A-Z a-z 0-9 - _ are kept, every other byte (".", "*",
">", "%", spaces, each byte of a non-ASCII character) is written %XX in
upper-case hex, and an empty category is a lone "%": category "a.b" and type
"Paid" go to PREFIX.a%2Eb.Paid.

The stream is created if it does not exist (subjects PREFIX.>, file storage,
a duplicate window of 2 minutes); an existing stream must capture PREFIX.>
and de-duplicate over at least 2 minutes.

Publishes are asynchronous, up to --window in flight; the checkpoint moves
only past events JetStream acknowledged. After a crash (even SIGKILL), a
restart or a NATS outage, what was in flight is published again and dropped
by JetStream as a duplicate of its Nats-Msg-Id: each event is stored once,
provided the relay is back within the duplicate window. While NATS is down
the relay retries with backoff (up to 5 s) and shows as failing in
"subs list"; it never parks an event for that.

Run several for standbys: one holds the subscription, another takes over
within seconds. Stops on SIGINT or SIGTERM.`,
		Example: `  eventscope relay nats --url nats://127.0.0.1:4222
  eventscope relay nats --url nats://nats:4222 --stream ORDERS --subject-prefix acme.events --category order --name orders-to-nats`,
		Args: wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := parseStartFlag(from, &subscriptions.Subscription{}); err != nil {
				return err
			}
			if o.URL == "" {
				return Usagef("relay nats: --url is required (e.g. nats://127.0.0.1:4222)")
			}
			if err := subscriptions.ValidateName(name); err != nil {
				return Usagef("--name: %v", err)
			}
			if err := relay.ValidatePrefix(o.SubjectPrefix); err != nil {
				return Usagef("--subject-prefix: %v", err)
			}
			if o.Window < 1 || o.Window > 100000 {
				return Usagef("--window must be within 1..100000, got %d", o.Window)
			}
			if o.Attempts < 0 {
				return Usagef("--attempts must be >= 0, got %d", o.Attempts)
			}
			cats, err := splitList("--category", categories)
			if err != nil {
				return err
			}
			typs, err := splitList("--type", types)
			if err != nil {
				return err
			}
			logf := func(f string, a ...any) {
				if !quiet {
					fmt.Fprintf(g.errw, "%s "+f+"\n", append([]any{time.Now().Format("15:04:05.000")}, a...)...)
				}
			}
			o.Logf = logf
			ctx := cmd.Context()
			st, rd, closeStores, err := g.openStores(ctx)
			if err != nil {
				return err
			}
			defer closeStores()
			r, err := relay.NewNATS(rd, o)
			if err != nil {
				return Usagef("relay nats: %v", err)
			}
			defer r.Close()
			def := r.Subscription(name, cats, typs)
			if err := parseStartFlag(from, &def); err != nil {
				return err
			}
			run := subscriptions.NewRunner(st, subscriptions.RunnerOptions{Logf: logf, ReadStore: standbyPrimaryRead(st, rd)})
			if err := run.Add(def); err != nil {
				return err
			}
			logf("relay: %s -> JetStream stream %s, subjects %s.<category>.<type> (Ctrl-C to stop)", name, o.Stream, o.SubjectPrefix)
			if err := run.Run(ctx); err != nil {
				return err
			}
			acked, dups := r.Published()
			logf("relay: stopped (%d publishes acknowledged, %d of them duplicates)", acked, dups)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.URL, "url", "", "NATS server URL (several comma-separated for a cluster); required")
	f.StringVar(&o.Stream, "stream", "EVENTSCOPE", "JetStream stream (created if missing)")
	f.StringVar(&o.SubjectPrefix, "subject-prefix", "eventscope", "subjects are PREFIX.<category>.<type>")
	f.StringVar(&name, "name", "nats-relay", "the durable subscription's name")
	f.StringArrayVar(&categories, "category", nil, "only events of this stream category (repeatable, or comma-separated)")
	f.StringArrayVar(&types, "type", nil, "only events of this type (repeatable, or comma-separated)")
	f.StringVar(&from, "from", "start", "where a NEW relay subscription starts: start, end, or a checkpoint TX:POS")
	f.IntVar(&o.Window, "window", 512, "publishes in flight at most")
	f.DurationVar(&o.AckTimeout, "ack-timeout", 5*time.Second, "wait this long for a publish's acknowledgement before retrying it")
	f.IntVar(&o.Attempts, "attempts", 0, "park an event after this many failed publishes (default 0: never, retry until NATS takes it)")
	f.BoolVar(&quiet, "quiet", false, "no log lines")
	return cmd
}
