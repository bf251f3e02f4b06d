package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// eventColumns is the select list every event read scans with scanEvent.
const eventColumns = `e.stream_id, e.version, e.position, e.tx_id, e.event_id, e.type, e.data, e.metadata, e.recorded_at`

func scanEvent(row pgx.CollectableRow) (Event, error) {
	var e Event
	err := row.Scan(&e.StreamID, &e.Version, &e.Position, &e.Checkpoint.Tx, &e.EventID, &e.Type, &e.Data, &e.Metadata, &e.RecordedAt)
	e.Checkpoint.Pos = e.Position
	return e, err
}

// ReadStreamOptions select a slice of a stream.
type ReadStreamOptions struct {
	// From is the first version to read (forward) or the last (backward).
	// Default 0 forward; backward, a negative From (or 0 with Backward and
	// FromEnd) starts at the stream's last event.
	From int64
	// FromEnd starts a backward read at the last event. Default false.
	FromEnd bool
	// Backward reads from From towards version 0. Default false.
	Backward bool
	// Limit caps the events returned. Default 1000.
	Limit int
}

// ReadStream reads a stream's events in version order (or reverse), keyset
// paged by version. It returns ErrNotFound when the stream does not exist.
func (s *Store) ReadStream(ctx context.Context, stream string, o ReadStreamOptions) ([]Event, error) {
	return ReadStreamWith(ctx, s.pool, stream, o)
}

// ReadStreamWith is ReadStream on any querier (a pool, a conn or a transaction).
func ReadStreamWith(ctx context.Context, q querier, stream string, o ReadStreamOptions) ([]Event, error) {
	if o.Limit <= 0 {
		o.Limit = 1000
	}
	var sql string
	from := o.From
	if o.Backward {
		if o.FromEnd || from < 0 {
			from = 1<<63 - 1
		}
		sql = `SELECT ` + eventColumns + ` FROM eventscope.events e WHERE e.stream_id = $1 AND e.version <= $2 ORDER BY e.version DESC LIMIT $3`
	} else {
		if from < 0 {
			from = 0
		}
		sql = `SELECT ` + eventColumns + ` FROM eventscope.events e WHERE e.stream_id = $1 AND e.version >= $2 ORDER BY e.version LIMIT $3`
	}
	rows, err := q.Query(ctx, sql, stream, from, o.Limit)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, err)
	}
	evs, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, err)
	}
	if len(evs) == 0 {
		var exists bool
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM eventscope.streams WHERE stream_id = $1)`, stream).Scan(&exists); err != nil {
			return nil, fmt.Errorf("read %s: %w", stream, err)
		}
		if !exists {
			return nil, &NotFoundError{What: "stream " + stream}
		}
	}
	return evs, nil
}

// ReadAllOptions select events of the global log.
type ReadAllOptions struct {
	// Limit caps the events scanned in global order (filtered-out events
	// count too, so a page's cost is bounded). Default 1000.
	Limit int
	// Categories keeps only events of these stream categories. Default all.
	Categories []string
	// Types keeps only events of these types. Default all.
	Types []string
}

// Page is one read of the global log.
type Page struct {
	// Events are the events after the checkpoint that matched the filter, in
	// global order.
	Events []Event
	// Next is the checkpoint to resume from: the last event scanned, which
	// may be past the last event returned when a filter is set. It equals
	// the after checkpoint when nothing was scanned.
	Next Checkpoint
	// Scanned is the number of events scanned; Scanned < Limit means the
	// reader has caught up with what is deliverable now.
	Scanned int
}

// ReadAll reads the global log after a checkpoint.
//
// The no-skip guarantee: it returns only events whose writing transaction
// is older than every transaction still running, in (transaction id,
// position) order, so every committed event is eventually read exactly once
// by a reader that resumes from Page.Next, in an order consistent with each
// stream's versions; rolled-back events never are. A long-running
// transaction that holds a transaction id holds delivery back (see Stats'
// Blocker).
func (s *Store) ReadAll(ctx context.Context, after Checkpoint, o ReadAllOptions) (Page, error) {
	return ReadAllWith(ctx, s.pool, after, o)
}

// ReadAllWith is ReadAll on any querier.
func ReadAllWith(ctx context.Context, q querier, after Checkpoint, o ReadAllOptions) (Page, error) {
	if o.Limit <= 0 {
		o.Limit = 1000
	}
	page := Page{Next: after}
	const window = `SELECT ` + eventColumns + ` FROM eventscope.events e
		 WHERE (e.tx_id, e.position) > ($1::xid8, $2)
		   AND e.tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
		 ORDER BY e.tx_id, e.position LIMIT $3`
	if len(o.Categories) == 0 && len(o.Types) == 0 {
		rows, err := q.Query(ctx, window, after.Tx, after.Pos, o.Limit)
		if err != nil {
			return page, fmt.Errorf("read all after %s: %w", after, err)
		}
		evs, err := pgx.CollectRows(rows, scanEvent)
		if err != nil {
			return page, fmt.Errorf("read all after %s: %w", after, err)
		}
		page.Events, page.Scanned = evs, len(evs)
		if len(evs) > 0 {
			page.Next = evs[len(evs)-1].Checkpoint
		}
		return page, nil
	}
	// Filtered: scan a window in global order, return the matches plus the
	// last scanned checkpoint so the reader moves past non-matching events.
	var conds []string
	args := []any{after.Tx, after.Pos, o.Limit}
	if len(o.Categories) > 0 {
		args = append(args, o.Categories)
		conds = append(conds, fmt.Sprintf(`eventscope.category(e.stream_id) = ANY($%d)`, len(args)))
	}
	if len(o.Types) > 0 {
		args = append(args, o.Types)
		conds = append(conds, fmt.Sprintf(`e.type = ANY($%d)`, len(args)))
	}
	sql := `WITH w AS MATERIALIZED (SELECT e.stream_id, e.version, e.position, e.tx_id, e.type FROM eventscope.events e
		 WHERE (e.tx_id, e.position) > ($1::xid8, $2)
		   AND e.tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
		 ORDER BY e.tx_id, e.position LIMIT $3)
	SELECT ` + eventColumns + `, 0 AS kind FROM w JOIN eventscope.events e ON e.stream_id = w.stream_id AND e.version = w.version
	 WHERE ` + strings.Join(conds, " AND ") + `
	UNION ALL
	(SELECT NULL, NULL, w.position, w.tx_id, NULL, NULL, NULL, NULL, NULL, count(*) OVER () FROM w ORDER BY w.tx_id DESC, w.position DESC LIMIT 1)
	ORDER BY 10, 4, 3`
	// (kind 0 rows are matches in order; the single last row carries the
	// last scanned checkpoint and the window's size.)
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return page, fmt.Errorf("read all after %s: %w", after, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			e    Event
			sid  *string
			ver  *int64
			kind int64
			typ  *string
			at   *time.Time
		)
		if err := rows.Scan(&sid, &ver, &e.Position, &e.Checkpoint.Tx, &e.EventID, &typ, &e.Data, &e.Metadata, &at, &kind); err != nil {
			return page, fmt.Errorf("read all after %s: %w", after, err)
		}
		e.Checkpoint.Pos = e.Position
		if sid == nil {
			page.Next = e.Checkpoint
			page.Scanned = int(kind)
			continue
		}
		e.StreamID, e.Version, e.Type, e.RecordedAt = *sid, *ver, *typ, *at
		page.Events = append(page.Events, e)
	}
	return page, rows.Err()
}

// ReadCategory reads the global log after a checkpoint, keeping one
// category's events. Same guarantee as ReadAll.
func (s *Store) ReadCategory(ctx context.Context, category string, after Checkpoint, limit int) (Page, error) {
	return s.ReadAll(ctx, after, ReadAllOptions{Limit: limit, Categories: []string{category}})
}

// Head is the checkpoint of the newest deliverable event (Start when the log is empty).
func (s *Store) Head(ctx context.Context) (Checkpoint, error) {
	return HeadWith(ctx, s.pool)
}

// HeadWith is Head on any querier.
func HeadWith(ctx context.Context, q querier) (Checkpoint, error) {
	var c Checkpoint
	err := q.QueryRow(ctx, `SELECT e.tx_id, e.position FROM eventscope.events e
		WHERE e.tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
		ORDER BY e.tx_id DESC, e.position DESC LIMIT 1`).Scan(&c.Tx, &c.Pos)
	if err == pgx.ErrNoRows {
		return Start, nil
	}
	if err != nil {
		return c, fmt.Errorf("read head: %w", err)
	}
	return c, nil
}

// CheckpointAt is the checkpoint just before the first event recorded at or
// after t, for resetting a subscription to a time: events recorded at or
// after t are read after it. With no such event it is the head.
func (s *Store) CheckpointAt(ctx context.Context, t time.Time) (Checkpoint, error) {
	var (
		c     Checkpoint
		found bool
	)
	// Only events below the oldest running transaction count: a checkpoint
	// past a running transaction's events would skip them when it commits.
	err := s.pool.QueryRow(ctx, `
		WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
		     first AS (SELECT e.tx_id, e.position FROM eventscope.events e, horizon h
		               WHERE e.recorded_at >= $1 AND e.tx_id < h.xmin
		               ORDER BY e.tx_id, e.position LIMIT 1),
		     prev AS (SELECT p.tx_id, p.position FROM eventscope.events p, first f
		               WHERE (p.tx_id, p.position) < (f.tx_id, f.position)
		               ORDER BY p.tx_id DESC, p.position DESC LIMIT 1)
		SELECT coalesce((SELECT tx_id FROM prev), '0'::xid8), coalesce((SELECT position FROM prev), 0),
		       EXISTS (SELECT 1 FROM first)`, t).Scan(&c.Tx, &c.Pos, &found)
	if err != nil {
		return c, fmt.Errorf("checkpoint at %s: %w", t.Format(time.RFC3339), err)
	}
	if !found {
		return s.Head(ctx)
	}
	return c, nil
}
