package domain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"eventscope/store"
)

// Metadata keys the domain writes on every event it appends.
const (
	CorrelationKey = "correlationId"
	CausationKey   = "causationId"
)

// Meta is an event's metadata: the correlation id (the conversation it
// belongs to, the id of the command or event that started it) and the
// causation id (the event or command that caused this one).
type Meta struct {
	CorrelationID string `json:"correlationId,omitempty"`
	CausationID   string `json:"causationId,omitempty"`
	Source        string `json:"source,omitempty"`
}

// JSON encodes the metadata: the bytes json.Marshal gives (fields in a
// fixed order, empty ones left out), built by hand because the seeder
// encodes a million of them.
func (m Meta) JSON() json.RawMessage {
	b := make([]byte, 0, 128)
	b = append(b, '{')
	for _, f := range [...]struct{ k, v string }{{"correlationId", m.CorrelationID}, {"causationId", m.CausationID}, {"source", m.Source}} {
		if f.v == "" {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, f.k...)
		b = append(b, '"', ':')
		b = appendJSONString(b, f.v)
	}
	return append(b, '}')
}

func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// MetaOf reads an event's metadata (missing fields stay empty).
func MetaOf(e store.Event) Meta {
	var m Meta
	_ = json.Unmarshal(e.Metadata, &m)
	return m
}

// CausedBy is the metadata of an event caused by e: e's correlation id
// (or e's own id when it has none) and e's id as the causation id.
func CausedBy(e store.Event, source string) Meta {
	corr := MetaOf(e).CorrelationID
	if corr == "" {
		corr = e.EventID.String()
	}
	return Meta{CorrelationID: corr, CausationID: e.EventID.String(), Source: source}
}

// idNamespace roots every derived event id.
var idNamespace = uuid.MustParse("6f0f5d1e-5b8e-4c55-9a43-0b7c0e6d2a11")

// DerivedID is the id of the event that a handler named purpose appends
// because of the event cause (a UUID v5). Re-processing cause derives the
// same id, so the store turns the second append into an idempotent no-op.
func DerivedID(cause uuid.UUID, purpose string) uuid.UUID {
	return uuid.NewSHA1(idNamespace, append(cause[:], purpose...))
}

// NameID is a UUID v5 of a name, for ids that must be reproducible
// (seeded events, commands).
func NameID(name string) uuid.UUID { return uuid.NewSHA1(idNamespace, []byte(name)) }

// Recorded is a domain event ready to append.
type Recorded struct {
	ID       uuid.UUID // zero: the server generates one
	Event    Event
	Metadata Meta
}

// NewEvents encodes recorded events for the store, to be appended to
// stream: a PersonalEvent's fields are marked personal data of the stream
// (the subject).
func NewEvents(stream string, rs []Recorded) ([]store.NewEvent, error) {
	out := make([]store.NewEvent, len(rs))
	for i, r := range rs {
		data, err := json.Marshal(r.Event)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", r.Event.EventType(), err)
		}
		out[i] = store.NewEvent{ID: r.ID, Type: r.Event.EventType(), Data: data, Metadata: r.Metadata.JSON(),
			Personal: PersonalOf(stream, r.Event)}
	}
	return out, nil
}

// PersonalOf is the personal-data marking of e appended to stream (nil
// for events that hold none).
func PersonalOf(stream string, e Event) *store.Personal {
	if pe, ok := e.(PersonalEvent); ok {
		if fs := pe.PersonalFields(); len(fs) > 0 {
			return store.PersonalFields(stream, fs...)
		}
	}
	return nil
}

// Repository loads aggregates (from their latest snapshot plus the events
// after it) and appends their new events with optimistic concurrency,
// writing a snapshot whenever an append crosses an interval boundary.
type Repository struct {
	st    *store.Store
	every int64
}

// NewRepository returns a repository; snapshotEvery 0 means the default
// (100), negative turns snapshots off.
func NewRepository(st *store.Store, snapshotEvery int) *Repository {
	if snapshotEvery == 0 {
		snapshotEvery = DefaultSnapshotEvery
	}
	return &Repository{st: st, every: int64(snapshotEvery)}
}

// Store is the repository's store.
func (r *Repository) Store() *store.Store { return r.st }

// Load folds stream into a fresh aggregate of type typ. Version is the
// stream's last version, -1 when the stream does not exist (the aggregate is
// then in its initial state).
func (r *Repository) Load(ctx context.Context, typ AggregateType, stream string) (Aggregate, int64, error) {
	agg := typ.New(EntityID(stream))
	version := int64(-1)
	if r.every > 0 {
		v, state, ok, err := latestSnapshot(ctx, r.st.Pool(), stream, typ.SchemaVersion, math.MaxInt64)
		if err != nil {
			return nil, 0, err
		}
		if ok && json.Unmarshal(state, agg) == nil {
			version = v
		} else {
			agg = typ.New(EntityID(stream))
		}
	}
	for {
		// Pages end at 1,000 events or the store's byte budget: go on while
		// the store says more follow.
		p, err := r.st.ReadStreamPage(ctx, stream, store.ReadStreamOptions{From: version + 1, Limit: 1000})
		if errors.Is(err, store.ErrNotFound) {
			return agg, -1, nil
		}
		if err != nil {
			return nil, 0, err
		}
		for _, e := range p.Events {
			if err := ApplyStored(agg, e); err != nil {
				return nil, 0, err
			}
			version = e.Version
		}
		if !p.More {
			return agg, version, nil
		}
	}
}

// LoadOrder loads order id.
func (r *Repository) LoadOrder(ctx context.Context, id string) (*Order, int64, error) {
	a, v, err := r.Load(ctx, OrderType, OrderStream(id))
	if err != nil {
		return nil, 0, err
	}
	return a.(*Order), v, nil
}

// LoadCustomer loads customer id.
func (r *Repository) LoadCustomer(ctx context.Context, id string) (*Customer, int64, error) {
	a, v, err := r.Load(ctx, CustomerType, CustomerStream(id))
	if err != nil {
		return nil, 0, err
	}
	return a.(*Customer), v, nil
}

// Save appends events to stream, which must be at version (-1: must not
// exist), applies them to agg, and writes a snapshot when the append ends on
// an interval boundary or crosses one. It returns the new version.
func (r *Repository) Save(ctx context.Context, typ AggregateType, stream string, agg Aggregate, version int64, rs []Recorded) (int64, error) {
	if len(rs) == 0 {
		return version, nil
	}
	evs, err := NewEvents(stream, rs)
	if err != nil {
		return 0, err
	}
	expected := store.Exact(version)
	if version < 0 {
		expected = store.NoStream
	}
	nv, err := r.st.Append(ctx, stream, expected, evs...)
	if err != nil {
		return 0, err
	}
	if nv != version+int64(len(rs)) {
		// an idempotent re-append of events stored earlier: agg is stale
		return nv, nil
	}
	var snaps []snapshotRow
	for i, rec := range rs {
		agg.Apply(rec.Event)
		v := version + 1 + int64(i)
		if r.every > 0 && (v+1)%r.every == 0 {
			if b, err := json.Marshal(agg); err == nil {
				snaps = append(snaps, snapshotRow{Stream: stream, Version: v, Aggregate: typ.Name, Schema: typ.SchemaVersion, State: b,
					Personal: SnapshotPersonal(typ, stream, b)})
			}
		}
	}
	_ = writeSnapshots(ctx, r.st.Pool(), snaps) // a cache: a failure only costs a longer fold later
	return nv, nil
}

// MaxAttempts bounds Update's retries on version conflicts.
const MaxAttempts = 50

// Update loads stream, runs decide on the current state, and appends what it
// returns with the loaded version as the expected version; on a conflict it
// reloads and decides again. Decide returning no events ends without an
// append. It returns the events appended (nil for none) and the stream's version.
func (r *Repository) Update(ctx context.Context, typ AggregateType, stream string, decide func(Aggregate, int64) ([]Recorded, error)) ([]Recorded, int64, error) {
	for attempt := 1; ; attempt++ {
		agg, v, err := r.Load(ctx, typ, stream)
		if err != nil {
			return nil, 0, err
		}
		rs, err := decide(agg, v)
		if err != nil || len(rs) == 0 {
			return nil, v, err
		}
		nv, err := r.Save(ctx, typ, stream, agg, v, rs)
		if errors.Is(err, store.ErrConflict) && attempt < MaxAttempts {
			// someone else appended meanwhile: back off a little (jittered,
			// growing) and decide again on the new state
			d := time.Duration(rand.Int64N(int64(attempt)*int64(time.Millisecond) + 1))
			select {
			case <-ctx.Done():
				return nil, 0, ctx.Err()
			case <-time.After(d):
			}
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("update %s: %w", stream, err)
		}
		return rs, nv, nil
	}
}

// Record wraps events with one id function and metadata.
func Record(evs []Event, meta Meta, id func(i int, e Event) uuid.UUID) []Recorded {
	out := make([]Recorded, len(evs))
	for i, e := range evs {
		out[i] = Recorded{Event: e, Metadata: meta}
		if id != nil {
			out[i].ID = id(i, e)
		}
	}
	return out
}
