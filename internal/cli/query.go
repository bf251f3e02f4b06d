package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"eventscope/internal/textsafe"
	"eventscope/store"
	"eventscope/store/query"
	"eventscope/tui/common"
)

func init() { commandFactories = append(commandFactories, newQueryCmd) }

func newQueryCmd(g *globals) *cobra.Command {
	var (
		asJSON  bool
		limit   int
		after   string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "query EXPR...",
		Short: "Find events with the filter language, on the server, in global order",
		Long: `query runs a filter on the server and streams the matching events in
global order. Terms (arguments are joined by spaces) must all hold:

  type:T[,T...]         the event type is one of these
  cat:C[,C...]          the stream's category
  stream:GLOB[,...]     the stream id matches a glob (* and ?)
  after:TIME            recorded at or after TIME (2025-03-01, "2025-03-01 12:00", 2h, 3d)
  before:TIME           recorded before TIME
  data.PATH OP VALUE    a predicate on the data; metadata.PATH on the metadata
  -TERM                 negates a term

PATH is keys joined by "." ("quote" odd keys), [] for every array element,
[N] for one: data.lines[].sku. OP is = != > >= < <= or ~ (a regular
expression on strings). Numbers compare as numbers; "!=" also holds where
the path is missing.

--json prints NDJSON, the export format "eventscope import" reads back. The
query stops at --limit events or at the --timeout statement timeout; to page,
pass the checkpoint printed on stderr (or the last line's "checkpoint") as
--after.

Exit codes: 2 a malformed query (the error points at the column), 1 failure
(a timeout among them).`,
		Example: `  eventscope query type:OrderPlaced 'data.total > 100000' 'data.customerId = 42'
  eventscope query 'cat:order after:2h data.lines[].sku ~ "^SOCK"' --json
  eventscope query 'metadata.correlationId = d6c347ff-04b2-5bdb-8b78-f285c7611746'
  eventscope query stream:order-000* --json --limit 100000 > slice.ndjson`,
		Args: wrapArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit <= 0 {
				return Usagef("--limit must be > 0, got %d", limit)
			}
			if timeout <= 0 {
				return Usagef("--timeout must be > 0, got %s", timeout)
			}
			var afterCP store.Checkpoint
			if after != "" {
				var err error
				if afterCP, err = store.ParseCheckpoint(after); err != nil {
					return err
				}
			}
			q, err := query.Parse(strings.Join(args, " "), time.Now())
			if err != nil {
				var se *query.SyntaxError
				if errors.As(err, &se) {
					return Usagef("%v\n%s", se, se.Pointer())
				}
				return err
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			enc := json.NewEncoder(g.out)
			if !asJSON {
				fmt.Fprintf(g.out, "%-18s  %-24s  %7s  %-22s  %-23s  %s\n", "CHECKPOINT", "STREAM", "VERSION", "TYPE", "RECORDED", "DATA")
			}
			res, err := query.Run(cmd.Context(), st, q, query.RunOptions{After: afterCP, Limit: limit, Timeout: timeout}, func(e store.Event) error {
				if asJSON {
					return enc.Encode(e)
				}
				_, err := fmt.Fprintf(g.out, "%-18s  %-24s  %7d  %-22s  %-23s  %s\n", e.Checkpoint,
					common.Truncate(textsafe.Line(e.StreamID), 24), e.Version, common.Truncate(textsafe.Line(e.Type), 22),
					e.RecordedAt.Local().Format("2006-01-02 15:04:05.000"), common.Preview(e.Data, 60))
				return err
			})
			if err != nil {
				if res.Events > 0 {
					fmt.Fprintf(g.errw, "stopped after %d events; resume with --after %s\n", res.Events, res.Next)
				}
				return err
			}
			if res.More {
				fmt.Fprintf(g.errw, "%d events (the limit); more: --after %s\n", res.Events, res.Next)
			} else if !asJSON {
				fmt.Fprintf(g.errw, "%d events\n", res.Events)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "NDJSON, one event per line (the export format)")
	f.IntVar(&limit, "limit", 100, "at most this many events")
	f.StringVar(&after, "after", "", "the checkpoint to continue after (TX:POS); default the start")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "the statement timeout on the server")
	return cmd
}
