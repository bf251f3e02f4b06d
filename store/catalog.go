package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The event-type catalog: per event type, its count, when it was first and
// last seen, its categories, the shape of its data (each path's JSON types,
// presence and example values) and drift (where a path appeared,
// disappeared or changed type, with the event where it began).
//
// It is kept in eventscope.catalog_types with its own checkpoint in the
// global log (eventscope.catalog_state), and advanced in bounded batches
// through ReadAll, so it sees every committed event exactly once in the
// no-skip order. Whoever asks advances it: CatalogTypes catches up the
// delta before answering, and FollowCatalog (run by the domain worker and
// the demo) keeps it current. Appends never touch it.
//
// Every event is folded (no sampling) but the shape walk is bounded: the
// first 32 elements of an array stand for all of them, nesting is followed
// 12 levels deep, a document reports at most 256 paths and a type keeps at
// most 256 fields (FieldsTruncated says when more were seen) and 100 drift
// entries (DriftDropped counts the rest).

const (
	catalogMaxFields   = 256
	catalogMaxDrift    = 100
	catalogMaxExamples = 3
	catalogExampleLen  = 60 // bytes of a string example kept
)

// EventMark names one event of the catalog (an example's, a drift's).
type EventMark struct {
	EventID    uuid.UUID  `json:"event_id"`
	StreamID   string     `json:"stream_id"`
	Version    int64      `json:"version"`
	Checkpoint Checkpoint `json:"checkpoint"`
	RecordedAt time.Time  `json:"recorded_at"`
}

// Ref is the mark as an EventRef.
func (m EventMark) Ref() EventRef { return EventRef{ID: m.EventID} }

func markOf(e Event) EventMark {
	return EventMark{EventID: e.EventID, StreamID: e.StreamID, Version: e.Version, Checkpoint: e.Checkpoint, RecordedAt: e.RecordedAt}
}

// Example is one value seen at a path and the event it came from. A string
// longer than 60 bytes is cut (and Cut set).
type Example struct {
	Value json.RawMessage `json:"value"`
	Cut   bool            `json:"cut,omitempty"`
	Event EventMark       `json:"event"`
}

// FieldInfo is one path of a type's data.
type FieldInfo struct {
	// Path is written as the query language writes it: total, lines[].sku.
	Path string `json:"path"`
	// Types maps a JSON type (object, array, string, number, boolean,
	// null) to the share of the events having the path in which it had
	// that type (an array with mixed elements counts for each).
	Types map[string]float64 `json:"types"`
	// Presence is the share of the type's events that have the path.
	Presence float64 `json:"presence"`
	// Examples are up to three distinct values (scalars only), the first seen.
	Examples []Example `json:"examples"`
	// Count is the number of events that have the path.
	Count int64 `json:"count"`
}

// Drift is a change of a type's shape.
type Drift struct {
	Path string `json:"path"`
	// Change is "appeared" (the path was new, after the type's first
	// event), "disappeared" (a path every event had since it appeared was
	// missing, and has been ever since) or "type_changed" (the path took a
	// JSON type it never had: From → To).
	Change string `json:"change"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	// Event is where it began.
	Event EventMark `json:"event"`
	// After is the number of the type's events before it.
	After int64 `json:"after_events"`
	// Over is set on "disappeared" when the path came back later.
	Over *EventMark `json:"over,omitempty"`
}

// CategoryShare counts a type's events in one category.
type CategoryShare struct {
	Category string `json:"category"`
	Count    int64  `json:"count"`
}

// TypeInfo is one type of the catalog.
type TypeInfo struct {
	Type            string          `json:"type"`
	Count           int64           `json:"count"`
	FirstSeen       time.Time       `json:"first_seen"`
	LastSeen        time.Time       `json:"last_seen"`
	Categories      []CategoryShare `json:"categories"`
	Fields          []FieldInfo     `json:"fields"`
	Drift           []Drift         `json:"drift"`
	FieldsTruncated bool            `json:"fields_truncated,omitempty"`
	DriftDropped    int64           `json:"drift_dropped,omitempty"`
	// FirstEvent and LastEvent are the type's first and last events in global order.
	FirstEvent EventMark `json:"first_event"`
	LastEvent  EventMark `json:"last_event"`
}

// CatalogState is where the catalog stands in the global log.
type CatalogState struct {
	// Checkpoint is the last event folded in.
	Checkpoint Checkpoint `json:"checkpoint"`
	// Events is the number of events folded in.
	Events    int64     `json:"events"`
	UpdatedAt time.Time `json:"updated_at"`
	// CaughtUp reports that the last advance reached the head of the log.
	CaughtUp bool `json:"caught_up"`
}

// CatalogOptions bound how far a call advances the catalog.
type CatalogOptions struct {
	// BatchEvents is the number of events read and folded per transaction.
	// Default 2,000.
	BatchEvents int
	// Budget caps the time spent catching up before answering; the answer
	// then says CaughtUp false. Default 10s. Negative: do not advance.
	Budget time.Duration
}

func (o CatalogOptions) withDefaults() CatalogOptions {
	if o.BatchEvents <= 0 {
		o.BatchEvents = 2000
	}
	if o.Budget == 0 {
		o.Budget = 10 * time.Second
	}
	return o
}

// errCatalogMoved: another process advanced the catalog meanwhile.
var errCatalogMoved = errors.New("catalog advanced by another process")

// (The one-row state is read as a LIMIT 1 subquery: the planner does not
// know the table has one row, and a join it thinks is large gets compiled
// by the JIT, for hundreds of milliseconds.)

// CatalogTypes catches the catalog up (within the budget) and returns
// every type, most frequent first.
func (s *Store) CatalogTypes(ctx context.Context, o CatalogOptions) ([]TypeInfo, CatalogState, error) {
	o = o.withDefaults()
	var st CatalogState
	if o.Budget > 0 {
		var err error
		if st, err = s.AdvanceCatalog(ctx, o); err != nil {
			return nil, st, err
		}
	}
	rows, err := s.pool.Query(ctx, `SELECT s.tx_id, s.position, s.events, s.updated_at, t.type, t.count, t.first_seen, t.last_seen, t.profile
		FROM (SELECT * FROM eventscope.catalog_state LIMIT 1) s LEFT JOIN eventscope.catalog_types t ON true
		ORDER BY t.count DESC, t.type`)
	if err != nil {
		return nil, st, fmt.Errorf("read the type catalog: %w", err)
	}
	defer rows.Close()
	var out []TypeInfo
	caught := st.CaughtUp
	for rows.Next() {
		var (
			typ         *string
			count       *int64
			first, last *time.Time
			prof        []byte
		)
		if err := rows.Scan(&st.Checkpoint.Tx, &st.Checkpoint.Pos, &st.Events, &st.UpdatedAt, &typ, &count, &first, &last, &prof); err != nil {
			return nil, st, fmt.Errorf("read the type catalog: %w", err)
		}
		if typ == nil {
			continue
		}
		var p profile
		if err := json.Unmarshal(prof, &p); err != nil {
			return nil, st, fmt.Errorf("read the type catalog: type %s: %w", *typ, err)
		}
		out = append(out, p.info(*typ, *count, *first, *last))
	}
	st.CaughtUp = caught
	if err := rows.Err(); err != nil {
		return nil, st, fmt.Errorf("read the type catalog: %w", err)
	}
	if out == nil {
		out = []TypeInfo{}
	}
	return out, st, nil
}

// AdvanceCatalog folds the events after the catalog's checkpoint into it,
// batch by batch, until it reaches the head of the global log or the
// budget runs out.
func (s *Store) AdvanceCatalog(ctx context.Context, o CatalogOptions) (CatalogState, error) {
	o = o.withDefaults()
	deadline := time.Now().Add(o.Budget)
	for {
		st, scanned, err := s.advanceCatalogOnce(ctx, o.BatchEvents)
		if errors.Is(err, errCatalogMoved) {
			continue // someone else folded this batch: go on from theirs
		}
		if err != nil {
			return st, err
		}
		if scanned < o.BatchEvents {
			st.CaughtUp = true
			return st, nil
		}
		if !time.Now().Before(deadline) {
			return st, nil
		}
	}
}

// FollowCatalog keeps the catalog current until ctx ends: it advances every
// interval (default 1s). Errors are retried at the next tick; the last one
// is returned when ctx ends.
func (s *Store) FollowCatalog(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var last error
	for {
		if _, err := s.AdvanceCatalog(ctx, CatalogOptions{Budget: interval}); err != nil && ctx.Err() == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return last
		case <-t.C:
		}
	}
}

func (s *Store) catalogState(ctx context.Context) (CatalogState, error) {
	var st CatalogState
	err := s.pool.QueryRow(ctx, `SELECT tx_id, position, events, updated_at FROM eventscope.catalog_state`).
		Scan(&st.Checkpoint.Tx, &st.Checkpoint.Pos, &st.Events, &st.UpdatedAt)
	if err != nil {
		return st, fmt.Errorf("read the catalog's checkpoint: %w", err)
	}
	return st, nil
}

// advanceCatalogOnce folds one batch. The events are read outside any
// transaction (a transaction holding an id would hold the global log back
// for every reader while it reads); the write is one short transaction
// that moves the checkpoint only if nobody moved it meanwhile.
func (s *Store) advanceCatalogOnce(ctx context.Context, batch int) (CatalogState, int, error) {
	st, err := s.catalogState(ctx)
	if err != nil {
		return st, 0, err
	}
	page, err := s.ReadAll(ctx, st.Checkpoint, ReadAllOptions{Limit: batch})
	if err != nil {
		return st, 0, fmt.Errorf("advance the type catalog: %w", err)
	}
	if len(page.Events) == 0 {
		return st, page.Scanned, nil
	}
	// group by type, keeping global order inside each
	byType := map[string][]Event{}
	var types []string
	for _, e := range page.Events {
		if _, ok := byType[e.Type]; !ok {
			types = append(types, e.Type)
		}
		byType[e.Type] = append(byType[e.Type], e)
	}
	rows, err := s.pool.Query(ctx, `SELECT t.type, t.count, t.first_seen, t.last_seen, t.profile, s.tx_id, s.position
		FROM (SELECT * FROM eventscope.catalog_state LIMIT 1) s LEFT JOIN eventscope.catalog_types t ON t.type = ANY($1)`, types)
	if err != nil {
		return st, 0, fmt.Errorf("advance the type catalog: %w", err)
	}
	type row struct {
		count       int64
		first, last time.Time
		p           *profile
	}
	have := map[string]*row{}
	for rows.Next() {
		var (
			typ         *string
			count       *int64
			first, last *time.Time
			prof        []byte
			cp          Checkpoint
		)
		if err := rows.Scan(&typ, &count, &first, &last, &prof, &cp.Tx, &cp.Pos); err != nil {
			rows.Close()
			return st, 0, fmt.Errorf("advance the type catalog: %w", err)
		}
		if cp != st.Checkpoint {
			rows.Close()
			return st, 0, errCatalogMoved
		}
		if typ == nil {
			continue
		}
		p := &profile{}
		if err := json.Unmarshal(prof, p); err != nil {
			rows.Close()
			return st, 0, fmt.Errorf("advance the type catalog: type %s: %w", *typ, err)
		}
		have[*typ] = &row{count: *count, first: *first, last: *last, p: p}
	}
	if err := rows.Err(); err != nil {
		return st, 0, fmt.Errorf("advance the type catalog: %w", err)
	}
	var (
		names  []string
		counts []int64
		firsts []time.Time
		lasts  []time.Time
		profs  [][]byte
	)
	for _, typ := range types {
		r := have[typ]
		if r == nil {
			r = &row{p: &profile{}}
		}
		for _, e := range byType[typ] {
			r.count++
			if r.first.IsZero() || e.RecordedAt.Before(r.first) {
				r.first = e.RecordedAt
			}
			if e.RecordedAt.After(r.last) {
				r.last = e.RecordedAt
			}
			r.p.fold(e, r.count)
		}
		b, err := json.Marshal(r.p)
		if err != nil {
			return st, 0, fmt.Errorf("advance the type catalog: %w", err)
		}
		names, counts, firsts, lasts, profs = append(names, typ), append(counts, r.count), append(firsts, r.first), append(lasts, r.last), append(profs, b)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return st, 0, fmt.Errorf("advance the type catalog: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit a no-op
	tag, err := tx.Exec(ctx, `UPDATE eventscope.catalog_state SET tx_id = $3, position = $4, events = events + $5, updated_at = now()
		WHERE tx_id = $1 AND position = $2`, st.Checkpoint.Tx, st.Checkpoint.Pos, page.Next.Tx, page.Next.Pos, len(page.Events))
	if err != nil {
		return st, 0, fmt.Errorf("advance the type catalog: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return st, 0, errCatalogMoved
	}
	if _, err := tx.Exec(ctx, `INSERT INTO eventscope.catalog_types AS c (type, count, first_seen, last_seen, profile)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::timestamptz[], $5::jsonb[])
		ON CONFLICT (type) DO UPDATE SET count = excluded.count, first_seen = excluded.first_seen,
		       last_seen = excluded.last_seen, profile = excluded.profile`, names, counts, firsts, lasts, profs); err != nil {
		return st, 0, fmt.Errorf("advance the type catalog: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return st, 0, fmt.Errorf("advance the type catalog: %w", err)
	}
	st.Checkpoint = page.Next
	st.Events += int64(len(page.Events))
	st.UpdatedAt = time.Now()
	return st, page.Scanned, nil
}

// profile is a type's stored fold (eventscope.catalog_types.profile).
type profile struct {
	Categories   map[string]int64       `json:"categories"`
	Fields       map[string]*fieldState `json:"fields"`
	Drift        []Drift                `json:"drift,omitempty"`
	DriftDropped int64                  `json:"drift_dropped,omitempty"`
	Truncated    bool                   `json:"truncated,omitempty"`
	First        EventMark              `json:"first"`
	Last         EventMark              `json:"last"`
}

// fieldState is one path's fold. Seq numbers count the type's events (1 is
// its first).
type fieldState struct {
	Count    int64            `json:"n"`
	Types    map[string]int64 `json:"t"`
	LastType string           `json:"lt"`
	Examples []Example        `json:"ex,omitempty"`
	First    int64            `json:"f"`
	Last     int64            `json:"l"`
	Contig   bool             `json:"c"`           // present in every event since First
	Gone     int              `json:"g,omitempty"` // 1 + index of its open "disappeared" drift
}

type visit struct {
	types uint8
	raw   []byte
	last  string
}

var jsonTypes = [...]string{"object", "array", "string", "number", "boolean", "null"}

func typeBit(t string) uint8 {
	for i, n := range jsonTypes {
		if n == t {
			return 1 << i
		}
	}
	return 0
}

// fold adds event e, the type's seq-th, to the profile.
func (p *profile) fold(e Event, seq int64) {
	if p.Categories == nil {
		p.Categories = map[string]int64{}
		p.Fields = map[string]*fieldState{}
	}
	mark := markOf(e)
	if seq == 1 {
		p.First = mark
	}
	p.Last = mark
	p.Categories[e.Category()]++
	seen := map[string]*visit{}
	var order []string // the walk's order: deterministic drift
	// Personal fields (and what they hold) keep their shape but no example:
	// the catalog must not copy personal data out of its sealed storage.
	var personal []string
	if pm, ok := e.Personal(); ok {
		for _, f := range pm.Fields {
			parts := make([]string, len(f))
			for i, k := range f {
				parts[i] = pathKey(k)
			}
			personal = append(personal, strings.Join(parts, "."))
		}
	}
	isPersonal := func(path string) bool {
		for _, pp := range personal {
			if path == pp || strings.HasPrefix(path, pp+".") || strings.HasPrefix(path, pp+"[") {
				return true
			}
		}
		return false
	}
	walkShape(e.Data, func(path, typ string, raw []byte) {
		v := seen[path]
		if v == nil {
			v = &visit{}
			seen[path] = v
			order = append(order, path)
		}
		v.types |= typeBit(typ)
		v.last = typ
		if v.raw == nil && raw != nil {
			v.raw = raw
		}
	})
	for _, path := range order {
		v := seen[path]
		fs := p.Fields[path]
		if fs == nil {
			if len(p.Fields) >= catalogMaxFields {
				p.Truncated = true
				continue
			}
			fs = &fieldState{Types: map[string]int64{}, First: seq, Contig: true}
			p.Fields[path] = fs
			if seq > 1 {
				p.drift(Drift{Path: path, Change: "appeared", To: v.last, Event: mark, After: seq - 1})
			}
		} else {
			if fs.Gone > 0 {
				if i := fs.Gone - 1; i < len(p.Drift) && p.Drift[i].Path == path {
					m := mark
					p.Drift[i].Over = &m
				}
				fs.Gone = 0
			}
			if fs.Last != seq-1 {
				fs.Contig = false
			}
		}
		for i, t := range jsonTypes {
			if v.types&(1<<i) == 0 {
				continue
			}
			if fs.Types[t] == 0 && fs.Count > 0 {
				p.drift(Drift{Path: path, Change: "type_changed", From: fs.LastType, To: t, Event: mark, After: seq - 1})
			}
			fs.Types[t]++
		}
		fs.LastType = v.last
		fs.Count++
		fs.Last = seq
		if len(fs.Examples) < catalogMaxExamples && v.raw != nil && !isPersonal(path) {
			ex := example(v.raw, mark)
			if !slices.ContainsFunc(fs.Examples, func(x Example) bool { return bytes.Equal(x.Value, ex.Value) }) {
				fs.Examples = append(fs.Examples, ex)
			}
		}
	}
	var gone []string
	for path, fs := range p.Fields {
		if _, ok := seen[path]; !ok && fs.Contig && fs.Gone == 0 && fs.Last == seq-1 {
			gone = append(gone, path)
		}
	}
	slices.Sort(gone)
	for _, path := range gone {
		fs := p.Fields[path]
		if fs.Contig && fs.Gone == 0 && fs.Last == seq-1 {
			fs.Contig = false
			if p.drift(Drift{Path: path, Change: "disappeared", From: fs.LastType, Event: mark, After: seq - 1}) {
				fs.Gone = len(p.Drift)
			}
		}
	}
}

// drift records d unless the list is full; it reports whether it did.
func (p *profile) drift(d Drift) bool {
	if len(p.Drift) >= catalogMaxDrift {
		p.DriftDropped++
		return false
	}
	p.Drift = append(p.Drift, d)
	return true
}

func example(raw []byte, m EventMark) Example {
	ex := Example{Value: append(json.RawMessage(nil), raw...), Event: m}
	if len(raw) > catalogExampleLen+2 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			cut := catalogExampleLen
			for cut > 0 && !utf8RuneStart(s[cut]) {
				cut--
			}
			b, _ := json.Marshal(s[:cut])
			ex.Value, ex.Cut = b, true
		}
	}
	return ex
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// info renders the fold for callers.
func (p *profile) info(typ string, count int64, first, last time.Time) TypeInfo {
	ti := TypeInfo{Type: typ, Count: count, FirstSeen: first, LastSeen: last, Drift: p.Drift,
		FieldsTruncated: p.Truncated, DriftDropped: p.DriftDropped, FirstEvent: p.First, LastEvent: p.Last}
	for c, n := range p.Categories {
		ti.Categories = append(ti.Categories, CategoryShare{Category: c, Count: n})
	}
	slices.SortFunc(ti.Categories, func(a, b CategoryShare) int {
		if a.Count != b.Count {
			return int(b.Count - a.Count)
		}
		return strings.Compare(a.Category, b.Category)
	})
	for path, fs := range p.Fields {
		fi := FieldInfo{Path: path, Types: map[string]float64{}, Count: fs.Count, Examples: fs.Examples}
		if count > 0 {
			fi.Presence = float64(fs.Count) / float64(count)
		}
		for t, n := range fs.Types {
			fi.Types[t] = float64(n) / float64(fs.Count)
		}
		if fi.Examples == nil {
			fi.Examples = []Example{}
		}
		ti.Fields = append(ti.Fields, fi)
	}
	slices.SortFunc(ti.Fields, func(a, b FieldInfo) int { return strings.Compare(a.Path, b.Path) })
	if ti.Categories == nil {
		ti.Categories = []CategoryShare{}
	}
	if ti.Fields == nil {
		ti.Fields = []FieldInfo{}
	}
	if ti.Drift == nil {
		ti.Drift = []Drift{}
	}
	return ti
}

// ResetCatalog empties the catalog so that it is rebuilt from the start of
// the log (after a change of its fold, say).
func (s *Store) ResetCatalog(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE eventscope.catalog_state SET tx_id = '0', position = 0, events = 0, updated_at = now()`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM eventscope.catalog_types`)
		return err
	})
}
