package store

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// waker sends coalesced wake-up NOTIFYs after appends commit.
//
// NOTIFY inside an append's transaction takes a database-wide lock from
// pre-commit until the commit ends, which serialises every notifying commit
// (measured: 16 writers drop to about half the throughput). Instead the
// Store NOTIFYs from one goroutine, after the append committed: at most one
// NOTIFY in flight per process, at most one per interval, carrying the
// categories that got events since the last one.
type waker struct {
	pool     *pgxpool.Pool
	interval time.Duration

	closeOnce sync.Once
	mu        sync.Mutex
	pending   map[string]struct{}
	dirty     bool
	signal    chan struct{}
	done      chan struct{}
	stopped   chan struct{}
}

func newWaker(pool *pgxpool.Pool, interval time.Duration) *waker {
	w := &waker{
		pool: pool, interval: interval,
		pending: map[string]struct{}{},
		signal:  make(chan struct{}, 1),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go w.loop()
	return w
}

func (w *waker) kick(categories ...string) {
	w.mu.Lock()
	for _, c := range categories {
		w.pending[c] = struct{}{}
	}
	w.dirty = true
	w.mu.Unlock()
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

func (w *waker) take() (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.dirty {
		return "", false
	}
	cats := make([]string, 0, len(w.pending))
	size := 0
	for c := range w.pending {
		cats = append(cats, c)
		size += len(c) + 1
	}
	clear(w.pending)
	w.dirty = false
	// An empty payload wakes everyone: when the list would near NOTIFY's
	// 8 KB cap, or when a category holds the separator.
	if size > 4000 || slices.ContainsFunc(cats, func(c string) bool { return strings.Contains(c, ",") }) {
		return "", true
	}
	sort.Strings(cats)
	return strings.Join(cats, ","), true
}

func (w *waker) loop() {
	defer close(w.stopped)
	var last time.Time
	for {
		select {
		case <-w.signal:
		case <-w.done:
			if payload, ok := w.take(); ok {
				w.send(payload)
			}
			return
		}
		if wait := w.interval - time.Since(last); wait > 0 {
			select {
			case <-time.After(wait):
			case <-w.done:
			}
		}
		payload, ok := w.take()
		if !ok {
			continue
		}
		last = time.Now()
		w.send(payload)
	}
}

func (w *waker) send(payload string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A lost wake-up only delays delivery until the subscribers' poll.
	_, _ = w.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, NotifyChannel, payload)
}

func (w *waker) close() {
	w.closeOnce.Do(func() { close(w.done) })
	<-w.stopped
}

// CommitWatch notices new deliverable events without the writers' help, so
// that no append has to NOTIFY (plain SQL callers included) and none is
// slowed for the sake of subscribers.
//
// One connection per database is the watcher: it holds a session advisory
// lock (ElectWatcher) and checks the head of the deliverable log, the newest
// event below the oldest running transaction, adaptively: every MinWait
// while events keep coming and for HotFor after the last one, then less and
// less often, down to every MaxWait when the log is idle. When the head
// moved it sends one NOTIFY with an empty payload (wake everyone), from its
// own tiny transaction, in the same statement: appends never wait for it,
// and at most one such NOTIFY goes per check. Because the head is taken
// below the horizon, an event that was held back behind an older
// transaction moves it when that transaction ends, so held-back events wake
// subscribers too. Every other process only listens; when the watcher's
// connection dies its lock is free, and the next to try takes over.
type CommitWatch struct {
	// MinWait is the gap between checks while events arrive. Default 1ms.
	MinWait time.Duration
	// HotFor is how long checks stay at MinWait after the head last moved
	// (or after a wake-up from elsewhere arrived). Default 50ms.
	HotFor time.Duration
	// MaxWait is the gap between checks on an idle log; the gap doubles
	// from MinWait to it after HotFor. Default 50ms.
	MaxWait time.Duration

	head     Checkpoint
	known    bool
	wait     time.Duration
	hotUntil time.Time
	checks   int64
	notifies int64
}

// NewCommitWatch returns a CommitWatch with the default pacing.
func NewCommitWatch() *CommitWatch {
	return &CommitWatch{MinWait: time.Millisecond, HotFor: 50 * time.Millisecond, MaxWait: 50 * time.Millisecond}
}

// watcherLockKey is the session advisory lock the database's one commit
// watcher holds ("eventscope watcher").
const watcherLockKey int64 = 0x65737761746368 // "eswatch"

// execQuerier is satisfied by *pgx.Conn (and pools, transactions).
type execQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ElectWatcher tries to make the session of conn the database's commit
// watcher; it reports whether it is. Call it only while the session is not
// the watcher (the lock stacks). It doubles as a cheap check that the
// connection is alive.
func ElectWatcher(ctx context.Context, conn execQuerier) (bool, error) {
	var ok bool
	err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, watcherLockKey).Scan(&ok)
	return ok, err
}

// commitWatchSQL reads the deliverable head and, when it differs from
// $1:$2, NOTIFYs in the same autocommit statement.
const commitWatchSQL = `
SELECT x.tx, x.pos, CASE WHEN $3 AND (x.tx, x.pos) IS DISTINCT FROM ($1::text::xid8, $2::bigint)
                         THEN pg_notify('` + NotifyChannel + `', '') IS NULL END
  FROM (SELECT coalesce(h.tx_id, '0') AS tx, coalesce(h.position, 0) AS pos
          FROM (SELECT 1) one
          LEFT JOIN LATERAL (SELECT e.tx_id, e.position FROM eventscope.events e
                              WHERE e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
                              ORDER BY e.tx_id DESC, e.position DESC LIMIT 1) h ON true) x`

// Check reads the head and, when it moved since the last check, sends the
// wake-up; it reports whether it did. The first check only learns the head.
func (w *CommitWatch) Check(ctx context.Context, conn execQuerier) (bool, error) {
	w.defaults()
	var (
		h    Checkpoint
		sent *bool
	)
	if err := conn.QueryRow(ctx, commitWatchSQL, strconv.FormatUint(w.head.Tx, 10), w.head.Pos, w.known).Scan(&h.Tx, &h.Pos, &sent); err != nil {
		return false, fmt.Errorf("watch the log head: %w", err)
	}
	w.checks++
	moved := w.known && h != w.head
	w.head, w.known = h, true
	if moved {
		w.notifies++
		w.Activity()
	} else {
		w.wait = min(2*w.wait, w.MaxWait)
	}
	return moved, nil
}

// Activity says events are arriving (a wake-up came from elsewhere): check
// at the fastest pace for HotFor.
func (w *CommitWatch) Activity() {
	w.defaults()
	w.wait = w.MinWait
	w.hotUntil = time.Now().Add(w.HotFor)
}

// Wait is how long to wait before the next check.
func (w *CommitWatch) Wait() time.Duration {
	w.defaults()
	if time.Now().Before(w.hotUntil) {
		return w.MinWait
	}
	return max(w.wait, w.MinWait)
}

// Counts reports the checks made and the wake-ups sent so far.
func (w *CommitWatch) Counts() (checks, notifies int64) { return w.checks, w.notifies }

func (w *CommitWatch) defaults() {
	if w.MinWait <= 0 {
		w.MinWait = time.Millisecond
	}
	if w.MaxWait < w.MinWait {
		w.MaxWait = max(w.MinWait, 50*time.Millisecond)
	}
	if w.wait <= 0 {
		w.wait = w.MinWait
	}
}
