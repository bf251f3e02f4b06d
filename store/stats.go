package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Stats summarise the store.
type Stats struct {
	Events     int64           `json:"events"`
	Streams    int64           `json:"streams"`
	Categories []CategoryCount `json:"categories"`
	Types      []TypeCount     `json:"types,omitempty"`
	Head       Checkpoint      `json:"head"`
	// LastPosition is the highest position handed out (it may belong to an
	// event not yet committed or rolled back).
	LastPosition int64 `json:"last_position"`
	// Pending counts committed events that readers of the global log cannot
	// see yet because an older transaction is still running.
	Pending int64 `json:"pending"`
	// Blocker is the oldest running transaction that holds the global log
	// back (nil when none does).
	Blocker *Blocker `json:"blocker,omitempty"`
	// ServerVersion is PostgreSQL's version string, e.g. "15.20".
	ServerVersion string `json:"server_version"`
}

// CategoryCount counts one category's streams and events.
type CategoryCount struct {
	Category string `json:"category"`
	Streams  int64  `json:"streams"`
	Events   int64  `json:"events"`
}

// TypeCount counts one event type.
type TypeCount struct {
	Type   string `json:"type"`
	Events int64  `json:"events"`
}

// Blocker is a transaction that holds delivery of the global log back.
type Blocker struct {
	PID             int           `json:"pid"` // 0 for a prepared transaction
	Age             time.Duration `json:"age_ns"`
	State           string        `json:"state"`
	Query           string        `json:"query"` // literals redacted unless StatsOptions.FullQuery
	ApplicationName string        `json:"application_name"`
	Database        string        `json:"database"`
	Prepared        string        `json:"prepared,omitempty"` // gid of a prepared transaction
}

// StatsOptions choose the costlier parts of Stats.
type StatsOptions struct {
	// Types counts events per type, which scans every event. Default false.
	Types bool
	// FullQuery shows the blocker's query text as it is. Default false: its
	// shape only, every literal replaced by "?" (RedactQuery), since another
	// session's statement may carry secrets in its literals.
	FullQuery bool
}

// Stats counts events, streams, categories (and types when asked), finds the
// head, and names the transaction holding the global log back, if any.
func (s *Store) Stats(ctx context.Context, o StatsOptions) (Stats, error) {
	var st Stats
	rows, err := s.pool.Query(ctx, `SELECT category, count(*), sum(event_count)::bigint FROM eventscope.streams GROUP BY category ORDER BY 3 DESC, 1`)
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	st.Categories, err = pgx.CollectRows(rows, pgx.RowToStructByPos[CategoryCount])
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	st.Categories = nonNil(st.Categories)
	for _, c := range st.Categories {
		st.Streams += c.Streams
		st.Events += c.Events
	}
	if o.Types {
		rows, err := s.pool.Query(ctx, `SELECT type, count(*) FROM eventscope.events GROUP BY type ORDER BY 2 DESC, 1`)
		if err != nil {
			return st, fmt.Errorf("stats: %w", err)
		}
		if st.Types, err = pgx.CollectRows(rows, pgx.RowToStructByPos[TypeCount]); err != nil {
			return st, fmt.Errorf("stats: %w", err)
		}
	}
	// One round trip for the scalars (the console polls this every second):
	// the head, the last position handed out, what waits behind the
	// horizon, and the server's version.
	var head struct {
		tx  *uint64
		pos *int64
	}
	err = s.pool.QueryRow(ctx, `WITH h AS (SELECT e.tx_id, e.position FROM eventscope.events e
		  WHERE e.tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
		  ORDER BY e.tx_id DESC, e.position DESC LIMIT 1)
		SELECT (SELECT tx_id FROM h), (SELECT position FROM h),
		(SELECT last_value FROM eventscope.events_position_seq),
		-- ORDER BY ... LIMIT makes the planner walk the (tx_id, position) index:
		-- it cannot see that the xmin bound leaves only the newest rows.
		(SELECT count(*) FROM (SELECT 1 FROM eventscope.events e
		  WHERE e.tx_id >= (SELECT pg_snapshot_xmin(pg_current_snapshot()))
		  ORDER BY e.tx_id LIMIT 1000000000) pending),
		current_setting('server_version')`).Scan(&head.tx, &head.pos, &st.LastPosition, &st.Pending, &st.ServerVersion)
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	if head.tx != nil {
		st.Head = Checkpoint{Tx: *head.tx, Pos: *head.pos}
	}
	if st.Pending > 0 {
		if st.Blocker, err = s.blocker(ctx); err != nil {
			return st, err
		}
		if st.Blocker != nil && !o.FullQuery {
			st.Blocker.Query = RedactQuery(st.Blocker.Query)
		}
	}
	return st, nil
}

// Blocker names the oldest running transaction holding a transaction id,
// which is what holds the global log back; nil when none is running.
func (s *Store) blocker(ctx context.Context) (*Blocker, error) {
	var b Blocker
	// eventscope.log_blocker runs as the owner, so a reader sees every
	// session's transaction id (pg_stat_activity hides other roles' from a
	// role outside pg_read_all_stats); see migration 011.
	err := s.pool.QueryRow(ctx, `SELECT pid, age_ns, state, query, app, db, gid FROM eventscope.log_blocker()`).Scan(&b.PID, &b.Age, &b.State, &b.Query, &b.ApplicationName, &b.Database, &b.Prepared)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stats: find blocker: %w", err)
	}
	return &b, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
