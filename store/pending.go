package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PendingEvent is an event a reader has not reached yet: its identity and
// place in the log, when it was recorded, and whether readers of the
// global log can see it already.
type PendingEvent struct {
	LogRef
	RecordedAt time.Time `json:"recorded_at"`
	// Age is the server's clock minus RecordedAt when it was read.
	Age time.Duration `json:"age_ns"`
	// Deliverable is false while an older open transaction holds it back.
	Deliverable bool `json:"deliverable"`
	// Matches is false when the answer is the first event after the
	// checkpoint because none of the scanned ones matched the filter.
	Matches bool `json:"matches"`
}

// OldestAfter is the oldest event after a checkpoint that o's filter
// (Categories, Types) takes, deliverable or not: what a subscription at
// that checkpoint waits for. It looks at most at limit events in global
// order (default 10,000), without their data, so its cost is bounded;
// when none of them matches and there are that many, it answers the first
// event after the checkpoint with Matches false. found is false when
// nothing after the checkpoint matches.
func (s *Store) OldestAfter(ctx context.Context, after Checkpoint, o ReadAllOptions, limit int) (ev PendingEvent, found bool, err error) {
	if limit <= 0 {
		limit = 10000
	}
	var scanned int
	var ageNS int64
	err = s.pool.QueryRow(ctx, oldestAfterSQL, after.Tx, after.Pos, limit,
		nonNilStrings(o.Categories), nonNilStrings(o.Types)).Scan(
		&ev.StreamID, &ev.Version, &ev.EventID, &ev.Type, &ev.Checkpoint.Tx, &ev.Checkpoint.Pos,
		&ev.RecordedAt, &ageNS, &ev.Deliverable, &ev.Matches, &scanned)
	if errors.Is(err, pgx.ErrNoRows) {
		return PendingEvent{}, false, nil
	}
	if err != nil {
		return PendingEvent{}, false, fmt.Errorf("oldest event after %s: %w", after, err)
	}
	ev.Age = time.Duration(ageNS)
	if !ev.Matches && scanned < limit {
		return PendingEvent{}, false, nil // everything after the checkpoint is filtered out
	}
	return ev, true, nil
}

// oldestAfterSQL: the first matching event among the first $3 after the
// checkpoint, else the first of them; with the number scanned.
const oldestAfterSQL = `
SELECT w.stream_id, w.version, w.event_id, w.type, w.tx_id, w.position, w.recorded_at,
       (extract(epoch FROM clock_timestamp() - w.recorded_at) * 1e9)::bigint,
       w.tx_id < pg_snapshot_xmin(pg_current_snapshot()), w.matches, count(*) OVER ()
  FROM (SELECT e.stream_id, e.version, e.event_id, e.type, e.tx_id, e.position, e.recorded_at,
               (cardinality($4::text[]) = 0 OR eventscope.category(e.stream_id) = ANY ($4::text[]))
               AND (cardinality($5::text[]) = 0 OR e.type = ANY ($5::text[])) AS matches
          FROM eventscope.events e
         WHERE (e.tx_id, e.position) > ($1::xid8, $2::bigint)
         ORDER BY e.tx_id, e.position LIMIT $3) w
 ORDER BY NOT w.matches, w.tx_id, w.position
 LIMIT 1`

// LogBlocker is the oldest running transaction that holds the global log
// back (nil when none is running), its query redacted (RedactQuery).
func (s *Store) LogBlocker(ctx context.Context) (*Blocker, error) {
	b, err := s.blocker(ctx)
	if err != nil || b == nil {
		return nil, err
	}
	b.Query = RedactQuery(b.Query)
	return b, nil
}

// Horizon is the global log as its readers see it at one moment: the head
// (the newest event they can read) and what waits behind the horizon.
type Horizon struct {
	Head Checkpoint `json:"head"`
	// Pending counts committed events readers cannot see yet because an
	// older transaction is still running, up to HorizonPendingLimit
	// (PendingMore: there are more).
	Pending     int64 `json:"pending"`
	PendingMore bool  `json:"pending_more,omitempty"`
	// Blocker is the oldest running transaction, which holds the log back,
	// when events wait behind it (nil otherwise), its query redacted.
	Blocker *Blocker `json:"blocker,omitempty"`
}

// HorizonPendingLimit bounds Horizon's count of waiting events, so the
// console may ask every second whatever the backlog.
const HorizonPendingLimit = 100000

// Horizon reads the head and what waits behind the horizon in one round
// trip, and names the blocker (a second one) only when events wait: cheap
// enough to poll every second, and the one source of the head and the
// held-back state the console shows everywhere.
func (s *Store) Horizon(ctx context.Context) (Horizon, error) {
	var (
		h       Horizon
		tx      *uint64
		pos     *int64
		pending int64
	)
	err := s.pool.QueryRow(ctx, horizonSQL, HorizonPendingLimit+1).Scan(&tx, &pos, &pending)
	if err != nil {
		return h, fmt.Errorf("read the horizon: %w", err)
	}
	if tx != nil {
		h.Head = Checkpoint{Tx: *tx, Pos: *pos}
	}
	h.Pending = min(pending, HorizonPendingLimit)
	h.PendingMore = pending > HorizonPendingLimit
	if pending > 0 {
		if h.Blocker, err = s.LogBlocker(ctx); err != nil {
			return h, fmt.Errorf("read the horizon: %w", err)
		}
	}
	return h, nil
}

// horizonSQL: the head below the horizon and the committed events above
// it (at most $1), in one snapshot.
const horizonSQL = `
WITH x AS MATERIALIZED (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
h AS (SELECT e.tx_id, e.position FROM eventscope.events e
       WHERE e.tx_id < (SELECT xmin FROM x)
       ORDER BY e.tx_id DESC, e.position DESC LIMIT 1)
SELECT (SELECT tx_id FROM h), (SELECT position FROM h),
       (SELECT count(*) FROM (SELECT 1 FROM eventscope.events e
         WHERE e.tx_id >= (SELECT xmin FROM x)
         ORDER BY e.tx_id LIMIT $1) p)`
