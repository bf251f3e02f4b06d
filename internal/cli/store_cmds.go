package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"eventscope/store"
	"eventscope/subscriptions"
	"eventscope/tui/common"
)

func init() {
	commandFactories = append(commandFactories, newMigrateCmd, newAppendCmd, newReadCmd, newStreamsCmd, newStatsCmd, newCloseCmd)
}

// openStore resolves the database (--db, DATABASE_URL, else the embedded
// server), connects and migrates the schema if it is behind.
func (g *globals) openStore(ctx context.Context) (*store.Store, error) {
	url, err := g.resolveURL(ctx)
	if err != nil {
		return nil, err
	}
	return store.Open(ctx, url, store.Options{})
}

func newMigrateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the schema migrations (other commands do it automatically)",
		Args:  wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			url, err := g.resolveURL(cmd.Context())
			if err != nil {
				return err
			}
			st, err := store.Open(cmd.Context(), url, store.Options{NoMigrate: true})
			if err != nil {
				return err
			}
			defer st.Close()
			applied, err := store.Migrate(cmd.Context(), st.Pool())
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintf(g.out, "schema is up to date (version %d)\n", store.Latest())
				return nil
			}
			for _, v := range applied {
				fmt.Fprintf(g.out, "applied migration %03d\n", v)
			}
			return nil
		},
	}
}

func newAppendCmd(g *globals) *cobra.Command {
	var (
		expected, id, metadata, batch string
		asJSON                        bool
	)
	cmd := &cobra.Command{
		Use:   "append STREAM [TYPE [DATA]]",
		Short: "Append events to a stream",
		Long: `Append one event (TYPE and DATA, a JSON object; DATA "-" reads stdin), or a
batch of events from --batch FILE (NDJSON, one {"id"?,"type","data","metadata"?}
per line; "-" is stdin), atomically. Prints the stream's new version.

Exit codes: 2 bad input, 3 expected-version conflict, 5 stream closed.`,
		Example: `  eventscope append order-1 OrderPlaced '{"total":10}'
  eventscope append order-1 OrderShipped '{}' --expected-version 0
  eventscope append order-2 --batch events.ndjson --expected-version no-stream`,
		Args: wrapArgs(cobra.RangeArgs(1, 3)),
		RunE: func(cmd *cobra.Command, args []string) error {
			stream := args[0]
			if err := store.ValidateStreamID(stream); err != nil {
				return err
			}
			exp, err := store.ParseExpectedVersion(expected)
			if err != nil {
				return err
			}
			var events []store.NewEvent
			switch {
			case batch != "":
				if len(args) > 1 {
					return Usagef("append: give either TYPE [DATA] or --batch, not both")
				}
				if id != "" || metadata != "" {
					return Usagef("append: --id and --metadata go inside --batch lines")
				}
				events, err = readBatch(batch, g.in)
				if err != nil {
					return err
				}
			case len(args) < 2:
				return Usagef("append: missing TYPE (or --batch FILE)")
			default:
				ev := store.NewEvent{Type: args[1], Data: json.RawMessage(`{}`)}
				if len(args) == 3 {
					data := args[2]
					if data == "-" {
						b, err := io.ReadAll(g.in)
						if err != nil {
							return fmt.Errorf("read DATA from stdin: %w", err)
						}
						data = string(b)
					}
					ev.Data = json.RawMessage(strings.TrimSpace(data))
				}
				if id != "" {
					if ev.ID, err = uuid.Parse(id); err != nil {
						return Usagef("--id %q is not a UUID", id)
					}
				}
				if metadata != "" {
					ev.Metadata = json.RawMessage(metadata)
				}
				events = []store.NewEvent{ev}
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			v, err := st.Append(cmd.Context(), stream, exp, events...)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(g.out).Encode(map[string]any{"stream_id": stream, "version": v})
			}
			fmt.Fprintln(g.out, v)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&expected, "expected-version", "any", "any, no-stream, exists, or the exact version of the stream's last event")
	f.StringVar(&id, "id", "", "the event's id (a UUID; default: generated). Re-appending the same id and content is a no-op")
	f.StringVar(&metadata, "metadata", "", "the event's metadata, a JSON object")
	f.StringVar(&batch, "batch", "", "append the NDJSON events in FILE (- for stdin) atomically")
	f.BoolVar(&asJSON, "json", false, "print {\"stream_id\",\"version\"}")
	return cmd
}

// readBatch reads NDJSON events; errors name the line.
func readBatch(name string, stdin io.Reader) ([]store.NewEvent, error) {
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, Usagef("--batch: %v", err)
		}
		defer f.Close()
		r = f
	}
	return ParseBatch(r)
}

// ParseBatch decodes NDJSON events ({"id"?,"type","data","metadata"?} per
// line; blank lines are skipped). Errors name the line and the field.
func ParseBatch(r io.Reader) ([]store.NewEvent, error) {
	var events []store.NewEvent
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var raw struct {
			ID       *string         `json:"id"`
			Type     *string         `json:"type"`
			Data     json.RawMessage `json:"data"`
			Metadata json.RawMessage `json:"metadata"`
		}
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&raw); err != nil {
			return nil, Usagef("--batch line %d: %v", line, err)
		}
		if dec.More() {
			return nil, Usagef("--batch line %d: more than one JSON value on the line", line)
		}
		ev := store.NewEvent{Data: raw.Data, Metadata: raw.Metadata}
		if raw.Type == nil || *raw.Type == "" {
			return nil, Usagef("--batch line %d: \"type\" is missing or empty", line)
		}
		ev.Type = *raw.Type
		if len(raw.Data) == 0 || string(raw.Data) == "null" {
			return nil, Usagef("--batch line %d: \"data\" is missing (a JSON object)", line)
		}
		if raw.ID != nil && *raw.ID != "" {
			id, err := uuid.Parse(*raw.ID)
			if err != nil {
				return nil, Usagef("--batch line %d: \"id\" %q is not a UUID", line, *raw.ID)
			}
			ev.ID = id
		}
		events = append(events, ev)
	}
	if err := sc.Err(); err != nil {
		return nil, Usagef("--batch line %d: %v", line+1, err)
	}
	if len(events) == 0 {
		return nil, Usagef("--batch: no events in the input")
	}
	return events, nil
}

func newReadCmd(g *globals) *cobra.Command {
	var (
		from     int64
		after    string
		backward bool
		all      bool
		limit    int
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "read (STREAM | --all)",
		Short: "Read a stream's events, or the global log after a checkpoint",
		Example: `  eventscope read order-1 --json
  eventscope read order-1 --backward --limit 5
  eventscope read --all --after 7731:120455 --limit 100 --json`,
		Args: wrapArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit <= 0 {
				return Usagef("--limit must be > 0, got %d", limit)
			}
			if all == (len(args) == 1) {
				return Usagef("read: give a STREAM or --all")
			}
			var afterCP store.Checkpoint
			if after != "" {
				if !all {
					return Usagef("--after goes with --all (streams take --from)")
				}
				var err error
				if afterCP, err = store.ParseCheckpoint(after); err != nil {
					return err
				}
			}
			if all && (cmd.Flags().Changed("from") || backward) {
				return Usagef("--from and --backward go with a STREAM (--all takes --after)")
			}
			if !all {
				if err := store.ValidateStreamID(args[0]); err != nil {
					return err
				}
				if from < 0 && !backward {
					return Usagef("--from must be >= 0, got %d", from)
				}
			}
			_, st, closeStores, err := g.openStores(cmd.Context()) // --read-db: read from the standby
			if err != nil {
				return err
			}
			defer closeStores()
			var events []store.Event
			if all {
				page, err := st.ReadAll(cmd.Context(), afterCP, store.ReadAllOptions{Limit: limit})
				if err != nil {
					return err
				}
				events = page.Events
			} else {
				o := store.ReadStreamOptions{From: from, Backward: backward, Limit: limit}
				if backward && !cmd.Flags().Changed("from") {
					o.FromEnd = true
				}
				if events, err = st.ReadStream(cmd.Context(), args[0], o); err != nil {
					return err
				}
			}
			return printEvents(g.out, events, asJSON, all)
		},
	}
	f := cmd.Flags()
	f.Int64Var(&from, "from", 0, "first version to read (backward: last version; default the end)")
	f.BoolVar(&backward, "backward", false, "read from the end (or --from) towards version 0")
	f.BoolVar(&all, "all", false, "read the global log instead of a stream")
	f.StringVar(&after, "after", "", "with --all: the checkpoint to read after (TX:POS); default the start")
	f.IntVar(&limit, "limit", 100, "at most this many events")
	f.BoolVar(&asJSON, "json", false, "NDJSON: one object per event")
	return cmd
}

// printEvents prints events as NDJSON or as a table.
func printEvents(w io.Writer, events []store.Event, asJSON, withStream bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, e := range events {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if withStream {
		fmt.Fprintln(tw, "CHECKPOINT\tSTREAM\tVERSION\tTYPE\tRECORDED\tDATA")
	} else {
		fmt.Fprintln(tw, "VERSION\tTYPE\tRECORDED\tCHECKPOINT\tDATA")
	}
	for _, e := range events {
		data := common.Preview(e.Data, 60)
		ts := e.RecordedAt.Local().Format("2006-01-02 15:04:05.000")
		if withStream {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", e.Checkpoint, e.StreamID, e.Version, e.Type, ts, data)
		} else {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.Version, e.Type, ts, e.Checkpoint, data)
		}
	}
	return tw.Flush()
}

func newStreamsCmd(g *globals) *cobra.Command {
	var (
		prefix, category, after, order string
		limit                          int
		asJSON                         bool
	)
	cmd := &cobra.Command{
		Use:   "streams",
		Short: "List streams (keyset-paged)",
		Args:  wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit <= 0 {
				return Usagef("--limit must be > 0, got %d", limit)
			}
			o := store.ListStreamsOptions{Prefix: prefix, Category: category, After: after, Limit: limit}
			switch order {
			case "id":
			case "updated":
				o.Order = store.ByUpdated
			default:
				return Usagef("--order must be id or updated, got %q", order)
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			list, err := st.ListStreams(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(g.out)
				for _, s := range list.Streams {
					if err := enc.Encode(s); err != nil {
						return err
					}
				}
			} else {
				tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "STREAM\tCATEGORY\tVERSION\tEVENTS\tUPDATED\tCLOSED")
				for _, s := range list.Streams {
					closed := ""
					if s.Closed() {
						closed = "closed"
					}
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", s.StreamID, s.Category, s.Version, s.EventCount, s.UpdatedAt.Local().Format("2006-01-02 15:04:05"), closed)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			if list.Next != "" {
				fmt.Fprintf(g.errw, "more: --after %q\n", list.Next)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&prefix, "prefix", "", "only stream ids starting with P")
	f.StringVar(&category, "category", "", "only streams of category C")
	f.StringVar(&after, "after", "", "the cursor printed by the previous page")
	f.StringVar(&order, "order", "id", "id, or updated (newest first)")
	f.IntVar(&limit, "limit", 100, "at most this many streams")
	f.BoolVar(&asJSON, "json", false, "NDJSON: one object per stream")
	return cmd
}

func newStatsCmd(g *globals) *cobra.Command {
	var asJSON, types bool
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Counts, the head checkpoint, and what holds the global log back",
		Args:  wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			s, err := st.Stats(cmd.Context(), store.StatsOptions{Types: types || asJSON})
			if err != nil {
				return err
			}
			replica, err := g.replicaStatus(cmd.Context(), st)
			if err != nil {
				return err
			}
			if asJSON {
				if replica != nil {
					return json.NewEncoder(g.out).Encode(struct {
						store.Stats
						Replica *subscriptions.ReplicaStatus `json:"replica"`
					}{s, replica})
				}
				return json.NewEncoder(g.out).Encode(s)
			}
			fmt.Fprintf(g.out, "events      %d\nstreams     %d\ncategories  %d\nhead        %s\nserver      PostgreSQL %s\n",
				s.Events, s.Streams, len(s.Categories), s.Head, s.ServerVersion)
			if replica != nil {
				fmt.Fprintf(g.out, "read db     %s\n", replica)
			}
			if s.Blocker != nil {
				b := s.Blocker
				fmt.Fprintf(g.out, "held back   %d committed events wait for pid %d (%s, open %s): %s\n",
					s.Pending, b.PID, b.State, b.Age.Round(time.Millisecond), oneLine(b.Query, 80))
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "\nCATEGORY\tSTREAMS\tEVENTS")
			for _, c := range s.Categories {
				fmt.Fprintf(tw, "%s\t%d\t%d\n", c.Category, c.Streams, c.Events)
			}
			if len(s.Types) > 0 {
				fmt.Fprintln(tw, "\nTYPE\tEVENTS\t")
				for _, t := range s.Types {
					fmt.Fprintf(tw, "%s\t%d\t\n", t.Type, t.Events)
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object (with event types)")
	cmd.Flags().BoolVar(&types, "types", false, "count events per type (scans every event)")
	return cmd
}

// oneLine collapses whitespace and cuts s to n cells (never inside a
// character).
func oneLine(s string, n int) string {
	return common.Truncate(strings.Join(strings.Fields(s), " "), n)
}

func newCloseCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "close STREAM",
		Short: "Close (tombstone) a stream: it stays readable, further appends fail",
		Args:  wrapArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := store.ValidateStreamID(args[0]); err != nil {
				return err
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.CloseStream(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "closed %s\n", args[0])
			return nil
		},
	}
}
