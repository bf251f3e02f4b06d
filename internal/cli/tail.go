package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"eventscope/internal/textsafe"
	"eventscope/store"
	"eventscope/subscriptions"
)

func init() { commandFactories = append(commandFactories, newTailCmd) }

// errTailDone stops Follow after --count events.
var errTailDone = errors.New("tail: count reached")

func newTailCmd(g *globals) *cobra.Command {
	var (
		from       string
		categories []string
		types      []string
		asJSON     bool
		count      int
	)
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Follow the global log live, printing each event as soon as it commits",
		Long: `Follow the global log live: every committed event (of the given categories
and types) is printed as soon as it is deliverable, in global order, until
interrupted. tail is a reader: it keeps no checkpoint and takes no lease.

--from is where to start: end (the default: only new events), start (the
whole log first), or a checkpoint TX:POS (the events after it).
--json prints NDJSON, one object per event, in the shape of read --all --json.`,
		Example: `  eventscope tail
  eventscope tail --json --category order --category customer
  eventscope tail --from start --type OrderPlaced --count 10`,
		Args: wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if count < 0 {
				return Usagef("--count must be >= 0, got %d", count)
			}
			cats, err := splitList("--category", categories)
			if err != nil {
				return err
			}
			typs, err := splitList("--type", types)
			if err != nil {
				return err
			}
			var after store.Checkpoint
			fromEnd := false
			switch f := strings.TrimSpace(from); strings.ToLower(f) {
			case "end", "":
				fromEnd = true
			case "start", "beginning":
			default:
				cp, err := store.ParseCheckpoint(f)
				if err != nil {
					return Usagef("--from must be start, end or a checkpoint TX:POS (e.g. 7731:120455), got %q", from)
				}
				after = cp
			}
			ctx := cmd.Context()
			primary, st, closeStores, err := g.openStores(ctx) // --read-db: follow the standby, woken by the primary
			if err != nil {
				return err
			}
			defer closeStores()
			if fromEnd {
				if after, err = st.Head(ctx); err != nil {
					return err
				}
			}
			enc := newJSONEncoder(g.out)
			printed := 0
			err = subscriptions.Follow(ctx, st, after, subscriptions.FollowOptions{
				Categories: cats, Types: typs, Primary: standbyPrimary(primary, st),
				Logf: func(f string, a ...any) {
					fmt.Fprintf(g.errw, "eventscope: %s\n", textsafe.Block(fmt.Sprintf(f, a...)))
				},
			}, func(events []store.Event) error {
				for _, e := range events {
					if asJSON {
						if err := enc.Encode(e); err != nil {
							return err
						}
					} else if _, err := fmt.Fprintln(g.out, tailLine(e)); err != nil {
						return err
					}
					printed++
					if count > 0 && printed >= count {
						return errTailDone
					}
				}
				return nil
			})
			if errors.Is(err, errTailDone) {
				return nil
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "end", "start, end, or a checkpoint TX:POS to follow from")
	f.StringArrayVar(&categories, "category", nil, "only events of this stream category (repeatable, or comma-separated)")
	f.StringArrayVar(&types, "type", nil, "only events of this type (repeatable, or comma-separated)")
	f.BoolVar(&asJSON, "json", false, "NDJSON: one object per event (as read --all --json)")
	f.IntVar(&count, "count", 0, "exit after this many events (default 0: follow until interrupted)")
	return cmd
}

// tailLine is one event in tail's text form:
// CHECKPOINT  RECORDED  STREAM@VERSION  TYPE  DATA.
func tailLine(e store.Event) string {
	return fmt.Sprintf("%-16s %s  %s@%d  %s  %s", e.Checkpoint, e.RecordedAt.Local().Format("15:04:05.000"),
		safe(e.StreamID), e.Version, safe(e.Type), safePreview(e.Data, 100))
}

// splitList flattens repeated, comma-separated flag values, rejecting
// empty items.
func splitList(flag string, vals []string) ([]string, error) {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				return nil, Usagef("%s: empty value in %q", flag, v)
			}
			out = append(out, p)
		}
	}
	return out, nil
}
