package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"eventscope/domain"
	"eventscope/internal/textsafe"
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
	// What the connected role may do: without eventscope_admin the admin
	// keys are disabled as in --read-only, saying why; without
	// eventscope_writer time-travel stores no snapshots.
	caps, err := primary.Capabilities(ctx)
	if err != nil {
		return err
	}
	if !caps.Read {
		return &store.PermissionError{Op: "open the console", Role: store.RoleReader}
	}
	reason := consoleReadOnlyReason(caps, readOnly)
	return tui.Run(ctx, tui.Config{
		Store:          st,
		Admin:          subscriptions.NewAdmin(primary),
		Monitor:        subscriptions.NewMonitor(primary, 0),
		TimeTravel:     domain.NewTimeTravel(st, domain.DefaultRegistry(), domain.TimeTravelOptions{NoLazySnapshots: readOnly || st != primary || !caps.Write}),
		Forget:         domain.NewTimeTravel(primary, domain.DefaultRegistry(), domain.TimeTravelOptions{}),
		ReadOnly:       readOnly || reason != "",
		ReadOnlyReason: reason,
		DatabaseURL:    st.Pool().Config().ConnString(),
		Primary:        primary,
	})
}

// consoleReadOnlyReason is why the console must be read-only although it
// was started without --read-only: the role may not administer
// subscriptions. Empty when it may (or --read-only says it all).
func consoleReadOnlyReason(caps store.Capabilities, readOnly bool) string {
	if readOnly || caps.Admin {
		return ""
	}
	return fmt.Sprintf("role %s is not an %s (GRANT %s TO %s; to enable the admin keys)",
		textsafe.Line(caps.User), store.RoleAdmin, store.RoleAdmin, textsafe.Line(caps.User))
}
