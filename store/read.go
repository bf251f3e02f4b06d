package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultMaxBytes is the default byte budget of one read page (8 MiB).
const DefaultMaxBytes = 8 << 20

// eventColumns is the select list of every event read in this package, in
// the order scanEvent scans it. Only this file names it (and EventColumns).
// Rows with personal fields (migration 012) get them back from the
// decrypting functions, with the "$personal" marker in metadata; the other
// rows cost one IS NULL test.
const eventColumns = `e.stream_id, e.version, e.position, e.tx_id, e.event_id, e.type, ` +
	`CASE WHEN e.personal IS NULL THEN e.data ELSE eventscope.personal_data(e.data, e.personal) END AS data, ` +
	`CASE WHEN e.personal IS NULL THEN e.metadata ELSE eventscope.personal_metadata(e.metadata, e.personal) END AS metadata, ` +
	`e.recorded_at`

// EventColumns is the select list over eventscope.events aliased e that
// other store packages (store/query) scan an Event from: stream_id,
// version, position, tx_id, event_id, type, data, metadata, recorded_at,
// with personal fields as readers see them.
const EventColumns = eventColumns

// scanEvent scans eventColumns (a pgx.RowToFunc).
func scanEvent(row pgx.CollectableRow) (Event, error) { return scanEventWith(row) }

// scanEventWith scans eventColumns, then the extra destinations. Data and
// metadata are scanned as raw bytes: decoding them here (as pgx does when
// scanning into json.RawMessage) would refuse JSON nested deeper than Go's
// decoder takes, and stall every reader on one stored event.
func scanEventWith(row pgx.CollectableRow, extra ...any) (Event, error) {
	var e Event
	dest := append([]any{&e.StreamID, &e.Version, &e.Position, &e.Checkpoint.Tx, &e.EventID, &e.Type,
		(*[]byte)(&e.Data), (*[]byte)(&e.Metadata), &e.RecordedAt}, extra...)
	err := row.Scan(dest...)
	e.Checkpoint.Pos = e.Position
	return e, err
}

// storedSize is an event's size as stored (compressed, out of line or not),
// which Postgres knows without reading a TOASTed value. The page budgets
// use it in SQL, so events past the budget are never read out; the Go side
// counts the decoded bytes as well (see collectPage).
const storedSize = `(pg_column_size(e.data) + pg_column_size(e.metadata))`

// eventBytes is what an event costs a reader's memory, roughly.
func eventBytes(e *Event) int {
	return len(e.Data) + len(e.Metadata) + len(e.StreamID) + len(e.Type) + 64
}

// collectPage scans event rows whose last extra column is the running
// stored size, up to maxBytes of decoded events (at least one). full
// reports that the page stopped at its byte budget: more events may follow.
func collectPage(rows pgx.Rows, maxBytes int) (evs []Event, full bool, err error) {
	defer rows.Close()
	var used int
	for rows.Next() {
		var run int64
		e, err := scanEventWith(rows, &run)
		if err != nil {
			return nil, false, err
		}
		if run >= int64(maxBytes) {
			full = true // the stored sizes reached the budget here
		}
		used += eventBytes(&e)
		evs = append(evs, e)
		if used >= maxBytes {
			// Compressed events decode larger than stored: stop now.
			// Rows still in flight are discarded, not kept.
			return evs, true, nil
		}
	}
	return evs, full, rows.Err()
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
	// MaxBytes caps the page's size in bytes (data and metadata; at least
	// one event is returned). Default DefaultMaxBytes (8 MiB). A page may
	// therefore end before Limit: a caller that pages continues from the
	// last version it got until a page is empty (StreamPage.More says
	// whether to).
	MaxBytes int
}

// StreamPage is one read of a stream.
type StreamPage struct {
	// Events in version order (reverse order when reading backward).
	Events []Event
	// More is true when the page stopped at Limit or MaxBytes: events may
	// follow the last one (precede it, backward).
	More bool
}

// ReadStream reads a stream's events in version order (or reverse), keyset
// paged by version. It returns ErrNotFound when the stream does not exist.
// The page ends at Limit events or MaxBytes, whichever comes first.
func (s *Store) ReadStream(ctx context.Context, stream string, o ReadStreamOptions) ([]Event, error) {
	p, err := ReadStreamWith(ctx, s.pool, stream, o)
	return p.Events, err
}

// ReadStreamPage is ReadStream, also saying whether more events follow.
func (s *Store) ReadStreamPage(ctx context.Context, stream string, o ReadStreamOptions) (StreamPage, error) {
	return ReadStreamWith(ctx, s.pool, stream, o)
}

// ReadStreamWith is ReadStreamPage on any querier (a pool, a conn or a transaction).
func ReadStreamWith(ctx context.Context, q querier, stream string, o ReadStreamOptions) (StreamPage, error) {
	if o.Limit <= 0 {
		o.Limit = 1000
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	var sql string
	from := o.From
	if o.Backward {
		if o.FromEnd || from < 0 {
			from = 1<<63 - 1
		}
		sql = `SELECT ` + eventColumns + `, e.run FROM (
			SELECT e.*, sum` + storedSize + ` OVER (ORDER BY e.version DESC ROWS UNBOUNDED PRECEDING) AS run, ` + storedSize + ` AS size
			  FROM eventscope.events e WHERE e.stream_id = $1 AND e.version <= $2
			 ORDER BY e.version DESC LIMIT $3) e
		WHERE e.run - e.size < $4 ORDER BY e.version DESC`
	} else {
		if from < 0 {
			from = 0
		}
		sql = `SELECT ` + eventColumns + `, e.run FROM (
			SELECT e.*, sum` + storedSize + ` OVER (ORDER BY e.version ROWS UNBOUNDED PRECEDING) AS run, ` + storedSize + ` AS size
			  FROM eventscope.events e WHERE e.stream_id = $1 AND e.version >= $2
			 ORDER BY e.version LIMIT $3) e
		WHERE e.run - e.size < $4 ORDER BY e.version`
	}
	rows, err := q.Query(ctx, sql, stream, from, o.Limit, o.MaxBytes)
	if err != nil {
		return StreamPage{}, fmt.Errorf("read %s: %w", stream, err)
	}
	evs, full, err := collectPage(rows, o.MaxBytes)
	if err != nil {
		return StreamPage{}, fmt.Errorf("read %s: %w", stream, err)
	}
	if len(evs) == 0 {
		if err := streamExists(ctx, q, stream); err != nil {
			return StreamPage{}, err
		}
	}
	return StreamPage{Events: evs, More: full || len(evs) == o.Limit}, nil
}

// streamExists is nil when the stream exists, a *NotFoundError when not.
func streamExists(ctx context.Context, q querier, stream string) error {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM eventscope.streams WHERE stream_id = $1)`, stream).Scan(&exists); err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	if !exists {
		return &NotFoundError{What: "stream " + stream}
	}
	return nil
}

// ReadAllOptions select events of the global log.
type ReadAllOptions struct {
	// Limit caps the events returned. Default 1000.
	Limit int
	// MaxBytes caps the page's size in bytes (data and metadata; at least
	// one event is returned). Default DefaultMaxBytes (8 MiB).
	MaxBytes int
	// Categories keeps only events of these stream categories (the part of
	// the stream id before the first "-", see Category). Default all.
	Categories []string
	// Types keeps only events of these types. Default all.
	Types []string
}

// Page is one read of the global log.
type Page struct {
	// Events are the events after the checkpoint that matched the filter, in
	// global order.
	Events []Event
	// Next is the checkpoint to resume from. When More is false it is the
	// newest deliverable event's checkpoint (with a filter, possibly past
	// the last event returned: nothing matching lies in between), or the
	// after checkpoint when the log is empty.
	Next Checkpoint
	// More is true when the page stopped at Limit or MaxBytes: read again
	// from Next at once. False: the reader has caught up with what is
	// deliverable now.
	More bool
	// Scanned is Limit when More is true, else the number of events
	// returned: Scanned < Limit exactly when the reader has caught up.
	//
	// Deprecated: use More.
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
//
// A filter on categories or types is served by an index in the same global
// order (events_category_idx, events_type_idx): a page costs what it
// returns, however sparse the matches are in the log. With both filters
// the type index is used and categories are checked on its matches.
func (s *Store) ReadAll(ctx context.Context, after Checkpoint, o ReadAllOptions) (Page, error) {
	return ReadAllWith(ctx, s.pool, after, o)
}

// readAllSQL is the unfiltered page: the window after the checkpoint below
// the horizon, cut at the byte budget by stored size.
const readAllSQL = `SELECT ` + eventColumns + `, e.run, 0 FROM (
	SELECT e.*, sum` + storedSize + ` OVER (ORDER BY e.tx_id, e.position ROWS UNBOUNDED PRECEDING) AS run, ` + storedSize + ` AS size
	  FROM eventscope.events e
	 WHERE (e.tx_id, e.position) > ($1::xid8, $2::bigint)
	   AND e.tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
	 ORDER BY e.tx_id, e.position LIMIT $3) e
WHERE e.run - e.size < $4
ORDER BY e.tx_id, e.position`

// filteredSQL is a filtered page: for each value of $5 (categories, or
// types; with single, $5 is one value), the index range after the checkpoint below the horizon, merged in
// global order and cut at Limit and the byte budget; then one more row
// (kind 1) carrying the newest deliverable checkpoint, from the same
// snapshot, for Next when the reader has caught up.
//
// The range is written as two row comparisons on the index's columns
// (key, tx_id, position), between (v, after) and (v, horizon), ordered by
// all three, rather than as key = v: only the filter's index can serve that
// order, so the planner cannot pick the global index and filter it (which
// it prefers for a generic plan, and which walks the whole log for a rare
// value).
func filteredSQL(byType, alsoCategories, single bool) string {
	key := `eventscope.category(e.stream_id)`
	if byType {
		key = `e.type`
	}
	also := ""
	if alsoCategories {
		also = ` AND eventscope.category(e.stream_id) = ANY($6::text[])`
	}
	if single {
		// One value (the common case): its index range directly, in order.
		return `WITH h AS MATERIALIZED (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
(SELECT ` + eventColumns + `, e.run, 0 AS kind FROM (
	SELECT e.*, sum` + storedSize + ` OVER (ORDER BY ` + key + `, e.tx_id, e.position ROWS UNBOUNDED PRECEDING) AS run, ` + storedSize + ` AS size
	  FROM eventscope.events e
	 WHERE (` + key + `, e.tx_id, e.position) > ($5::text, $1::xid8, $2::bigint)
	   AND (` + key + `, e.tx_id) < ($5::text, (SELECT xmin FROM h))` + also + `
	 ORDER BY ` + key + `, e.tx_id, e.position LIMIT $3) e
 WHERE e.run - e.size < $4)
UNION ALL
` + headRow + `
ORDER BY 11, 4, 3`
	}
	return `WITH h AS MATERIALIZED (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
m AS MATERIALIZED (
	SELECT x.* FROM unnest($5::text[]) AS f(v)
	CROSS JOIN LATERAL (
		SELECT e.* FROM eventscope.events e
		 WHERE (` + key + `, e.tx_id, e.position) > (f.v, $1::xid8, $2::bigint)
		   AND (` + key + `, e.tx_id) < (f.v, (SELECT xmin FROM h))` + also + `
		 ORDER BY ` + key + `, e.tx_id, e.position LIMIT $3) x
	ORDER BY x.tx_id, x.position LIMIT $3),
r AS (SELECT e.*, sum` + storedSize + ` OVER (ORDER BY e.tx_id, e.position ROWS UNBOUNDED PRECEDING) AS run, ` + storedSize + ` AS size FROM m e)
(SELECT ` + eventColumns + `, e.run, 0 AS kind FROM r e WHERE e.run - e.size < $4)
UNION ALL
` + headRow + `
ORDER BY 11, 4, 3`
}

// headRow is a filtered page's last row (kind 1): the newest deliverable
// checkpoint, in the page's snapshot (h), with placeholders for the rest.
const headRow = `(SELECT '', 0, e.position, e.tx_id, '00000000-0000-0000-0000-000000000000'::uuid, '', '{}'::jsonb, '{}'::jsonb, now(), 0, 1
   FROM eventscope.events e WHERE e.tx_id < (SELECT xmin FROM h)
  ORDER BY e.tx_id DESC, e.position DESC LIMIT 1)`

// ReadAllWith is ReadAll on any querier.
func ReadAllWith(ctx context.Context, q querier, after Checkpoint, o ReadAllOptions) (Page, error) {
	if o.Limit <= 0 {
		o.Limit = 1000
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	o.Categories, o.Types = distinct(o.Categories), distinct(o.Types)
	var (
		sql  string
		args = []any{after.Tx, after.Pos, o.Limit, o.MaxBytes}
	)
	switch {
	case len(o.Categories) == 0 && len(o.Types) == 0:
		sql = readAllSQL
	case len(o.Types) == 0:
		sql, args = filteredSQL(false, false, len(o.Categories) == 1), append(args, one(o.Categories))
	case len(o.Categories) == 0:
		sql, args = filteredSQL(true, false, len(o.Types) == 1), append(args, one(o.Types))
	default:
		sql, args = filteredSQL(true, true, len(o.Types) == 1), append(args, one(o.Types), o.Categories)
	}
	page := Page{Next: after}
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return page, fmt.Errorf("read all after %s: %w", after, err)
	}
	defer rows.Close()
	var (
		used int
		head *Checkpoint
	)
	for rows.Next() {
		var (
			run  int64
			kind int
		)
		e, err := scanEventWith(rows, &run, &kind)
		if err != nil {
			return page, fmt.Errorf("read all after %s: %w", after, err)
		}
		if kind == 1 {
			head = &e.Checkpoint
			continue
		}
		if page.More {
			if sql == readAllSQL {
				break // cut by the decoded size below; rows.Close discards the rest
			}
			continue // only the head row (the last) is still wanted
		}
		if run >= int64(o.MaxBytes) {
			page.More = true
		}
		page.Events = append(page.Events, e)
		used += eventBytes(&e)
		if used >= o.MaxBytes {
			page.More = true
		}
	}
	if err := rows.Err(); err != nil {
		return Page{Next: after}, fmt.Errorf("read all after %s: %w", after, err)
	}
	if len(page.Events) == o.Limit {
		page.More = true
	}
	if n := len(page.Events); n > 0 {
		page.Next = page.Events[n-1].Checkpoint
	}
	if !page.More && head != nil && head.Compare(page.Next) > 0 {
		page.Next = *head
	}
	page.Scanned = len(page.Events)
	if page.More {
		page.Scanned = o.Limit
	}
	return page, nil
}

// one is a filter's argument: its value when it has one, else the list.
func one(vs []string) any {
	if len(vs) == 1 {
		return vs[0]
	}
	return vs
}

// distinct drops repeated values (each value is one index range of a
// filtered read; a repeated one would return its events twice).
func distinct(vs []string) []string {
	seen := make(map[string]bool, len(vs))
	out := vs[:0:0]
	for _, v := range vs {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
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
