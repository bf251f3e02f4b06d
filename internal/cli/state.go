package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"eventscope/domain"
	"eventscope/internal/textsafe"
	"eventscope/store"
)

func init() { commandFactories = append(commandFactories, newStateCmd) }

func newStateCmd(g *globals) *cobra.Command {
	var (
		version, at  string
		diff, asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "state STREAM",
		Short: "Show an aggregate's state at a version or a time (time-travel)",
		Long: `state folds a stream's events into its state, as of its last event, of
--version N, or of the last event recorded at or before --at TIME. Order and
Customer streams use their aggregates (from the nearest snapshot); any other
category gets a generic fold, each event's data merged in as a JSON merge
patch (RFC 7396), labelled as such.

--diff shows what the event at that version changed.

TIME is RFC 3339 (2025-03-01T12:00:00Z), a date (2025-03-01), a date and
time in local time (2025-03-01 12:00[:05]), "now", or a duration ago (90m,
-90m, 2h30m, 3d, "2h ago").`,
		Example: `  eventscope state order-000042
  eventscope state order-000042 --version 1 --diff
  eventscope state customer-0001 --at 2h --json`,
		Args: wrapArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			stream := args[0]
			if err := checkReadStream(stream); err != nil {
				return err
			}
			if version != "" && at != "" {
				return Usagef("--version and --at are exclusive: give one")
			}
			var (
				v      int64 = -1
				atTime time.Time
				err    error
			)
			if version != "" {
				if v, err = parseVersionFlag(version); err != nil {
					return Usagef("--version: %v", err)
				}
			}
			if at != "" {
				if atTime, err = store.ParseTime(at, time.Now()); err != nil {
					var ve *store.ValidationError
					if errors.As(err, &ve) {
						return Usagef("--at: %s", ve.Reason)
					}
					return Usagef("--at: %v", err)
				}
			}
			ctx := cmd.Context()
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			// state is a read: it uses snapshots but never stores any.
			tt := domain.NewTimeTravel(st, nil, domain.TimeTravelOptions{NoLazySnapshots: true})
			switch {
			case !atTime.IsZero():
				if v, err = tt.VersionAt(ctx, stream, atTime); err != nil {
					return stateErr(err)
				}
			case v < 0:
				info, err := st.StreamInfo(ctx, stream)
				if err != nil {
					return stateErr(err)
				}
				v = info.Version
			}
			out := stateOutput{}
			if diff {
				tr, err := tt.TransitionAt(ctx, stream, v)
				if err != nil {
					return stateErr(err)
				}
				out.State, out.Changes, out.Before = tr.After, nonNilChanges(tr.Changes), tr.Before
			} else if out.State, err = tt.StateAt(ctx, stream, v); err != nil {
				return stateErr(err)
			}
			for _, u := range out.State.Undecodable {
				fmt.Fprintf(g.errw, "eventscope: %s version %d (%s) not folded: %s; the state is as before it\n", safe(stream), u.Version, safe(u.Type), u.Reason)
			}
			if asJSON {
				if !json.Valid(out.State.Event.Data) {
					// Too deep for encoding/json to write back: "undecodable"
					// says so, and read --json shows the stored bytes.
					out.State.Event.Data = nil
				}
				return newJSONEncoder(g.out).Encode(out.jsonForm(diff))
			}
			return printState(g.out, out, diff)
		},
	}
	f := cmd.Flags()
	f.StringVar(&version, "version", "", "the version to show (default: the last)")
	f.StringVar(&at, "at", "", "show the state as of this time instead (see TIME above)")
	f.BoolVar(&diff, "diff", false, "show what the event at that version changed")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// stateErr turns time-travel's bad-input errors into usage errors (exit 2);
// an unknown stream stays store.ErrNotFound (exit 4).
func stateErr(err error) error {
	var ve *domain.VersionError
	var te *domain.TimeError
	if errors.As(err, &ve) || errors.As(err, &te) {
		return &UsageError{Msg: err.Error()}
	}
	return err
}

type stateOutput struct {
	State   domain.State
	Before  json.RawMessage
	Changes []domain.Change
}

func nonNilChanges(c []domain.Change) []domain.Change {
	if c == nil {
		return []domain.Change{}
	}
	return c
}

func (o stateOutput) jsonForm(diff bool) any {
	if !diff {
		return o.State
	}
	return struct {
		domain.State
		Before  json.RawMessage `json:"before"`
		Changes []domain.Change `json:"changes"`
	}{o.State, o.Before, o.Changes}
}

func printState(w io.Writer, o stateOutput, diff bool) error {
	s := o.State
	kind := s.Aggregate
	if s.Generic {
		kind = "generic fold: JSON merge patch of each event's data (no aggregate registered for " + safe(store.Category(s.Stream)) + ")"
	}
	how := fmt.Sprintf("%d events folded", s.EventsFolded)
	if s.FromSnapshot {
		how = fmt.Sprintf("snapshot at version %d + %d events", s.SnapshotVersion, s.EventsFolded)
	}
	fmt.Fprintf(w, "%s at version %d of %d  (%s; %s)\n", safe(s.Stream), s.Version, s.LastVersion, safe(kind), how)
	e := s.Event
	fmt.Fprintf(w, "event    %s  %s  recorded %s  checkpoint %s\n", safe(e.Type), e.EventID, e.RecordedAt.UTC().Format(time.RFC3339Nano), e.Checkpoint)
	if len(e.Metadata) > 2 {
		fmt.Fprintf(w, "metadata %s\n", safePreview(e.Metadata, 1<<20))
	}
	if diff {
		fmt.Fprintf(w, "\nchanges made by %s (version %d):\n", safe(e.Type), s.Version)
		if len(o.Changes) == 0 {
			fmt.Fprintln(w, "  (none: the state is unchanged)")
		}
		for _, c := range o.Changes {
			path := safe(c.Path)
			if path == "" {
				path = "(the whole state)"
			}
			switch c.Kind {
			case domain.Added:
				fmt.Fprintf(w, "  + %s: %s\n", path, safePreview(c.After, 1<<20))
			case domain.Removed:
				fmt.Fprintf(w, "  - %s: %s\n", path, safePreview(c.Before, 1<<20))
			default:
				fmt.Fprintf(w, "  ~ %s: %s -> %s\n", path, safePreview(c.Before, 1<<20), safePreview(c.After, 1<<20))
			}
		}
	}
	var pretty strings.Builder
	var v any
	if err := json.Unmarshal(s.State, &v); err == nil {
		b, _ := json.MarshalIndent(v, "", "  ")
		pretty.Write(b)
	} else {
		pretty.Write(s.State)
	}
	for _, u := range s.Undecodable {
		fmt.Fprintf(w, "not folded: version %d %s: %s\n", u.Version, safe(u.Type), u.Reason)
	}
	fmt.Fprintf(w, "\nstate:\n%s\n", textsafe.Block(pretty.String()))
	return nil
}

// parseVersionFlag parses --version: a non-negative integer.
func parseVersionFlag(s string) (int64, error) {
	t := strings.TrimSpace(s)
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return 0, fmt.Errorf("%q is out of range", s)
		}
		return 0, fmt.Errorf("%q is not a version number (a whole number >= 0)", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("%d is negative: versions start at 0", v)
	}
	return v, nil
}
