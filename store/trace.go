package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Metadata keys of the correlation convention. The domain and the seed
// write them on every event; other writers should too:
//
//   - correlationId: the conversation the event belongs to, the id of the
//     command (or event) that started it. Every event of a saga carries the
//     same one.
//   - causationId: the id of the command or event that caused this one.
//     An event caused by another event names that event's event_id; the
//     first events of a conversation name the command, which is no stored
//     event.
//   - source: who wrote it (a subscriber's name, "live", "seed"), shown by
//     traces.
//
// Both ids are indexed (migration 006), so following them costs what it returns.
const (
	CorrelationKey = "correlationId"
	CausationKey   = "causationId"
	SourceKey      = "source"
)

// EventRef names one event: by its id, or by stream and version.
type EventRef struct {
	// ID is the event id (zero when Stream is set).
	ID uuid.UUID
	// Stream and Version name the event by place.
	Stream  string
	Version int64
}

func (r EventRef) String() string {
	if r.Stream != "" {
		return r.Stream + "@" + strconv.FormatInt(r.Version, 10)
	}
	return r.ID.String()
}

// ParseEventRef parses EVENT_ID (a UUID) or STREAM@VERSION (the last "@"
// separates the version, so stream ids may contain "@").
func ParseEventRef(s string) (EventRef, error) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		stream, ver := s[:i], s[i+1:]
		if err := ValidateStreamID(stream); err != nil {
			return EventRef{}, &ValidationError{Field: "event", Index: -1, Reason: fmt.Sprintf("%q: the stream id %s", s, strings.TrimPrefix(err.Error(), "invalid stream_id: "))}
		}
		v, err := strconv.ParseInt(ver, 10, 64)
		if err != nil || v < 0 {
			return EventRef{}, &ValidationError{Field: "event", Index: -1, Reason: fmt.Sprintf("%q: %q after the @ is not a version >= 0", s, ver)}
		}
		return EventRef{Stream: stream, Version: v}, nil
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return EventRef{}, &ValidationError{Field: "event", Index: -1, Reason: fmt.Sprintf("%q is neither an event id (a UUID) nor STREAM@VERSION", s)}
	}
	return EventRef{ID: id}, nil
}

// Event reads one event by id or by stream and version; ErrNotFound when
// there is none.
func (s *Store) Event(ctx context.Context, ref EventRef) (Event, error) {
	if ref.Stream != "" {
		evs, err := s.ReadStream(ctx, ref.Stream, ReadStreamOptions{From: ref.Version, Limit: 1})
		if err != nil {
			return Event{}, err
		}
		if len(evs) == 0 || evs[0].Version != ref.Version {
			return Event{}, &NotFoundError{What: "event " + ref.String()}
		}
		return evs[0], nil
	}
	evs, err := s.eventsByID(ctx, []uuid.UUID{ref.ID})
	if err != nil {
		return Event{}, err
	}
	if len(evs) == 0 {
		return Event{}, &NotFoundError{What: "event " + ref.String()}
	}
	return evs[0], nil
}

func (s *Store) eventsByID(ctx context.Context, ids []uuid.UUID) ([]Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM eventscope.events e WHERE e.event_id = ANY($1) ORDER BY e.tx_id, e.position`, ids)
	if err != nil {
		return nil, fmt.Errorf("read events by id: %w", err)
	}
	evs, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("read events by id: %w", err)
	}
	return evs, nil
}

// TraceOptions bound a trace.
type TraceOptions struct {
	// Limit caps the events of the trace. Default 10,000.
	Limit int
	// MaxBytes caps the summed size of the events' data and metadata.
	// Default 64 MiB.
	MaxBytes int64
}

// TraceStep is one event of a trace, in tree order.
type TraceStep struct {
	Event
	// Parent is the causing event's id when that event is in the trace.
	Parent *uuid.UUID
	// Depth is 0 for a root, else the parent's depth + 1.
	Depth int
	// After is the time since the parent was recorded (nil for a root).
	// It can be negative: recorded_at is the appending transaction's start.
	After *time.Duration
	// Cause is the metadata's causationId as stored ("" when it has none).
	Cause string
	// CauseStored tells whether Cause names a stored event (a root whose
	// cause is stored lies in another correlation). False for a command id.
	CauseStored bool
	// Cycle marks a step whose causation chain loops back on itself; it is
	// shown as a root.
	Cycle bool
	// Source is the metadata's source (who wrote the event), "" when unset.
	Source string
	// Slowest marks the step with the longest After in the trace.
	Slowest bool
}

// Trace is every event of one correlation as a tree by causation.
type Trace struct {
	// CorrelationID is the conversation's id: the start event's
	// correlationId, or its own id when it has none.
	CorrelationID string
	// Start is the event the trace was asked for.
	Start uuid.UUID
	// Steps are the events depth first; siblings in global order.
	Steps []TraceStep
	// Truncated is set when Limit or MaxBytes cut the trace.
	Truncated bool
}

// Trace finds every event correlated with ref's event and arranges them as
// a tree by causation. The events are those whose correlationId equals the
// conversation's id, the event with that id (a conversation started by an
// event), and, transitively, events without a correlationId whose
// causationId names one of them (writers that set only the causation). It reads through the indexes of
// migration 006: its cost follows the size of the trace, not of the log.
func (s *Store) Trace(ctx context.Context, ref EventRef, o TraceOptions) (Trace, error) {
	if o.Limit <= 0 {
		o.Limit = 10_000
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 20
	}
	if ref.Stream == "" && ref.ID == uuid.Nil {
		return Trace{}, &ValidationError{Field: "event", Index: -1, Reason: "names no event"}
	}
	q, args := traceByID, []any{ref.ID, o.Limit + 1}
	if ref.Stream != "" {
		q, args = traceByPlace, []any{ref.Stream, ref.Version, o.Limit + 1}
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return Trace{}, fmt.Errorf("trace %s: %w", ref, err)
	}
	var (
		tr     Trace
		evs    []Event
		total  int64
		stored = map[uuid.UUID]bool{}
		found  bool
		start  Event
	)
	for rows.Next() {
		var (
			e         Event
			n         int64
			causeSeen bool
		)
		if err := rows.Scan(&e.StreamID, &e.Version, &e.Position, &e.Checkpoint.Tx, &e.EventID, &e.Type, &e.Data, &e.Metadata, &e.RecordedAt, &n, &causeSeen, &tr.Start, &tr.CorrelationID); err != nil {
			rows.Close()
			return Trace{}, fmt.Errorf("trace %s: %w", ref, err)
		}
		e.Checkpoint.Pos = e.Position
		found = true
		if causeSeen {
			if id, err := uuid.Parse(metaString(e.Metadata, CausationKey)); err == nil {
				stored[id] = true
			}
		}
		if e.EventID == tr.Start {
			start = e
		}
		if len(evs) == o.Limit || total+n > o.MaxBytes {
			tr.Truncated = true
			continue
		}
		total += n
		evs = append(evs, e)
	}
	if err := rows.Err(); err != nil {
		return Trace{}, fmt.Errorf("trace %s: %w", ref, err)
	}
	if !found {
		return Trace{}, fmt.Errorf("trace: %w", &NotFoundError{What: "event " + ref.String()})
	}
	if !slices.ContainsFunc(evs, func(e Event) bool { return e.EventID == tr.Start }) {
		// cut by the bounds: the asked-for event always shows
		if start.EventID != tr.Start {
			if start, err = s.Event(ctx, EventRef{ID: tr.Start}); err != nil {
				return Trace{}, fmt.Errorf("trace %s: %w", ref, err)
			}
		}
		evs = append(evs, start)
		slices.SortFunc(evs, func(a, b Event) int { return a.Checkpoint.Compare(b.Checkpoint) })
	}
	in := make(map[uuid.UUID]bool, len(evs))
	for _, e := range evs {
		in[e.EventID] = true
	}
	tr.Steps = arrange(evs, in, stored)
	return tr, nil
}

// The trace's SQL, by event id ($1) or by stream ($1) and version ($2);
// the next parameter is the limit.
var (
	traceByID    = traceSQL(`e.event_id = $1`, 2)
	traceByPlace = traceSQL(`e.stream_id = $1 AND e.version = $2`, 3)
)

// traceSQL is one round trip: the start event (s), its conversation (t:
// the correlation's events, the start event, the event the correlation id
// names when it is one, and the events without a correlation id they
// caused, transitively; UNION ends causation cycles), and for each event whether its cause is stored. The
// causation step is a LATERAL subquery with a LIMIT so that it stays a
// nested loop over the causation index whatever the estimates say.
func traceSQL(start string, limitParam int) string {
	return fmt.Sprintf(`WITH RECURSIVE s AS (
		SELECT e.event_id, coalesce(e.metadata->>'correlationId', e.event_id::text) AS corr,
		       e.metadata ? 'correlationId' AS has_corr
		  FROM eventscope.events e WHERE %[1]s),
	t AS (
		SELECT %[2]s, %[6]s AS bytes
		  FROM s, eventscope.events e
		 WHERE e.metadata ? 'correlationId' AND e.metadata->>'correlationId' = s.corr
		UNION
		SELECT %[2]s, %[6]s
		  FROM s, eventscope.events e
		 WHERE NOT s.has_corr AND e.event_id = s.event_id
		UNION
		SELECT %[2]s, %[6]s
		  FROM s, eventscope.events e
		 WHERE e.event_id = %[3]s
		UNION
		SELECT c.* FROM t, LATERAL (
			SELECT %[2]s, %[6]s
			  FROM eventscope.events e
			 WHERE e.metadata ? 'causationId' AND NOT e.metadata ? 'correlationId'
			   AND e.metadata->>'causationId' = t.event_id::text
			 LIMIT $%[4]d) c
	)
	SELECT d.*, coalesce(d.metadata->>'causationId' IN (SELECT event_id::text FROM t), false)
	            OR EXISTS (SELECT 1 FROM eventscope.events c WHERE c.event_id = %[5]s), s.event_id, s.corr
	  FROM (SELECT * FROM t LIMIT $%[4]d) d, s
	 ORDER BY d.tx_id, d.position`, start, eventColumns, uuidOrNull("s.corr"), limitParam, uuidOrNull("d.metadata->>'causationId'"), storedSize)
}

// uuidOrNull is SQL that casts the text expression x to uuid, or gives NULL
// when x is not a UUID (a causation id may be any string).
func uuidOrNull(x string) string {
	return `(CASE WHEN ` + x + ` ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' THEN (` + x + `)::uuid END)`
}

// arrange orders events (in global order) depth first by causation.
func arrange(evs []Event, in, stored map[uuid.UUID]bool) []TraceStep {
	byID := make(map[uuid.UUID]int, len(evs))
	children := make(map[uuid.UUID][]int, len(evs))
	causes := make([]string, len(evs))
	parents := make([]*uuid.UUID, len(evs))
	for i, e := range evs {
		byID[e.EventID] = i
		causes[i] = metaString(e.Metadata, CausationKey)
		if id, err := uuid.Parse(causes[i]); err == nil && in[id] && id != e.EventID {
			parents[i] = &id
			children[id] = append(children[id], i)
		}
	}
	steps := make([]TraceStep, 0, len(evs))
	seen := make([]bool, len(evs))
	var walk func(i, depth int, parent *uuid.UUID, cycle bool)
	walk = func(i, depth int, parent *uuid.UUID, cycle bool) {
		seen[i] = true
		e := evs[i]
		st := TraceStep{Event: e, Parent: parent, Depth: depth, Cause: causes[i], Cycle: cycle, Source: metaString(e.Metadata, SourceKey)}
		if parent != nil {
			d := e.RecordedAt.Sub(evs[byID[*parent]].RecordedAt)
			st.After = &d
			st.CauseStored = true
		} else if id, err := uuid.Parse(causes[i]); err == nil {
			st.CauseStored = in[id] || stored[id]
		}
		steps = append(steps, st)
		for _, c := range children[e.EventID] {
			if !seen[c] {
				walk(c, depth+1, &evs[i].EventID, false)
			}
		}
	}
	for i := range evs {
		if parents[i] == nil && !seen[i] {
			walk(i, 0, nil, false)
		}
	}
	// What is left sits on a causation cycle: the earliest event of each
	// becomes a root.
	for i := range evs {
		if !seen[i] {
			walk(i, 0, nil, true)
		}
	}
	slowest := -1
	for i, st := range steps {
		if st.After != nil && (slowest < 0 || *st.After > *steps[slowest].After) {
			slowest = i
		}
	}
	if slowest >= 0 {
		steps[slowest].Slowest = true
	}
	return steps
}

// Correlated lists the events whose metadata correlationId is id, in
// global order, at most limit (default 1,000), through the index.
func (s *Store) Correlated(ctx context.Context, id string, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM eventscope.events e
		WHERE e.metadata ? 'correlationId' AND e.metadata->>'correlationId' = $1
		ORDER BY e.tx_id, e.position LIMIT $2`, id, limit)
	if err != nil {
		return nil, fmt.Errorf("correlated events of %s: %w", id, err)
	}
	evs, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("correlated events of %s: %w", id, err)
	}
	return evs, nil
}

// metaString is a top-level string of a metadata object ("" when missing,
// not a string, or the metadata is not an object).
func metaString(md []byte, key string) string {
	v, ok := topLevelString(md, key)
	if !ok {
		return ""
	}
	return v
}

func topLevelString(md []byte, key string) (string, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(md, &m) != nil {
		return "", false
	}
	var v string
	if json.Unmarshal(m[key], &v) != nil {
		return "", false
	}
	return v, true
}
