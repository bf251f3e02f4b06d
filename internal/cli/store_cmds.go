package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"eventscope/internal/textsafe"
	"eventscope/store"
	"eventscope/subscriptions"
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

// openStoreReadOnly is openStore for read-only use: it writes nothing, so a
// missing or old schema is an error naming eventscope migrate
// (store.ErrSchemaBehind) instead of being migrated.
func (g *globals) openStoreReadOnly(ctx context.Context) (*store.Store, error) {
	url, err := g.resolveURL(ctx)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, url, store.Options{NoMigrate: true})
	if err != nil {
		return nil, err
	}
	if err := store.CheckSchema(ctx, st.Pool()); err != nil {
		st.Close()
		return nil, err
	}
	if err := store.CheckLogOrder(ctx, st.Pool()); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
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
			for _, v := range applied {
				fmt.Fprintf(g.out, "applied migration %03d\n", v)
			}
			// A log restored from another cluster is renumbered here.
			n, err := store.RepairLog(cmd.Context(), st.Pool())
			if err != nil {
				return err
			}
			if n > 0 {
				fmt.Fprintf(g.out, "renumbered the restored global log: %d events, order kept; subscriptions' checkpoints and parked events remapped\n", n)
			}
			if len(applied) == 0 && n == 0 {
				fmt.Fprintf(g.out, "schema is up to date (version %d)\n", store.Latest())
			}
			return nil
		},
	}
}

func newAppendCmd(g *globals) *cobra.Command {
	var (
		expected, id, metadata, batch, multi string
		personal                             string
		asJSON                               bool
	)
	cmd := &cobra.Command{
		Use:   "append STREAM [TYPE [DATA]] | append --multi FILE",
		Short: "Append events to a stream",
		Long: `Append one event (TYPE and DATA, a JSON object; DATA "-" reads stdin), or a
batch of events from --batch FILE (NDJSON, one {"id"?,"type","data","metadata"?,
"personal"?} per line; "-" is stdin), atomically. Prints the stream's new version.

--personal SUBJECT:FIELD[,FIELD...] marks fields of DATA as SUBJECT's
personal data (a FIELD is a key of DATA, or a dotted path into nested
objects): they are stored encrypted under the subject's key and read as
null after "eventscope forget SUBJECT". In --batch and --multi lines the
event's "personal": {"subject": ..., "fields": ["name", ["address","street"]]}
does the same.

--multi FILE ("-" is stdin) appends to several streams atomically, in one
round trip: NDJSON, one {"stream_id","expected_version"?,"events"} per line
(expected_version null/absent for any, -1 no stream, -2 stream exists, or N;
events as in --batch). All or nothing; prints "STREAM VERSION" per line, in
input order. The same stream may appear twice (applied in order).

Exit codes: 2 bad input, 3 expected-version conflict, 5 stream closed.`,
		Example: `  eventscope append order-1 OrderPlaced '{"total":10}'
  eventscope append order-1 OrderShipped '{}' --expected-version 0
  eventscope append customer-7 CustomerRegistered '{"name":"Ann","creditLimit":500}' --personal customer-7:name
  eventscope append order-2 --batch events.ndjson --expected-version no-stream
  eventscope append --multi appends.ndjson`,
		Args: wrapArgs(cobra.RangeArgs(0, 3)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if multi != "" {
				if len(args) > 0 || batch != "" || id != "" || metadata != "" || personal != "" || cmd.Flags().Changed("expected-version") {
					return Usagef("append: --multi takes no STREAM, TYPE or DATA, and no --batch, --id, --metadata, --personal or --expected-version (they go inside its lines)")
				}
				return appendMulti(cmd.Context(), g, multi, asJSON)
			}
			if len(args) == 0 {
				return Usagef("append: missing STREAM (or --multi FILE)")
			}
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
				if id != "" || metadata != "" || personal != "" {
					return Usagef("append: --id, --metadata and --personal go inside --batch lines")
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
				if why := checkText(args[1]); why != "" {
					return Usagef("TYPE %s", why)
				}
				if why := checkJSONText(ev.Data); why != "" {
					return Usagef("DATA %s", why)
				}
				if why := checkJSONText([]byte(metadata)); why != "" {
					return Usagef("--metadata %s", why)
				}
				if id != "" {
					if ev.ID, err = uuid.Parse(id); err != nil {
						return Usagef("--id %q is not a UUID", id)
					}
				}
				if metadata != "" {
					ev.Metadata = json.RawMessage(metadata)
				}
				if personal != "" {
					if ev.Personal, err = parsePersonal(personal); err != nil {
						return err
					}
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
	f.StringVar(&personal, "personal", "", "SUBJECT:FIELD[,FIELD...]: mark fields of DATA (keys, or dotted paths) as SUBJECT's personal data")
	f.StringVar(&batch, "batch", "", "append the NDJSON events in FILE (- for stdin) atomically")
	f.StringVar(&multi, "multi", "", "append to several streams atomically: NDJSON {\"stream_id\",\"expected_version\",\"events\"} lines in FILE (- for stdin)")
	f.BoolVar(&asJSON, "json", false, "print {\"stream_id\",\"version\"}")
	return cmd
}

func appendMulti(ctx context.Context, g *globals, name string, asJSON bool) error {
	var r io.Reader = g.in
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return Usagef("--multi: %v", err)
		}
		defer f.Close()
		r = f
	}
	appends, lines, err := ParseMulti(r)
	if err != nil {
		return err
	}
	st, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	vs, err := st.AppendMulti(ctx, appends)
	if err != nil {
		var me *store.MultiError
		if errors.As(err, &me) {
			return fmt.Errorf("--multi line %d: %w", lines[me.Index], err)
		}
		return err
	}
	type row struct {
		Stream  string `json:"stream_id"`
		Version int64  `json:"version"`
	}
	rows := make([]row, len(vs))
	for i, v := range vs {
		rows[i] = row{appends[i].Stream, v}
	}
	if asJSON {
		return json.NewEncoder(g.out).Encode(rows)
	}
	for _, r := range rows {
		fmt.Fprintln(g.out, textsafe.Line(r.Stream), r.Version)
	}
	return nil
}

// ParseMulti decodes NDJSON appends ({"stream_id","expected_version"?,
// "events"} per line; blank lines skipped) and the line of each append.
// Errors name the line.
func ParseMulti(r io.Reader) ([]store.StreamAppend, []int, error) {
	var (
		appends []store.StreamAppend
		lines   []int
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var a store.StreamAppend
		dec := json.NewDecoder(strings.NewReader(text))
		if err := dec.Decode(&a); err != nil {
			return nil, nil, Usagef("--multi line %d: %v", line, err)
		}
		if dec.More() {
			return nil, nil, Usagef("--multi line %d: more than one JSON value on the line", line)
		}
		if err := store.ValidateStreamID(a.Stream); err != nil {
			return nil, nil, Usagef("--multi line %d: %v", line, err)
		}
		if len(a.Events) == 0 {
			return nil, nil, Usagef("--multi line %d: \"events\" is missing or empty", line)
		}
		for i, e := range a.Events {
			if e.Type == "" {
				return nil, nil, Usagef("--multi line %d: events[%d].type is missing or empty", line, i)
			}
			if len(e.Data) == 0 || string(e.Data) == "null" {
				return nil, nil, Usagef("--multi line %d: events[%d].data is missing (a JSON object)", line, i)
			}
		}
		appends = append(appends, a)
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, Usagef("--multi line %d: %v", line+1, err)
	}
	if len(appends) == 0 {
		return nil, nil, Usagef("--multi: no appends in the input")
	}
	return appends, lines, nil
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
		// Fields stay raw until checked: decoding into a string would turn
		// bytes that are not UTF-8 into U+FFFD and hide them.
		var raw struct {
			ID       json.RawMessage `json:"id"`
			Type     json.RawMessage `json:"type"`
			Data     json.RawMessage `json:"data"`
			Metadata json.RawMessage `json:"metadata"`
			Personal json.RawMessage `json:"personal"`
		}
		dec := json.NewDecoder(strings.NewReader(text))
		// The SQL API refuses unknown event fields too: a misspelt
		// "metdata" must not be dropped silently by either door.
		dec.DisallowUnknownFields()
		if err := dec.Decode(&raw); err != nil {
			if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
				return nil, Usagef("--batch line %d: unknown field %s (an event has id, type, data, metadata and personal)", line, f)
			}
			return nil, Usagef("--batch line %d: %v", line, err)
		}
		if dec.More() {
			return nil, Usagef("--batch line %d: more than one JSON value on the line", line)
		}
		for _, f := range []struct {
			name string
			b    []byte
		}{{"id", raw.ID}, {"type", raw.Type}, {"data", raw.Data}, {"metadata", raw.Metadata}, {"personal", raw.Personal}} {
			if why := checkJSONText(f.b); why != "" {
				return nil, Usagef("--batch line %d: %q %s", line, f.name, why)
			}
		}
		if why := checkJSONText([]byte(text)); why != "" {
			return nil, Usagef("--batch line %d: %s", line, why)
		}
		ev := store.NewEvent{Data: raw.Data, Metadata: raw.Metadata}
		var typ, id *string
		if err := json.Unmarshal(orNull(raw.Type), &typ); err != nil {
			return nil, Usagef("--batch line %d: \"type\" must be a string", line)
		}
		if err := json.Unmarshal(orNull(raw.ID), &id); err != nil {
			return nil, Usagef("--batch line %d: \"id\" must be a UUID string", line)
		}
		if typ == nil || *typ == "" {
			return nil, Usagef("--batch line %d: \"type\" is missing or empty", line)
		}
		ev.Type = *typ
		if len(raw.Data) == 0 || string(raw.Data) == "null" {
			return nil, Usagef("--batch line %d: \"data\" is missing (a JSON object)", line)
		}
		if id != nil && *id != "" {
			u, err := uuid.Parse(*id)
			if err != nil {
				return nil, Usagef("--batch line %d: \"id\" %q is not a UUID", line, *id)
			}
			ev.ID = u
		}
		if len(raw.Personal) > 0 && string(raw.Personal) != "null" {
			var p store.Personal
			if err := json.Unmarshal(raw.Personal, &p); err != nil {
				return nil, Usagef("--batch line %d: \"personal\" must be {\"subject\": ..., \"fields\": [...]}: %v", line, err)
			}
			ev.Personal = &p
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

// orNull is b, or the JSON null when a field was absent.
func orNull(b json.RawMessage) []byte {
	if len(b) == 0 {
		return []byte("null")
	}
	return b
}

func newReadCmd(g *globals) *cobra.Command {
	var (
		from     int64
		after    string
		backward bool
		all      bool
		limit    int
		asJSON   bool
		cats     []string
		types    []string
	)
	cmd := &cobra.Command{
		Use:   "read (STREAM | --all [--category C]... [--type T]...)",
		Short: "Read a stream's events, or the global log after a checkpoint",
		Example: `  eventscope read order-1 --json
  eventscope read order-1 --backward --limit 5
  eventscope read --all --after 7731:120455 --limit 100 --json
  eventscope read --all --category order --type OrderShipped --limit 1000`,
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
			if !all && (len(cats) > 0 || len(types) > 0) {
				return Usagef("--category and --type go with --all")
			}
			if err := checkFilters(cats, types); err != nil {
				return err
			}
			if !all {
				if err := checkReadStream(args[0]); err != nil {
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
			if all {
				return streamAll(cmd.Context(), g.out, st, afterCP, limit, store.ReadAllOptions{Categories: cats, Types: types}, asJSON)
			}
			o := store.ReadStreamOptions{From: from, Backward: backward, Limit: limit}
			if backward && !cmd.Flags().Changed("from") {
				o.FromEnd = true
			}
			events, err := st.ReadStream(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			return printEvents(g.out, events, asJSON, false)
		},
	}
	f := cmd.Flags()
	f.Int64Var(&from, "from", 0, "first version to read (backward: last version; default the end)")
	f.BoolVar(&backward, "backward", false, "read from the end (or --from) towards version 0")
	f.BoolVar(&all, "all", false, "read the global log instead of a stream")
	f.StringVar(&after, "after", "", "with --all: the checkpoint to read after (TX:POS); default the start")
	f.IntVar(&limit, "limit", 100, "at most this many events")
	f.StringArrayVar(&cats, "category", nil, "with --all: only this category's events (repeatable; the part of the stream id before the first \"-\")")
	f.StringArrayVar(&types, "type", nil, "with --all: only events of this type (repeatable)")
	f.BoolVar(&asJSON, "json", false, "NDJSON: one object per event")
	return cmd
}

// printEvents prints events as NDJSON or as a table.
func printEvents(w io.Writer, events []store.Event, asJSON, withStream bool) error {
	if asJSON {
		enc := newJSONEncoder(w)
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
		data := safePreview(e.Data, 60)
		ts := e.RecordedAt.Local().Format("2006-01-02 15:04:05.000")
		if withStream {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", e.Checkpoint, safe(e.StreamID), e.Version, safe(e.Type), ts, data)
		} else {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.Version, safe(e.Type), ts, e.Checkpoint, data)
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
			if limit <= 0 || limit > maxListLimit {
				return Usagef("--limit must be between 1 and %d, got %d (page on with --after)", maxListLimit, limit)
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
				enc := newJSONEncoder(g.out)
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
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", safe(s.StreamID), safe(s.Category), s.Version, s.EventCount, s.UpdatedAt.Local().Format("2006-01-02 15:04:05"), closed)
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
	var asJSON, types, fullQuery bool
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
			s, err := st.Stats(cmd.Context(), store.StatsOptions{Types: types || asJSON, FullQuery: fullQuery})
			if err != nil {
				return err
			}
			replica, err := g.replicaStatus(cmd.Context(), st)
			if err != nil {
				return err
			}
			if asJSON {
				if replica != nil {
					return newJSONEncoder(g.out).Encode(struct {
						store.Stats
						Replica *subscriptions.ReplicaStatus `json:"replica"`
					}{s, replica})
				}
				return newJSONEncoder(g.out).Encode(s)
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
				fmt.Fprintf(tw, "%s\t%d\t%d\n", safe(c.Category), c.Streams, c.Events)
			}
			if len(s.Types) > 0 {
				fmt.Fprintln(tw, "\nTYPE\tEVENTS\t")
				for _, t := range s.Types {
					fmt.Fprintf(tw, "%s\t%d\t\n", safe(t.Type), t.Events)
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object (with event types)")
	cmd.Flags().BoolVar(&types, "types", false, "count events per type (scans every event)")
	cmd.Flags().BoolVar(&fullQuery, "full-query", false, "show the holding-back session's query with its literals (default: its shape, literals as ?)")
	return cmd
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
