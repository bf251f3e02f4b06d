package subscriptions

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// lagExactLimit: lag is counted exactly (with the filter) when the
// checkpoint is at most this many positions behind the head; beyond, it is
// the difference of positions, an estimate over all events.
const lagExactLimit = 10000

// statusSQL reads every subscription's status in one statement: the head,
// parked counts, and the lag, counted over at most lagExactLimit+1 events
// per subscription in global order (so its cost is bounded), else estimated
// from positions.
const statusSQL = `
WITH head AS (
    SELECT e.tx_id, e.position FROM eventscope.events e
     WHERE e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY e.tx_id DESC, e.position DESC LIMIT 1)
SELECT s.name, s.categories, s.types, s.checkpoint_tx, s.checkpoint_pos,
       s.paused, s.stopped, s.control_version <> s.applied_control_version,
       s.holder_host, s.holder_pid, s.holder_instance, s.heartbeat,
       coalesce(s.heartbeat > now() - make_interval(secs => $2), false),
       s.state, s.rate, s.processed, s.failures, s.last_error, s.last_error_at,
       coalesce(h.tx_id, '0'::xid8), coalesce(h.position, 0),
       (SELECT count(*) FROM eventscope.parked_events p WHERE p.subscription = s.name),
       CASE WHEN h.position IS NULL OR (h.tx_id, h.position) <= (s.checkpoint_tx, s.checkpoint_pos) THEN ARRAY[0, 0]::bigint[]
            WHEN h.position - s.checkpoint_pos > $3 THEN NULL
            ELSE (SELECT ARRAY[count(*) FILTER (WHERE (cardinality(s.categories) = 0 OR eventscope.category(w.stream_id) = ANY (s.categories))
                                                  AND (cardinality(s.types) = 0 OR w.type = ANY (s.types))),
                               count(*)]
                    FROM (SELECT e.stream_id, e.type FROM eventscope.events e
                           WHERE (e.tx_id, e.position) > (s.checkpoint_tx, s.checkpoint_pos)
                             AND (e.tx_id, e.position) <= (h.tx_id, h.position)
                           ORDER BY e.tx_id, e.position LIMIT $3 + 1) w)
       END
  FROM eventscope.subscriptions s LEFT JOIN head h ON true
 WHERE $1::text IS NULL OR s.name = $1
 ORDER BY s.name`

func queryStatus(ctx context.Context, st *store.Store, name *string) ([]Status, error) {
	rows, err := st.Pool().Query(ctx, statusSQL, name, freshHeartbeat.Seconds(), lagExactLimit)
	if err != nil {
		return nil, fmt.Errorf("subscription status: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanStatus)
	if err != nil {
		return nil, fmt.Errorf("subscription status: %w", err)
	}
	if list == nil {
		list = []Status{}
	}
	return list, nil
}

func scanStatus(row pgx.CollectableRow) (Status, error) {
	var (
		s                 Status
		host, inst, lastE *string
		pid               *int32
		hb, lastAt        *time.Time
		fresh             bool
		state             string
		lag               []int64
	)
	err := row.Scan(&s.Name, &s.Categories, &s.Types, &s.Checkpoint.Tx, &s.Checkpoint.Pos,
		&s.Paused, &s.Stopped, &s.ControlPending,
		&host, &pid, &inst, &hb, &fresh,
		&state, &s.Rate, &s.Processed, &s.Failures, &lastE, &lastAt,
		&s.Head.Tx, &s.Head.Pos, &s.Parked, &lag)
	if err != nil {
		return s, err
	}
	if hb != nil {
		s.Heartbeat = *hb
	}
	if lastE != nil {
		s.LastError = *lastE
	}
	if lastAt != nil {
		s.LastErrorAt = *lastAt
	}
	if fresh && host != nil {
		s.Holder = &Holder{Host: *host, Instance: deref(inst)}
		if pid != nil {
			s.Holder.PID = int(*pid)
		}
	} else {
		s.Rate = 0
		s.ControlPending = false // nobody to act on it; the next holder reads the row
	}
	switch {
	case lag == nil || (len(lag) == 2 && lag[1] > lagExactLimit):
		s.Lag, s.LagEstimated = max(s.Head.Pos-s.Checkpoint.Pos, 0), true
		if len(lag) == 2 {
			s.Lag = max(s.Lag, lag[1])
		}
	case len(lag) == 2:
		s.Lag = lag[0]
	}
	switch {
	case s.Paused:
		s.State = StatePaused
	case s.Stopped:
		s.State = StateStopped
	case s.Holder == nil:
		s.State = StateNoHolder
	default:
		s.State = State(state)
	}
	return s, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Monitor delivers fresh status snapshots of every subscription, for the
// console and `subs list --watch`. Each snapshot is one query, whatever the
// number of subscriptions.
type Monitor struct {
	st       *store.Store
	interval time.Duration
}

// NewMonitor returns a Monitor that takes a snapshot every interval
// (default 1s).
func NewMonitor(st *store.Store, interval time.Duration) *Monitor {
	if interval <= 0 {
		interval = time.Second
	}
	return &Monitor{st: st, interval: interval}
}

// Interval is the time between snapshots.
func (m *Monitor) Interval() time.Duration { return m.interval }

// Snapshot takes one snapshot now.
func (m *Monitor) Snapshot(ctx context.Context) ([]Status, error) {
	return queryStatus(ctx, m.st, nil)
}

// Run calls fn with a snapshot at once and then every interval until ctx
// is done (fn runs on Run's goroutine; a slow fn delays the next snapshot
// rather than piling them up). A failed snapshot is passed as err with a
// nil list; Run keeps going.
func (m *Monitor) Run(ctx context.Context, fn func([]Status, error)) {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, max(m.interval, 5*time.Second))
		list, err := queryStatus(qctx, m.st, nil)
		cancel()
		if ctx.Err() != nil {
			return
		}
		fn(list, err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
