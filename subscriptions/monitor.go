package subscriptions

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// lagExactLimit: lag is counted exactly (with the filter) when the
// checkpoint is at most this many positions behind the head; beyond, it is
// the difference of positions, an estimate over all events.
const lagExactLimit = 10000

func queryStatus(ctx context.Context, db lockBound, st *store.Store, name *string) ([]Status, error) {
	rows, err := db.Query(ctx, statusSQL, name, freshHeartbeat.Seconds())
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
	qs := make([]store.BacklogQuery, len(list))
	for i, s := range list {
		qs[i] = store.BacklogQuery{After: s.Checkpoint, Categories: s.Categories, Types: s.Types}
	}
	head, lags, err := st.Backlogs(ctx, qs, lagExactLimit)
	if err != nil {
		return nil, fmt.Errorf("subscription status: %w", err)
	}
	for i := range list {
		list[i].Head = head
		list[i].Lag, list[i].LagEstimated = lags[i].Events, lags[i].Estimated
	}
	var members []memberRow
	for _, s := range list {
		if s.group != nil {
			rows, err := db.Query(ctx, membersSQL, name)
			if err != nil {
				return nil, fmt.Errorf("subscription members: %w", err)
			}
			if members, err = pgx.CollectRows(rows, pgx.RowToStructByPos[memberRow]); err != nil {
				return nil, fmt.Errorf("subscription members: %w", err)
			}
			break
		}
	}
	return foldGroups(list, members), nil
}

func scanStatus(row pgx.CollectableRow) (Status, error) {
	var (
		s                 Status
		host, inst, lastE *string
		pid               *int32
		hb, lastAt        *time.Time
		fresh, held       bool
		state             string
		pausedAt, rNext   *time.Time
		rEvent            *uuid.UUID
		retry             Retrying
		p99us             *int64
	)
	err := row.Scan(&s.Name, &s.Categories, &s.Types, &s.Checkpoint.Tx, &s.Checkpoint.Pos,
		&s.Paused, &s.Stopped, &s.ControlPending,
		&host, &pid, &inst, &hb, &fresh,
		&state, &s.Rate, &s.Processed, &s.Failures, &lastE, &lastAt, &s.Parked, &held,
		&s.group, &s.partition, &s.partitions,
		&pausedAt, &rEvent, &retry.StreamID, &retry.Version, &retry.Attempt, &retry.Attempts, &rNext,
		&p99us, &s.HandlerCalls, &s.At)
	if err != nil {
		return s, err
	}
	if pausedAt != nil && s.Paused {
		s.PausedAt = *pausedAt
	}
	if p99us != nil {
		s.HandlerP99 = time.Duration(*p99us) * time.Microsecond
	} else {
		s.HandlerCalls = 0
	}
	if rEvent != nil && (fresh || held) {
		retry.EventID = *rEvent
		if rNext != nil {
			retry.NextAt = *rNext
		}
		s.Retry = &retry
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
	// The holder is the process whose heartbeat is fresh, or whose lease
	// backend still holds the lease's lock (alive but silent: frozen, say,
	// until its lease times out).
	if (fresh || held) && host != nil {
		s.Holder = &Holder{Host: *host, Instance: deref(inst)}
		if pid != nil {
			s.Holder.PID = int(*pid)
		}
	}
	if !fresh {
		s.Rate = 0
	}
	if s.Holder == nil {
		s.ControlPending = false // nobody to act on it; the next holder reads the row
	}
	switch {
	case s.Paused:
		s.State = StatePaused
	case s.Stopped:
		s.State = StateStopped
	case s.Holder == nil:
		s.State = StateNoHolder
	case !fresh:
		s.State = StateUnresponsive
	default:
		s.State = stateColumn(state)
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
// console and `subs list --watch`. Each snapshot is two queries (the rows,
// then the lags from the store), whatever the number of subscriptions.
type Monitor struct {
	st       *store.Store
	db       lockBound
	interval time.Duration
}

// NewMonitor returns a Monitor that takes a snapshot every interval
// (default 1s).
func NewMonitor(st *store.Store, interval time.Duration) *Monitor {
	if interval <= 0 {
		interval = time.Second
	}
	return &Monitor{st: st, db: lockBound{pool: st.Pool(), timeout: DefaultLockTimeout}, interval: interval}
}

// Snapshot takes one snapshot now.
func (m *Monitor) Snapshot(ctx context.Context) ([]Status, error) {
	return queryStatus(ctx, m.db, m.st, nil)
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
		list, err := queryStatus(qctx, m.db, m.st, nil)
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
