package domain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"eventscope/store"
)

// DefaultSnapshotEvery is the default snapshot interval: a snapshot after
// every 100th event of a registered aggregate's stream, so reaching any
// version reads at most 100 events after one snapshot.
const DefaultSnapshotEvery = 100

// GenericAggregate is State.Aggregate for streams without a registered aggregate.
const GenericAggregate = "generic"

// State is a stream's state after the event at Version.
type State struct {
	Stream      string `json:"stream"`
	Version     int64  `json:"version"`
	LastVersion int64  `json:"last_version"`
	// Aggregate is the registered aggregate's name, or "generic".
	Aggregate string `json:"aggregate"`
	// Generic is true when no aggregate is registered for the stream's
	// category: the state is each event's data merged in as a JSON merge
	// patch (RFC 7396), starting from {}.
	Generic bool `json:"generic"`
	// State is the state after the event at Version, as JSON.
	State json.RawMessage `json:"state"`
	// Event is the event that produced it.
	Event store.Event `json:"event"`
	// FromSnapshot is true when the fold started from a snapshot.
	FromSnapshot bool `json:"from_snapshot"`
	// SnapshotVersion is the version of that snapshot (-1 when none).
	SnapshotVersion int64 `json:"snapshot_version"`
	// EventsFolded counts the events read and applied.
	EventsFolded int `json:"events_folded"`
	// Undecodable lists the events whose data Go cannot decode (JSON nested
	// deeper than 10,000 levels, stored before the SQL API refused it): the
	// fold passes over them, leaving the state as it was, and goes on.
	Undecodable []UndecodableEvent `json:"undecodable,omitempty"`
}

// UndecodableEvent is an event a fold passed over: its data cannot be
// decoded.
type UndecodableEvent struct {
	Version int64  `json:"version"`
	Type    string `json:"type"`
	Reason  string `json:"reason"`
}

// undecodable reports whether err is the JSON decoder refusing an event's
// data (valid JSON to PostgreSQL, so too deep or otherwise beyond Go's
// decoder) rather than an aggregate's error, and says why.
func undecodable(err error) (string, bool) {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return "", false
	}
	if strings.Contains(se.Error(), "exceeded max depth") {
		return "its data is nested deeper than Go's JSON decoder reads (10,000 levels)", true
	}
	return "its data cannot be decoded: " + se.Error(), true
}

// VersionError: the stream has no event at the version asked for.
type VersionError struct {
	Stream      string
	Version     int64
	LastVersion int64
}

func (e *VersionError) Error() string {
	if e.Version < 0 {
		return fmt.Sprintf("stream %s: version must be >= 0, got %d (the last version is %d)", e.Stream, e.Version, e.LastVersion)
	}
	return fmt.Sprintf("stream %s has no version %d: the last version is %d", e.Stream, e.Version, e.LastVersion)
}

// Is makes errors.Is(err, store.ErrInvalid) true: the version was bad input.
func (e *VersionError) Is(target error) bool { return target == store.ErrInvalid }

// TimeError: the stream has no event recorded at or before the time asked for.
type TimeError struct {
	Stream string
	At     time.Time
	First  time.Time
}

func (e *TimeError) Error() string {
	return fmt.Sprintf("stream %s has no event recorded at or before %s: its first event was recorded at %s",
		e.Stream, e.At.Format(time.RFC3339Nano), e.First.Format(time.RFC3339Nano))
}

// Is makes errors.Is(err, store.ErrInvalid) true.
func (e *TimeError) Is(target error) bool { return target == store.ErrInvalid }

// TimeTravelOptions configure a TimeTravel. The zero value is usable.
type TimeTravelOptions struct {
	// SnapshotEvery is the snapshot interval in events. Default 100
	// (DefaultSnapshotEvery). Negative turns snapshots off: none is read or
	// written.
	SnapshotEvery int
	// NoLazySnapshots stops StateAt from writing the snapshots it passes when
	// it has to fold across interval boundaries that have none (a stream
	// written by another tool, or after a schema-version change). Default
	// false: it writes them, so the next visit is fast. Write errors (a
	// read-only role) are ignored.
	NoLazySnapshots bool
}

// TimeTravel rebuilds any stream's state at any version or time.
type TimeTravel struct {
	st  *store.Store
	reg *Registry
	o   TimeTravelOptions
}

// NewTimeTravel returns a TimeTravel over st with the aggregates of reg
// (DefaultRegistry when nil).
func NewTimeTravel(st *store.Store, reg *Registry, o TimeTravelOptions) *TimeTravel {
	if reg == nil {
		reg = DefaultRegistry()
	}
	if o.SnapshotEvery == 0 {
		o.SnapshotEvery = DefaultSnapshotEvery
	}
	return &TimeTravel{st: st, reg: reg, o: o}
}

// Registry is the time-travel's aggregate registry.
func (t *TimeTravel) Registry() *Registry { return t.reg }

// SnapshotEvery is the effective snapshot interval (negative: off).
func (t *TimeTravel) SnapshotEvery() int { return t.o.SnapshotEvery }

// StateAt is the stream's state after the event at version. Errors:
// store.ErrNotFound for an unknown stream, a *VersionError (store.ErrInvalid)
// for a version past the end or negative.
func (t *TimeTravel) StateAt(ctx context.Context, stream string, version int64) (State, error) {
	s, _, err := t.fold(ctx, stream, version, false)
	return s, err
}

// StateAtTime is the stream's state after its last event recorded at or
// before at. A *TimeError (store.ErrInvalid) when its first event is later.
func (t *TimeTravel) StateAtTime(ctx context.Context, stream string, at time.Time) (State, error) {
	v, err := t.VersionAt(ctx, stream, at)
	if err != nil {
		return State{}, err
	}
	return t.StateAt(ctx, stream, v)
}

// VersionAt is the version of the stream's last event recorded at or before at.
func (t *TimeTravel) VersionAt(ctx context.Context, stream string, at time.Time) (int64, error) {
	v, ok, err := t.st.VersionAt(ctx, stream, at)
	if err != nil {
		return 0, fmt.Errorf("state of %s at %s: %w", stream, at.Format(time.RFC3339), err)
	}
	if ok {
		return v, nil
	}
	first, ferr := t.st.ReadStream(ctx, stream, store.ReadStreamOptions{Limit: 1})
	if ferr != nil {
		return 0, ferr
	}
	te := &TimeError{Stream: stream, At: at}
	if len(first) > 0 {
		te.First = first[0].RecordedAt
	}
	return 0, te
}

// Transition is what the event at Version changed: the states before and
// after it (Before is the aggregate's initial state for version 0) and the
// field-level changes.
type Transition struct {
	Before  json.RawMessage `json:"before"`
	After   State           `json:"after"`
	Changes []Change        `json:"changes"`
}

// TransitionAt is StateAt plus what the event at version changed.
func (t *TimeTravel) TransitionAt(ctx context.Context, stream string, version int64) (Transition, error) {
	s, before, err := t.fold(ctx, stream, version, true)
	if err != nil {
		return Transition{}, err
	}
	return Transition{Before: before, After: s, Changes: Diff(before, s.State)}, nil
}

// head is the stream's last version and the best snapshot at or below a version.
type head struct {
	last     int64
	snapVer  int64 // -1: none
	snapJSON []byte
}

func (t *TimeTravel) head(ctx context.Context, stream string, typ AggregateType, registered bool, atMost int64) (head, error) {
	h := head{snapVer: -1}
	schema := -1 // matches nothing: no snapshots for generic folds or when off
	if registered && t.o.SnapshotEvery > 0 {
		schema = typ.SchemaVersion
	}
	last, err := t.st.StreamVersion(ctx, stream)
	if err != nil {
		return h, err
	}
	h.last = last
	if schema < 0 {
		return h, nil
	}
	v, state, ok, err := latestSnapshot(ctx, t.st.Pool(), stream, schema, atMost)
	if err != nil {
		return h, fmt.Errorf("state of %s: %w", stream, err)
	}
	if ok {
		h.snapVer, h.snapJSON = v, state
	}
	return h, nil
}

// fold rebuilds the state at version; with prev it also returns the state
// before that event.
func (t *TimeTravel) fold(ctx context.Context, stream string, version int64, prev bool) (State, json.RawMessage, error) {
	typ, registered := t.reg.ForStream(stream)
	atMost := version
	if prev {
		atMost = version - 1
	}
	h, err := t.head(ctx, stream, typ, registered, atMost)
	if err != nil {
		return State{}, nil, err
	}
	if version < 0 || version > h.last {
		return State{}, nil, &VersionError{Stream: stream, Version: version, LastVersion: h.last}
	}
	s := State{Stream: stream, Version: version, LastVersion: h.last, Aggregate: GenericAggregate, Generic: !registered, SnapshotVersion: -1}
	var (
		agg     Aggregate
		generic *genericFold
		before  json.RawMessage
	)
	if registered {
		s.Aggregate = typ.Name
		agg = typ.New(EntityID(stream))
		if h.snapVer >= 0 {
			if err := json.Unmarshal(h.snapJSON, agg); err != nil {
				agg = typ.New(EntityID(stream)) // unreadable snapshot: fold from the start
				h.snapVer = -1
			} else {
				s.FromSnapshot, s.SnapshotVersion = true, h.snapVer
			}
		}
	} else {
		generic = newGenericFold()
	}
	stateJSON := func() (json.RawMessage, error) {
		if registered {
			return json.Marshal(agg)
		}
		return generic.json()
	}

	// Read (snapshot, version]; when the snapshot is at version itself, read
	// just that event, to return it.
	from := h.snapVer + 1
	applyFrom := from
	if h.snapVer == version {
		from = version
		applyFrom = version + 1
	}
	if prev && version == 0 {
		if before, err = stateJSON(); err != nil {
			return State{}, nil, err
		}
	}
	var lazy []snapshotRow
	every := int64(t.o.SnapshotEvery)
	for from <= version {
		limit := min(version-from+1, 5000)
		evs, err := t.st.ReadStream(ctx, stream, store.ReadStreamOptions{From: from, Limit: int(limit)})
		if err != nil {
			return State{}, nil, err
		}
		if len(evs) == 0 {
			return State{}, nil, fmt.Errorf("state of %s: version %d is missing", stream, from)
		}
		for _, e := range evs {
			if e.Version < applyFrom {
				s.Event = e
				continue
			}
			if prev && e.Version == version && version > 0 {
				if before, err = stateJSON(); err != nil {
					return State{}, nil, err
				}
			}
			if registered {
				if err := ApplyStored(agg, e); err != nil {
					reason, ok := undecodable(err)
					if !ok {
						return State{}, nil, err
					}
					s.Undecodable = append(s.Undecodable, UndecodableEvent{Version: e.Version, Type: e.Type, Reason: reason})
					s.Event = e
					continue
				}
				if every > 0 && !t.o.NoLazySnapshots && (e.Version+1)%every == 0 && e.Version > h.snapVer {
					b, err := json.Marshal(agg)
					if err == nil {
						lazy = append(lazy, snapshotRow{Stream: stream, Version: e.Version, Aggregate: typ.Name, Schema: typ.SchemaVersion, State: b,
							Personal: SnapshotPersonal(typ, stream, b)})
					}
				}
			} else if err := generic.apply(e.Data); err != nil {
				reason, ok := undecodable(err)
				if !ok {
					return State{}, nil, fmt.Errorf("%s version %d: generic fold: %w", stream, e.Version, err)
				}
				s.Undecodable = append(s.Undecodable, UndecodableEvent{Version: e.Version, Type: e.Type, Reason: reason})
				s.Event = e
				continue
			}
			s.EventsFolded++
			s.Event = e
		}
		from = evs[len(evs)-1].Version + 1
	}
	if s.State, err = stateJSON(); err != nil {
		return State{}, nil, err
	}
	if prev && version > 0 && h.snapVer == version-1 && before == nil {
		before = h.snapJSON
	}
	if len(lazy) > 0 {
		_ = writeSnapshots(ctx, t.st.Pool(), lazy) // a cache: failing to fill it changes nothing
	}
	return s, before, nil
}
