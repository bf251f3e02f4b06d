package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Reads of the global log that other packages (subscriptions, followers,
// monitoring) need besides ReadAll, so that they never name the events
// table themselves.

// FirstAfter is the checkpoint of the first committed event after cp,
// deliverable or not (found is false when there is none). A reader that
// caught up (ReadAll returned less than a page) and finds such an event
// knows events are held back behind an older open transaction, or arrived
// since its read.
func (s *Store) FirstAfter(ctx context.Context, cp Checkpoint) (first Checkpoint, found bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT e.tx_id, e.position FROM eventscope.events e
		WHERE (e.tx_id, e.position) > ($1::xid8, $2::bigint)
		ORDER BY e.tx_id, e.position LIMIT 1`, cp.Tx, cp.Pos).Scan(&first.Tx, &first.Pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("first event after %s: %w", cp, err)
	}
	return first, true, nil
}

// EventsByID returns the stored events with these ids, keyed by id; ids
// that name no event are left out. It reads the ids in pages of 1,000.
// Data and metadata are passed on as stored, never decoded, so an event
// that Go's JSON decoder refuses (nested deeper than 10,000) is read too.
func (s *Store) EventsByID(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]Event, error) {
	out := make(map[uuid.UUID]Event, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), 1000)
		rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM eventscope.events e WHERE e.event_id = ANY($1)`, ids[:n])
		if err != nil {
			return nil, fmt.Errorf("events by id: %w", err)
		}
		evs, err := pgx.CollectRows(rows, scanEvent)
		if err != nil {
			return nil, fmt.Errorf("events by id: %w", err)
		}
		for _, e := range evs {
			out[e.EventID] = e
		}
		ids = ids[n:]
	}
	return out, nil
}

// LogRef is an event's identity and place in the global log, without
// its data and metadata.
type LogRef struct {
	StreamID   string
	Version    int64
	EventID    uuid.UUID
	Type       string
	Checkpoint Checkpoint
}

// RefsAfter reads the refs of the first limit deliverable events after a
// checkpoint, in global order: the events ReadAll would scan (whatever its
// filter), without their data. A reader that cannot decode an event finds
// which one it is here, to get past it.
func (s *Store) RefsAfter(ctx context.Context, after Checkpoint, limit int) ([]LogRef, error) {
	rows, err := s.pool.Query(ctx, `SELECT e.stream_id, e.version, e.event_id, e.type, e.tx_id, e.position FROM eventscope.events e
		 WHERE (e.tx_id, e.position) > ($1::xid8, $2)
		   AND e.tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
		 ORDER BY e.tx_id, e.position LIMIT $3`, after.Tx, after.Pos, limit)
	if err != nil {
		return nil, fmt.Errorf("refs after %s: %w", after, err)
	}
	refs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (LogRef, error) {
		var r LogRef
		err := row.Scan(&r.StreamID, &r.Version, &r.EventID, &r.Type, &r.Checkpoint.Tx, &r.Checkpoint.Pos)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("refs after %s: %w", after, err)
	}
	return refs, nil
}

// PageFit is how many events a ReadAll after a checkpoint, with o's filter,
// may scan (its Limit: at least 1, at most o.Limit) for the events it
// returns to hold at most maxBytes of data and metadata (as JSON text). A
// reader that bounds its memory by bytes asks it before a read; an event
// larger than maxBytes is read alone.
func (s *Store) PageFit(ctx context.Context, after Checkpoint, o ReadAllOptions, maxBytes int64) (int, error) {
	if o.Limit <= 0 {
		o.Limit = 1000
	}
	var n int
	err := s.pool.QueryRow(ctx, `SELECT eventscope.page_fit($1, $2, $3, $4, $5, $6)`,
		after.Tx, after.Pos, o.Limit, maxBytes, nonNilStrings(o.Categories), nonNilStrings(o.Types)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("page fit after %s: %w", after, err)
	}
	return n, nil
}

// BacklogQuery asks how many events lie after a checkpoint, with a filter.
type BacklogQuery struct {
	After Checkpoint
	// Categories and Types filter as ReadAllOptions' do (empty = all).
	Categories []string
	Types      []string
}

// Backlog is the answer to a BacklogQuery.
type Backlog struct {
	// Events after the checkpoint up to the head: those matching the filter,
	// exact when Estimated is false; otherwise the difference of positions
	// over all events (an estimate: the gap was larger than the limit).
	Events    int64
	Estimated bool
}

// Backlogs reads the head of the log and, for every query, the events after
// its checkpoint up to that head, in one statement whatever the number of
// queries. Each count looks at most at limit+1 events in global order, so
// its cost is bounded; beyond, it is estimated from positions.
func (s *Store) Backlogs(ctx context.Context, qs []BacklogQuery, limit int) (head Checkpoint, out []Backlog, err error) {
	txs := make([]uint64, len(qs))
	poss := make([]int64, len(qs))
	filters := make([]json.RawMessage, len(qs))
	for i, q := range qs {
		txs[i], poss[i] = q.After.Tx, q.After.Pos
		f, err := json.Marshal(struct {
			C []string `json:"c"`
			T []string `json:"t"`
		}{nonNilStrings(q.Categories), nonNilStrings(q.Types)})
		if err != nil {
			return head, nil, err
		}
		filters[i] = f
	}
	rows, err := s.pool.Query(ctx, backlogSQL, txs, poss, filters, limit)
	if err != nil {
		return head, nil, fmt.Errorf("backlogs: %w", err)
	}
	type row struct {
		HeadTx  uint64
		HeadPos int64
		Counts  []int64
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		return head, nil, fmt.Errorf("backlogs: %w", err)
	}
	out = make([]Backlog, len(qs))
	for i, r := range got {
		head = Checkpoint{Tx: r.HeadTx, Pos: r.HeadPos}
		if i >= len(qs) {
			break
		}
		after := qs[i].After
		switch c := r.Counts; {
		case c == nil || (len(c) == 2 && c[1] > int64(limit)):
			out[i] = Backlog{Events: max(head.Pos-after.Pos, 0), Estimated: true}
			if len(c) == 2 {
				out[i].Events = max(out[i].Events, c[1])
			}
		case len(c) == 2:
			out[i] = Backlog{Events: c[0]}
		}
	}
	if len(qs) == 0 {
		head, err = s.Head(ctx)
	}
	return head, out, err
}

// backlogSQL: one row per query, in input order, each carrying the head.
// counts is {matching, scanned} over at most $4+1 events, or NULL when the
// gap in positions alone exceeds $4.
const backlogSQL = `
WITH head AS (
    SELECT e.tx_id, e.position FROM eventscope.events e
     WHERE e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY e.tx_id DESC, e.position DESC LIMIT 1),
q AS (
    SELECT i, tx, pos,
           ARRAY(SELECT jsonb_array_elements_text(f->'c')) AS cats,
           ARRAY(SELECT jsonb_array_elements_text(f->'t')) AS types
      FROM unnest($1::xid8[], $2::bigint[], $3::jsonb[]) WITH ORDINALITY AS u(tx, pos, f, i))
SELECT coalesce(h.tx_id, '0'::xid8), coalesce(h.position, 0),
       CASE WHEN h.position IS NULL OR (h.tx_id, h.position) <= (q.tx, q.pos) THEN ARRAY[0, 0]::bigint[]
            WHEN h.position - q.pos > $4 THEN NULL
            ELSE (SELECT ARRAY[count(*) FILTER (WHERE (cardinality(q.cats) = 0 OR eventscope.category(w.stream_id) = ANY (q.cats))
                                                  AND (cardinality(q.types) = 0 OR w.type = ANY (q.types))),
                               count(*)]
                    FROM (SELECT e.stream_id, e.type FROM eventscope.events e
                           WHERE (e.tx_id, e.position) > (q.tx, q.pos)
                             AND (e.tx_id, e.position) <= (h.tx_id, h.position)
                           ORDER BY e.tx_id, e.position LIMIT $4 + 1) w)
       END
  FROM q LEFT JOIN head h ON true
 ORDER BY q.i`

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
