// Package cli is the eventscope command line: one cobra command per file.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// globals are the flags every command shares.
type globals struct {
	dbURL  string
	readDB string // --read-db: a hot standby the log is read from
	out    io.Writer
	errw   io.Writer
	in     io.Reader

	// resolved is the database URL last resolved (resolveURL), for the
	// login role a refusal's message names.
	resolved string
}

// commandFactories are the subcommands. Each command file appends its
// constructor in an init function, so files own their commands.
var commandFactories []func(g *globals) *cobra.Command

// rootRun opens the console when eventscope runs with no subcommand; set by tui.go.
var rootRun func(cmd *cobra.Command, g *globals) error

// Main runs the CLI and returns the process exit code.
func Main(args []string) int {
	return run(context.Background(), args, os.Stdin, os.Stdout, os.Stderr)
}

func run(ctx context.Context, args []string, in io.Reader, out, errw io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &globals{out: out, errw: errw, in: in}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errw)
	cmd, err := root.ExecuteContextC(ctx)
	switch {
	case err != nil && isPermission(err):
		fmt.Fprintln(errw, "eventscope:", permissionMessage(cmd, err, loginRole(g.resolved)))
	case err != nil:
		fmt.Fprintln(errw, "eventscope:", err)
	}
	return exitCode(err)
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "eventscope",
		Short: "An event store on PostgreSQL with live subscriptions, and a console over it",
		Long: `eventscope stores each entity as a stream of events in PostgreSQL, delivers
every event to every interested subscriber, and opens a terminal console over it.

With no subcommand it opens the console. The database is --db, else
DATABASE_URL, else an embedded private PostgreSQL in $EVENTSCOPE_HOME
(default ~/.local/share/eventscope).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rootRun == nil {
				return cmd.Help()
			}
			return rootRun(cmd, g)
		},
	}
	root.PersistentFlags().Var(dbFlag{&g.dbURL}, "db", "PostgreSQL URL (default $DATABASE_URL, else the embedded server)")
	root.PersistentFlags().StringVar(&g.readDB, "read-db", "", "a hot standby of --db to read the log from (default $EVENTSCOPE_READ_DB; writes and admin stay on --db)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Msg: err.Error()} })
	for _, f := range commandFactories {
		root.AddCommand(f(g))
	}
	return root
}

// wrapArgs turns cobra's argument-count errors into usage errors (exit 2).
func wrapArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			if !cmd.HasParent() { // "eventscope: " is printed in front of every error already
				return &UsageError{Msg: err.Error()}
			}
			return &UsageError{Msg: fmt.Sprintf("%s: %v", cmd.CommandPath(), err)}
		}
		return nil
	}
}
