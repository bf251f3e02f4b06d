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
