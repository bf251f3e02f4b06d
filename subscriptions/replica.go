package subscriptions

import (
	"context"
	"fmt"
	"time"

	"eventscope/store"
)

// Reads from a hot standby.
//
// A Runner with RunnerOptions.ReadStore, and Follow with
// FollowOptions.Primary, read the log from a streaming replica while every
// write (checkpoints, leases, heartbeats, parking) and LISTEN go to the
// primary. The no-skip guarantee holds on the standby: store.ReadAll reads
// below pg_snapshot_xmin(pg_current_snapshot()), and a standby's snapshot
// counts as running every transaction id the primary may have assigned and
// not yet ended (a standby records as running every id up to the newest it
// has seen in the WAL), so an event that commits late on the primary is
// still read after the events of later transactions, on the standby as on
// the primary. Checkpoints read on the primary (a new subscription at the
// end, a reset) are safe to read after on the standby: it only shows them
// later.
//
// LISTEN is refused during recovery, so wake-ups come from the primary's
// LISTEN connection; a wake-up means the primary has committed more, and
// the standby may not have replayed it yet, so before reading the waiter
// takes the primary's WAL position and waits (1 ms, 2 ms ... up to every
// 50 ms, for at most maxReplayWait) until the standby has replayed up to
// it. Without a primary to listen on, Follow on a standby polls and never
// tries LISTEN.

// Replay-wait pacing.
const (
	replayMinWait = time.Millisecond
	replayMaxWait = 50 * time.Millisecond
	maxReplayWait = 5 * time.Second
)

// Statements on the primary and the standby (no table of ours: server
// state only).
const (
	primaryLSNSQL = `SELECT pg_current_wal_lsn()::text`
	replayedSQL   = `SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, true)`
	inRecoverySQL = `SELECT pg_is_in_recovery()`
	replicaLagSQL = `
SELECT pg_is_in_recovery(),
       coalesce(pg_last_wal_replay_lsn()::text, ''),
       coalesce(pg_wal_lsn_diff($1::pg_lsn, pg_last_wal_replay_lsn()), 0)::bigint,
       coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)::float8`
)

// replayWaiter makes reads from a standby see what the primary had written
// when a wake-up came.
type replayWaiter struct {
	primary, replica *store.Store
	logf             func(string, ...any)
	failing          bool // the last wait failed (logged once until it works again)
}

// await waits until the standby has replayed the primary's current WAL
// position (or maxReplayWait has passed, or either server fails: the
// read then goes ahead and the poll catches up later).
func (w *replayWaiter) await(ctx context.Context) {
	var lsn string
	err := w.primary.Pool().QueryRow(ctx, primaryLSNSQL).Scan(&lsn)
	if err == nil {
		deadline := time.Now().Add(maxReplayWait)
		wait := replayMinWait
		for {
			var done bool
			if err = w.replica.Pool().QueryRow(ctx, replayedSQL, lsn).Scan(&done); err != nil || done {
				break
			}
			if time.Now().After(deadline) {
				err = fmt.Errorf("the standby has not replayed WAL %s after %s", lsn, maxReplayWait)
				break
			}
			if !sleepCtx(ctx, wait) {
				return
			}
			wait = min(2*wait, replayMaxWait)
		}
	}
	switch {
	case err != nil && ctx.Err() == nil && !w.failing:
		w.failing = true
		w.logf("subscriptions: waiting for the standby to replay: %v (reading what it has; polling)", err)
	case err == nil && w.failing:
		w.failing = false
		w.logf("subscriptions: the standby replays again")
	}
}

// ReplicaStatus is how far a hot standby is behind its primary.
type ReplicaStatus struct {
	// InRecovery is false when the read database is not a standby at all.
	InRecovery bool `json:"in_recovery"`
	// PrimaryLSN is the primary's current WAL position, ReplayLSN the
	// standby's last replayed one.
	PrimaryLSN string `json:"primary_lsn"`
	ReplayLSN  string `json:"replay_lsn"`
	// LagBytes is the WAL the standby has still to replay.
	LagBytes int64 `json:"lag_bytes"`
	// LagTime is the age of the last transaction the standby replayed
	// while it is behind (0 when it has replayed everything).
	LagTime time.Duration `json:"lag_ns"`
}

func (s ReplicaStatus) String() string {
	if !s.InRecovery {
		return "not a standby (the read database is a primary)"
	}
	if s.LagBytes <= 0 {
		return fmt.Sprintf("caught up (replayed %s)", s.ReplayLSN)
	}
	return fmt.Sprintf("%d bytes of WAL behind, %s (replayed %s of %s)", s.LagBytes, s.LagTime.Round(time.Millisecond), s.ReplayLSN, s.PrimaryLSN)
}

// ReplicaLag reports how far the standby replica is behind primary.
func ReplicaLag(ctx context.Context, primary, replica *store.Store) (ReplicaStatus, error) {
	var s ReplicaStatus
	if err := primary.Pool().QueryRow(ctx, primaryLSNSQL).Scan(&s.PrimaryLSN); err != nil {
		return s, fmt.Errorf("read the primary's WAL position: %w", err)
	}
	var secs float64
	if err := replica.Pool().QueryRow(ctx, replicaLagSQL, s.PrimaryLSN).Scan(&s.InRecovery, &s.ReplayLSN, &s.LagBytes, &secs); err != nil {
		return s, fmt.Errorf("read the standby's replay position: %w", err)
	}
	if !s.InRecovery {
		s.LagBytes, s.ReplayLSN = 0, ""
	}
	if s.LagBytes > 0 {
		s.LagTime = time.Duration(secs * float64(time.Second))
	}
	return s, nil
}

// inRecovery reports whether st's server is a standby.
func inRecovery(ctx context.Context, st *store.Store) (bool, error) {
	var r bool
	err := st.Pool().QueryRow(ctx, inRecoverySQL).Scan(&r)
	return r, err
}
