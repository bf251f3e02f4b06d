package subscriptions

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// heldWatcher wakes readers that caught up while committed events were
// still held back behind an older open transaction.
//
// Such an event's wake-up NOTIFY has already been sent, and the transaction
// that holds it back may end without sending one (a rollback, or any
// transaction that is not an append, such as another subscription's
// TxHandler), so without this a reader would wait for its next poll. A
// reader registers the transaction id of the first committed event beyond
// its checkpoint; the watcher asks for the oldest running transaction
// (one query for every waiting reader of the process) after 1 ms, 2 ms,
// 4 ms ... up to every 50 ms, and wakes each reader whose event has become
// readable.
type heldWatcher struct {
	pool *pgxpool.Pool
	logf func(string, ...any)

	mu      sync.Mutex
	waiters map[*target]uint64
	kick    signal
}

const (
	heldMinWait = time.Millisecond
	heldMaxWait = 50 * time.Millisecond
)

func newHeldWatcher(pool *pgxpool.Pool, logf func(string, ...any)) *heldWatcher {
	return &heldWatcher{pool: pool, logf: logf, waiters: map[*target]uint64{}, kick: newSignal()}
}

// wait wakes t once every transaction up to and including tx has ended.
func (w *heldWatcher) wait(t *target, tx uint64) {
	w.mu.Lock()
	cur, ok := w.waiters[t]
	changed := !ok || tx < cur
	if changed {
		w.waiters[t] = tx
	}
	w.mu.Unlock()
	if changed {
		// Check at once: the transaction may have ended already. A reader
		// re-registering the same transaction keeps the current pace.
		w.kick.send()
	}
}

func (w *heldWatcher) pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.waiters)
}

func (w *heldWatcher) run(ctx context.Context) {
	wait := heldMinWait
	for {
		if w.pending() == 0 {
			wait = heldMinWait
			select {
			case <-ctx.Done():
				return
			case <-w.kick:
			}
		}
		var xmin uint64
		err := w.pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())`).Scan(&xmin)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// The readers' polls still cover them; retry at the slowest pace.
			w.logf("subscriptions: held-back watcher: %v", err)
			wait = heldMaxWait
		} else {
			var ready []*target
			w.mu.Lock()
			for t, tx := range w.waiters {
				if tx < xmin {
					ready = append(ready, t)
					delete(w.waiters, t)
				}
			}
			w.mu.Unlock()
			for _, t := range ready {
				t.wake()
			}
		}
		if w.pending() == 0 {
			continue
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
			wait = min(2*wait, heldMaxWait)
		case <-w.kick:
			// a new waiter: check now, and from the shortest wait again
			timer.Stop()
			wait = heldMinWait
		}
	}
}
