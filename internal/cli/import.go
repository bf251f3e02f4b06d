package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"eventscope/store"
)

func init() { commandFactories = append(commandFactories, newImportCmd) }

func newImportCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "import FILE|-",
		Short: "Append exported events (query --json NDJSON) back, keeping their ids",
		Long: `import reads NDJSON in the export format (one event per line, as "query
--json" and "read --json" print them) and appends the events in input order,
stream by stream, keeping their event ids: each stream keeps its order, and
importing the same file again is a no-op. Consecutive events of one stream
are appended atomically. The target assigns its own versions, positions and
recorded_at times; stream_id, event_id, type, data and metadata are kept.

An event id already stored with other content (or in another stream) stops
the import at that line with exit code 2; what came before stays imported,
so fixing the line and importing again continues where it stopped.`,
		Example: `  eventscope query --db "$PROD" 'cat:order after:1d' --json --limit 1000000 > orders.ndjson
  eventscope import --db "$STAGING" orders.ndjson
  eventscope query type:OrderPlaced --json | eventscope import --db "$OTHER" -`,
		Args: wrapArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r io.Reader = g.in
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return Usagef("import: %v", err)
				}
				defer f.Close()
				r = f
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			res, err := st.Import(cmd.Context(), r, store.ImportOptions{})
			if err != nil {
				fmt.Fprintf(g.errw, "before the error: %d events appended, %d already present\n", res.Appended, res.Present)
				return err
			}
			if asJSON {
				return json.NewEncoder(g.out).Encode(res)
			}
			fmt.Fprintf(g.out, "%d events in %d streams: %d appended, %d already present\n", res.Lines, res.Streams, res.Appended, res.Present)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"events","appended","already_present","streams"}`)
	return cmd
}
