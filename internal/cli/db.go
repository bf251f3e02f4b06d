package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"eventscope/internal/pgserver"
)

func init() { commandFactories = append(commandFactories, newDBCmd) }

// isTerminal reports whether r is an interactive terminal; tests replace it.
var isTerminal = func(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

func newDBCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage the embedded PostgreSQL server",
		Long: `Manage the embedded PostgreSQL server: the private cluster that eventscope
starts by itself when neither --db nor DATABASE_URL is given. It lives in
$EVENTSCOPE_HOME (default ~/.local/share/eventscope) and listens only on a
Unix socket of its own. Server binaries come from PATH or
/usr/lib/postgresql/*/bin ($EVENTSCOPE_PG_BIN pins a directory). As root,
the server runs as the user postgres (else nobody; $EVENTSCOPE_PG_USER
overrides), since PostgreSQL refuses to run as root.`,
		Args: wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newDBStatusCmd(g), newDBStartCmd(g), newDBStopCmd(g), newDBURLCmd(g), newDBDestroyCmd(g))
	return cmd
}

// dbStatus is what `db status --json` prints.
type dbStatus struct {
	pgserver.State
	// InUse is false when --db or DATABASE_URL points eventscope elsewhere.
	InUse bool `json:"in_use"`
}

func newDBStatusCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether the embedded server is initialised and running, and where",
		Args:  wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := pgserver.Status(cmd.Context(), g.embeddedOptions())
			if err != nil {
				return err
			}
			other := g.otherDatabase()
			if asJSON {
				enc := json.NewEncoder(g.out)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				return enc.Encode(dbStatus{State: st, InUse: other == ""})
			}
			state := "not initialised (eventscope initialises it on first use, or: eventscope db start)"
			switch {
			case st.Running:
				state = fmt.Sprintf("running (pid %d)", st.PID)
			case st.Initialised:
				state = "stopped"
			}
			w := g.out
			fmt.Fprintf(w, "embedded PostgreSQL in %s\n", st.Home)
			fmt.Fprintf(w, "  state:    %s\n", state)
			if st.Version != "" {
				fmt.Fprintf(w, "  version:  %s\n", st.Version)
			}
			fmt.Fprintf(w, "  data:     %s\n", st.DataDir)
			fmt.Fprintf(w, "  socket:   %s\n", st.SocketDir)
			fmt.Fprintf(w, "  url:      %s\n", st.URL)
			fmt.Fprintf(w, "  log:      %s\n", st.LogFile)
			fmt.Fprintf(w, "  runs as:  %s\n", st.User)
			if other != "" {
				fmt.Fprintf(w, "note: %s is set, so eventscope uses that server, not this one\n", other)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as a JSON object")
	return cmd
}

// otherDatabase names what points eventscope away from the embedded
// server ("--db" or "DATABASE_URL"), or is empty.
func (g *globals) otherDatabase() string {
	switch {
	case g.dbURL != "":
		return "--db"
	case os.Getenv("DATABASE_URL") != "":
		return "DATABASE_URL"
	}
	return ""
}

func newDBStartCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "start",
		Short: "Initialise the embedded server if needed and start it",
		Args:  wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := pgserver.Ensure(cmd.Context(), g.embeddedOptions())
			if err != nil {
				return err
			}
			fmt.Fprintf(g.out, "PostgreSQL %s running (pid %d)\nurl: %s\n", s.Version(), s.PID(), s.URL())
			return nil
		},
	}
}

func newDBStopCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "stop",
		Short: "Stop the embedded server (its data stays)",
		Args:  wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := pgserver.Status(cmd.Context(), g.embeddedOptions())
			if err != nil {
				return err
			}
			if !st.Running && st.PID == 0 {
				fmt.Fprintln(g.out, "not running")
				return nil
			}
			if err := pgserver.Stop(cmd.Context(), g.embeddedOptions()); err != nil {
				return err
			}
			fmt.Fprintln(g.out, "stopped")
			return nil
		},
	}
}

func newDBURLCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "url",
		Short: "Print the database URL eventscope uses (starting the embedded server if that is it)",
		Long: `Print the URL of the database the other commands use: --db, else
DATABASE_URL, else the embedded server's, which is started if needed
(progress goes to stderr). For example: psql "$(eventscope db url)".`,
		Args: wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			url, err := g.resolveURL(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintln(g.out, url)
			return nil
		},
	}
}

func newDBDestroyCmd(g *globals) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "destroy",
		Short: "Stop the embedded server and delete its data",
		Long: `Stop the embedded server and delete its cluster: every database in it.
Asks for confirmation on a terminal; elsewhere it needs --yes.`,
		Args: wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := pgserver.Status(ctx, g.embeddedOptions())
			if err != nil {
				return err
			}
			if !yes && st.Initialised {
				if !isTerminal(g.in) {
					return Usagef("db destroy deletes all data in %s: pass --yes to confirm (stdin is not a terminal to ask on)", st.DataDir)
				}
				fmt.Fprintf(g.errw, "Delete the embedded PostgreSQL cluster in %s, with all its databases? Type yes to confirm: ", st.DataDir)
				answer, _ := bufio.NewReader(g.in).ReadString('\n')
				if strings.TrimSpace(strings.ToLower(answer)) != "yes" {
					return fmt.Errorf("db destroy: not confirmed; nothing was deleted")
				}
			}
			if err := pgserver.Destroy(ctx, g.embeddedOptions()); err != nil {
				return err
			}
			if st.Initialised {
				fmt.Fprintf(g.out, "destroyed the cluster in %s\n", st.DataDir)
			} else {
				fmt.Fprintln(g.out, "no cluster to destroy")
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "delete without asking")
	return cmd
}
