package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"eventscope/domain"
	"eventscope/store"
	"eventscope/subscriptions"
	"eventscope/tui"
)

func init() {
	commandFactories = append(commandFactories, newTUICmd)
	rootRun = func(cmd *cobra.Command, g *globals) error { return g.runConsole(cmd, false) }
	// Opening the console without a terminal is a usage error (exit 2).
	extraExitMappers = append(extraExitMappers, func(err error) (int, bool) {
		if errors.Is(err, tui.ErrNoTerminal) {
			return ExitBadInput, true
		}
		return 0, false
	})
}

func newTUICmd(g *globals) *cobra.Command {
	var readOnly bool
	cmd := &cobra.Command{
		Use:   "tui",
		Short: "Open the console: browse streams, time-travel aggregates, tail the log, run subscriptions",
		Long: `Open the terminal console over the store (also what eventscope does with no
subcommand): an overview, a stream browser with fuzzy search, each stream's
events, time-travel through an aggregate's versions, the live global log,
and the live subscriptions with their admin actions.

--read-only disables every admin action (pause, resume, reset, retry, skip)
and writes nothing at all: it does not create or migrate the schema (a
missing or old one is reported with the command that fixes it) and stores
no snapshots.
Press ? in the console for every key binding, : for the command palette.`,
		Example: `  eventscope tui
  eventscope tui --read-only --db postgres://reader@db/app`,
		Args: wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return g.runConsole(cmd, readOnly) },
	}
	cmd.Flags().BoolVar(&readOnly, "read-only", false, "disable every admin action")
	return cmd
}

func (g *globals) runConsole(cmd *cobra.Command, readOnly bool) error {
	if err := tui.CheckTerminal(); err != nil {
		return err // before starting or connecting to anything
	}
	ctx := cmd.Context()
	open := g.openStore
	if readOnly {
		open = g.openStoreReadOnly
	}
	// --read-db: browse the standby, admin on the primary
	primary, err := open(ctx)
	st, closeStores := primary, func() {}
	if err == nil {
		closeStores = primary.Close
		var rd *store.Store
		if rd, err = g.openReadStore(ctx); err != nil {
			primary.Close()
		} else if rd != nil {
			st, closeStores = rd, func() { rd.Close(); primary.Close() }
		}
	}
	if err != nil {
		return err
	}
	defer closeStores()
	return tui.Run(ctx, tui.Config{
		Store:       st,
		Admin:       subscriptions.NewAdmin(primary),
		Monitor:     subscriptions.NewMonitor(primary, 0),
		TimeTravel:  domain.NewTimeTravel(st, domain.DefaultRegistry(), domain.TimeTravelOptions{NoLazySnapshots: readOnly || st != primary}),
		Forget:      domain.NewTimeTravel(primary, domain.DefaultRegistry(), domain.TimeTravelOptions{}),
		ReadOnly:    readOnly,
		DatabaseURL: st.Pool().Config().ConnString(),
	})
}
