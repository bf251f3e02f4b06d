package subscriptions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"eventscope/store"
)

// sub is one subscription inside a Runner. One goroutine (run) does all its
// work; the lease loop, the listener (control notifications), the heartbeat
// and the shared log talk to it through atomics, signals and channels.
type sub struct {
	r    *Runner
	def  Subscription
	key  int64
	tgt  *target
	kick signal // lease, control or fencing news
	// more is closed when the shared log has more (set when caught up with it)
	more <-chan struct{}

	// written by the lease loop
	locked  atomic.Bool
	lockGen atomic.Uint64
	// set by anyone; handled by the goroutine
	ctrlPending atomic.Bool // the row's control columns changed: reload
	needVerify  atomic.Bool // a fenced write failed or the heartbeat missed the row: check the lease
	deleted     atomic.Bool // the row was deleted: stop for good
	// counters for metrics (and steps, for tests: the goroutine's wake-ups)
	processed atomic.Int64
	failures  atomic.Int64
	steps     atomic.Int64

	// owned by the goroutine
	active        bool
	activeGen     uint64
	epoch         int64
	resetVersion  int64
	cursor        store.Checkpoint
	paused        bool
	stopped       bool
	retryPending  bool
	lastConfirmed time.Time
	errBackoff    *backoff
	retryTimer    *time.Timer
	// A Handler's checkpoint while live is saved every BatchSize events or
	// flushAfter, whichever comes first: cursor may be ahead of saved, with
	// unsaved events processed since (see deliverPlain).
	saved      store.Checkpoint
	unsaved    int
	dirtySince time.Time
	flushTimer *time.Timer

	mu      sync.Mutex
	pub     pubState
	samples []rateSample
}

// pubState is what the goroutine publishes for heartbeats, polls and metrics.
type pubState struct {
	active         bool
	epoch          int64
	resetVersion   int64
	controlVersion int64
	cursor         store.Checkpoint
	persistable    store.Checkpoint // a checkpoint with no unsaved events before it: the heartbeat may write it
	state          State
	parked         int64
	rate           float64
}

type rateSample struct {
	at time.Time
	n  int64
}

func newSub(r *Runner, s Subscription) *sub {
	sb := &sub{
		r: r, def: s, key: lockKey(s.Name),
		kick:       newSignal(),
		errBackoff: newBackoff(100*time.Millisecond, 2*time.Second),
	}
	sb.tgt = &target{
		name: s.Name, // control notifications only: data wakes the shared log
		control: func() {
			sb.ctrlPending.Store(true)
			sb.kick.send()
		},
	}
	sb.pub.state = StateCatchingUp
	return sb
}

func (s *sub) logf(format string, args ...any) {
	s.r.logf("subscriptions: %s: "+format, append([]any{s.def.Name}, args...)...)
}

func (s *sub) public() pubState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pub
}

// sample records the processed count for the rate and returns the state
// with the rate over the last minute.
func (s *sub) sample(now time.Time) pubState {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples = append(s.samples, rateSample{now, s.processed.Load()})
	cut := 0
	for cut < len(s.samples)-1 && now.Sub(s.samples[cut+1].at) >= time.Minute {
		cut++
	}
	s.samples = s.samples[cut:]
	first, last := s.samples[0], s.samples[len(s.samples)-1]
	if span := last.at.Sub(first.at).Seconds(); span > 0 {
		s.pub.rate = float64(last.n-first.n) / span
	} else {
		s.pub.rate = 0
	}
	if !s.pub.active {
		s.pub.rate = 0
	}
	return s.pub
}

func (s *sub) publish(f func(p *pubState)) {
	s.mu.Lock()
	f(&s.pub)
	s.mu.Unlock()
}

func (s *sub) setState(st State) { s.publish(func(p *pubState) { p.state = st }) }

func (s *sub) setCursor(cp store.Checkpoint) {
	s.cursor = cp
	s.publish(func(p *pubState) { p.cursor = cp })
}

// flushAfter bounds how long a live Handler's checkpoint stays unsaved.
const flushAfter = 250 * time.Millisecond

// advance moves the cursor past n processed events (or past events the
// filter skipped, n = 0) without saving the checkpoint; flush saves it.
func (s *sub) advance(cp store.Checkpoint, n int) {
	s.setCursor(cp)
	s.unsaved += n
	if s.unsaved == 0 {
		// Only events the filter skipped: the heartbeat saves it (forward
		// only, and not across a reset), one statement for all.
		s.publish(func(p *pubState) { p.persistable = cp })
		return
	}
	if s.dirtySince.IsZero() {
		s.dirtySince = time.Now()
		if s.flushTimer != nil {
			s.flushTimer.Stop()
		}
		s.flushTimer = time.AfterFunc(flushAfter, s.kick.send)
	}
}

// markSaved records a checkpoint write at cp that counted every unsaved event.
func (s *sub) markSaved(cp store.Checkpoint) {
	s.setCursor(cp)
	s.publish(func(p *pubState) { p.persistable = cp })
	s.saved, s.unsaved, s.dirtySince = cp, 0, time.Time{}
	s.lastConfirmed = time.Now()
}

func (s *sub) dirty() bool { return !s.dirtySince.IsZero() }

// flush saves an advanced cursor.
func (s *sub) flush(ctx context.Context) bool {
	if !s.dirty() || !s.active {
		return true
	}
	fenced, err := s.writeCheckpoint(ctx, s.r.st.Pool(), s.cursor, s.unsaved)
	if err != nil {
		s.dbError(ctx, "saving the checkpoint", err)
		return false
	}
	if !fenced {
		return false
	}
	s.markSaved(s.cursor)
	return true
}

// run is the subscription's goroutine.
func (s *sub) run(ctx context.Context) {
	bo := newBackoff(100*time.Millisecond, 5*time.Second)
	for {
		err := s.ensureRow(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		d := bo.next()
		s.logf("creating the subscription row: %v; retrying in %s", err, d)
		if !sleepCtx(ctx, d) {
			return
		}
	}
	defer s.shutdown(ctx)
	for ctx.Err() == nil {
		s.step(ctx)
		if s.deleted.Load() {
			return
		}
		select {
		case <-ctx.Done():
		case <-s.kick:
		case <-s.more:
		}
	}
}

// ensureRow creates the subscription's row unless it exists.
func (s *sub) ensureRow(ctx context.Context) error {
	start := s.def.Start
	if s.def.StartAtEnd {
		var exists bool
		if err := s.r.st.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM eventscope.subscriptions WHERE name = $1)`, s.def.Name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		h, err := s.r.st.Head(ctx)
		if err != nil {
			return err
		}
		start = h
	}
	_, err := s.r.st.Pool().Exec(ctx, `
		INSERT INTO eventscope.subscriptions (name, categories, types, checkpoint_tx, checkpoint_pos)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING`,
		s.def.Name, s.def.Categories, s.def.Types, start.Tx, start.Pos)
	return err
}

// step handles lease and control news, then delivers what there is.
func (s *sub) step(ctx context.Context) {
	s.steps.Add(1)
	s.more = nil // waited on only when catchUp leaves it caught up
	if !s.syncLease(ctx) || !s.active {
		return
	}
	if s.needVerify.Swap(false) && !s.verify(ctx) {
		return
	}
	if s.ctrlPending.Swap(false) {
		s.flush(ctx) // refused after a reset, which is right: the row wins
		if !s.reload(ctx) {
			return
		}
	}
	if s.dirty() && time.Since(s.dirtySince) >= flushAfter && !s.flush(ctx) {
		return
	}
	if s.paused || s.stopped || !s.active {
		return
	}
	if s.retryPending && !s.redeliverParked(ctx) {
		return
	}
	s.catchUp(ctx)
}

// retryLater kicks the goroutine after a growing pause (database errors).
func (s *sub) retryLater() {
	d := s.errBackoff.next()
	if s.retryTimer != nil {
		s.retryTimer.Stop()
	}
	s.retryTimer = time.AfterFunc(d, s.kick.send)
}

// dbError logs a database error and schedules another try.
func (s *sub) dbError(ctx context.Context, what string, err error) {
	if ctx.Err() != nil {
		return
	}
	s.logf("%s: %v", what, err)
	s.retryLater()
}

func (s *sub) canDeliver(ctx context.Context) bool {
	return ctx.Err() == nil && s.active && s.locked.Load() && s.lockGen.Load() == s.activeGen &&
		!s.ctrlPending.Load() && !s.needVerify.Load() && !s.deleted.Load()
}

// syncLease follows the lease loop: it deactivates the subscription when
// its lock was lost (or lost and taken again) and activates it when its
// lock is held. It reports false when the goroutine should wait.
func (s *sub) syncLease(ctx context.Context) bool {
	locked, gen := s.locked.Load(), s.lockGen.Load()
	if s.active && (!locked || gen != s.activeGen) {
		s.logf("lease lost (epoch %d); standing by", s.epoch)
		s.deactivate(ctx, false)
	}
	if !s.active && locked {
		if err := s.activate(ctx, gen); err != nil {
			s.dbError(ctx, "taking the lease", err)
			return false
		}
	}
	return true
}

const activateSQL = `
UPDATE eventscope.subscriptions
   SET lease_epoch = nextval('eventscope.subscription_lease_seq'),
       holder_host = $2, holder_pid = $3, holder_instance = $4, heartbeat = now(),
       state = 'catching-up', rate = 0, applied_control_version = control_version,
       categories = $5, types = $6
 WHERE name = $1
   AND EXISTS (SELECT 1 FROM pg_locks l
                WHERE l.locktype = 'advisory' AND l.pid = $7 AND l.granted
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND l.classid::bigint = $8 AND l.objid::bigint = $9 AND l.objsubid = 1)
RETURNING lease_epoch, reset_version, control_version, checkpoint_tx, checkpoint_pos, paused, stopped,
       EXISTS (SELECT 1 FROM eventscope.parked_events p WHERE p.subscription = $1 AND p.retry_requested),
       (SELECT count(*) FROM eventscope.parked_events p WHERE p.subscription = $1)`

// errLockNotHeld: the lease connection's backend does not hold the
// subscription's advisory lock (the connection died or was replaced).
var errLockNotHeld = errors.New("the lease connection does not hold the subscription's lock")

// rowControl is the row's control state as activate and reload read it.
type rowControl struct {
	epoch, resetVersion, controlVersion int64
	cursor                              store.Checkpoint
	paused, stopped, retry              bool
	parked                              int64
}

// activate takes over the subscription: a new lease epoch fences out every
// earlier holder, and the checkpoint is read after it.
//
// The new epoch is committed only while the lease connection's backend
// (leasePID) really holds the subscription's advisory lock: a process whose
// lease backend died (its lock perhaps already taken by another process)
// but has not noticed yet must not fence out the real holder.
func (s *sub) activate(ctx context.Context, gen uint64) error {
	s.r.unlockMu.Lock()
	leasePID := s.r.leasePID
	s.r.unlockMu.Unlock()
	if leasePID == 0 {
		return errLockNotHeld
	}
	// A bigint advisory key is classid (high 32 bits), objid (low 32 bits), objsubid 1.
	classid, objid := int64(uint64(s.key)>>32), int64(uint64(s.key)&0xffffffff)
	var c rowControl
	err := s.r.st.Pool().QueryRow(ctx, activateSQL, s.def.Name, s.r.host, s.r.pid, s.r.o.Instance, s.def.Categories, s.def.Types,
		int64(leasePID), classid, objid).
		Scan(&c.epoch, &c.resetVersion, &c.controlVersion, &c.cursor.Tx, &c.cursor.Pos, &c.paused, &c.stopped, &c.retry, &c.parked)
	if errors.Is(err, pgx.ErrNoRows) {
		var exists bool
		if err := s.r.st.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM eventscope.subscriptions WHERE name = $1)`, s.def.Name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return errLockNotHeld // the lease loop will notice its connection is gone
		}
		s.markDeleted()
		return nil
	}
	if err != nil {
		return err
	}
	s.active, s.activeGen = true, gen
	s.ctrlPending.Store(false)
	s.needVerify.Store(false)
	s.apply(c)
	s.errBackoff.reset()
	s.logf("holding the lease (epoch %d) from checkpoint %s", c.epoch, c.cursor)
	return nil
}

func (s *sub) apply(c rowControl) {
	s.epoch, s.resetVersion = c.epoch, c.resetVersion
	s.paused, s.stopped, s.retryPending = c.paused, c.stopped, c.retry
	s.lastConfirmed = time.Now()
	s.cursor, s.saved, s.unsaved, s.dirtySince = c.cursor, c.cursor, 0, time.Time{}
	st := StateCatchingUp
	if c.stopped {
		st = StateStopped
	}
	s.mu.Lock()
	if !s.pub.active {
		// the rate counts from the moment this process holds the subscription
		s.samples = append(s.samples[:0], rateSample{time.Now(), s.processed.Load()})
	}
	s.mu.Unlock()
	s.publish(func(p *pubState) {
		p.active = true
		p.epoch, p.resetVersion, p.controlVersion = c.epoch, c.resetVersion, c.controlVersion
		p.cursor, p.persistable = c.cursor, c.cursor
		p.parked = c.parked
		p.state = st
	})
}

const reloadSQL = `
UPDATE eventscope.subscriptions SET applied_control_version = control_version
 WHERE name = $1 AND lease_epoch = $2
RETURNING lease_epoch, reset_version, control_version, checkpoint_tx, checkpoint_pos, paused, stopped,
       EXISTS (SELECT 1 FROM eventscope.parked_events p WHERE p.subscription = $1 AND p.retry_requested),
       (SELECT count(*) FROM eventscope.parked_events p WHERE p.subscription = $1)`

// reload re-reads the row after a control change and acknowledges it
// (applied_control_version). The checkpoint is taken from the row: a reset
// moved it, and otherwise it equals what this holder wrote last.
func (s *sub) reload(ctx context.Context) bool {
	var c rowControl
	err := s.r.st.Pool().QueryRow(ctx, reloadSQL, s.def.Name, s.epoch).
		Scan(&c.epoch, &c.resetVersion, &c.controlVersion, &c.cursor.Tx, &c.cursor.Pos, &c.paused, &c.stopped, &c.retry, &c.parked)
	if errors.Is(err, pgx.ErrNoRows) {
		return s.verify(ctx)
	}
	if err != nil {
		s.ctrlPending.Store(true)
		s.dbError(ctx, "reloading control state", err)
		return false
	}
	if c.resetVersion != s.resetVersion || c.cursor != s.cursor {
		s.logf("checkpoint set to %s", c.cursor)
	}
	s.apply(c)
	return true
}

// verify confirms the lease: the row exists and still carries this
// holder's epoch. A control change it notices is left for reload.
func (s *sub) verify(ctx context.Context) bool {
	var epoch, rv, cv int64
	err := s.r.st.Pool().QueryRow(ctx, `SELECT lease_epoch, reset_version, control_version FROM eventscope.subscriptions WHERE name = $1`, s.def.Name).
		Scan(&epoch, &rv, &cv)
	if errors.Is(err, pgx.ErrNoRows) {
		s.markDeleted()
		return false
	}
	if err != nil {
		s.needVerify.Store(true)
		s.dbError(ctx, "confirming the lease", err)
		return false
	}
	if epoch != s.epoch {
		// Another holder took over: this process's lock must be gone too
		// (or the row was recreated). Stand by and let the lease loop find
		// out which.
		s.logf("lease taken over (epoch %d, ours %d); standing by", epoch, s.epoch)
		s.deactivate(ctx, false)
		s.locked.Store(false)
		s.r.requestUnlock(s.key)
		return false
	}
	s.lastConfirmed = time.Now()
	if rv != s.resetVersion || cv != s.public().controlVersion {
		s.ctrlPending.Store(true)
		s.kick.send()
		return false
	}
	return true
}

func (s *sub) markDeleted() {
	if s.deleted.Swap(true) {
		return
	}
	s.logf("the subscription was deleted; this runner stops it (restart the process to create it again)")
	s.active = false
	s.publish(func(p *pubState) { p.active = false })
	s.locked.Store(false)
	s.r.requestUnlock(s.key)
}

// deactivate stops holding. graceful clears the holder columns (when this
// process stops); after a lost lease they belong to the next holder.
func (s *sub) deactivate(ctx context.Context, graceful bool) {
	if !s.active {
		return
	}
	if graceful {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		s.flush(fctx)
		cancel()
	}
	s.active = false
	s.publish(func(p *pubState) { p.active = false; p.rate = 0 })
	if graceful {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if _, err := s.r.st.Pool().Exec(cctx, `
			UPDATE eventscope.subscriptions
			   SET holder_host = NULL, holder_pid = NULL, holder_instance = NULL, heartbeat = NULL, rate = 0,
			       state = CASE WHEN stopped THEN 'stopped' ELSE 'catching-up' END
			 WHERE name = $1 AND lease_epoch = $2`, s.def.Name, s.epoch); err != nil {
			s.logf("releasing the holder row: %v", err)
		}
	}
}

func (s *sub) shutdown(ctx context.Context) {
	if s.retryTimer != nil {
		s.retryTimer.Stop()
	}
	if s.flushTimer != nil {
		s.flushTimer.Stop()
	}
	s.deactivate(ctx, true)
}

// catchUp delivers batches until the subscription has caught up with the
// runner's shared log, then leaves it to wait for more (s.more). Behind
// the shared log it reads the database itself, a page ahead: while it
// delivers one page it reads the next (reads have no effects; a prefetched
// page is used only if the checkpoint ends up exactly where it starts).
func (s *sub) catchUp(ctx context.Context) {
	var ahead *readAhead
	defer func() { ahead.discard() }()
	for s.canDeliver(ctx) {
		if time.Since(s.lastConfirmed) > confirmAge && !s.verify(ctx) {
			return
		}
		page, more, cached, behind := s.r.shared.page(s.cursor, s.def.Categories, s.def.Types, s.readLimit())
		if !cached && !behind {
			// ahead of the shared log (or it has not read yet): wait for it
			s.more = more
			s.r.shared.sig.send()
			return
		}
		if !cached {
			var err error
			if ahead != nil && ahead.after == s.cursor {
				page, err = ahead.wait()
			} else {
				ahead.discard()
				page, err = s.read(ctx, s.cursor)
			}
			ahead = nil
			if err != nil {
				s.dbError(ctx, "reading the log", err)
				return
			}
		}
		full := page.Scanned >= s.readLimit()
		if full && !cached {
			ahead = s.readAhead(ctx, page.Next)
		}
		if len(page.Events) > 0 {
			if !s.deliverBatches(ctx, page, !full) {
				return
			}
		} else if page.Next != s.cursor {
			s.advance(page.Next, 0)
		}
		s.errBackoff.reset()
		if full || !cached {
			s.setState(StateCatchingUp)
			continue
		}
		s.setState(StateLive)
		s.more = more
		return
	}
}

// readLimit is the page size: up to 10 batches, at most 1,000 events
// (or one batch, if larger). Larger pages than a batch halve the cost of
// catching up with small batches; the checkpoint still moves every batch.
func (s *sub) readLimit() int {
	return max(s.def.BatchSize, min(10*s.def.BatchSize, 1000))
}

func (s *sub) read(ctx context.Context, after store.Checkpoint) (store.Page, error) {
	return s.r.st.ReadAll(ctx, after, store.ReadAllOptions{
		Limit: s.readLimit(), Categories: s.def.Categories, Types: s.def.Types,
	})
}

// deliverBatches delivers a page in batches of BatchSize events, the
// checkpoint moving after each (to the last event of the batch, and to the
// page's Next after the last). The first batch is shortened by the events
// a live Handler already handled without saving (s.unsaved), so a crash
// never redelivers more than BatchSize events.
func (s *sub) deliverBatches(ctx context.Context, page store.Page, live bool) bool {
	evs := page.Events
	for len(evs) > 0 {
		room := s.def.BatchSize - s.unsaved
		if room <= 0 {
			if !s.flush(ctx) {
				return false
			}
			room = s.def.BatchSize
		}
		k := min(len(evs), room)
		batch := store.Page{Events: evs[:k], Next: page.Next, Scanned: k}
		if k < len(evs) {
			batch.Next = evs[k-1].Checkpoint
		}
		if !s.deliver(ctx, batch, live && k == len(evs)) {
			return false
		}
		evs = evs[k:]
	}
	return true
}

// readAhead is a page being read in the background.
type readAhead struct {
	after  store.Checkpoint
	cancel context.CancelFunc
	done   chan struct{}
	page   store.Page
	err    error
}

func (s *sub) readAhead(ctx context.Context, after store.Checkpoint) *readAhead {
	ctx, cancel := context.WithCancel(ctx)
	a := &readAhead{after: after, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		a.page, a.err = s.read(ctx, after)
	}()
	return a
}

func (a *readAhead) wait() (store.Page, error) {
	<-a.done
	a.cancel()
	return a.page, a.err
}

func (a *readAhead) discard() {
	if a != nil {
		a.cancel()
		<-a.done
	}
}

// firstBeyondSQL finds the transaction of the first committed event after a
// checkpoint, deliverable or not: when a caught-up read is followed by a
// non-empty answer, events are held back (or arrived since the read).
const firstBeyondSQL = `SELECT e.tx_id FROM eventscope.events e WHERE (e.tx_id, e.position) > ($1::xid8, $2::bigint) ORDER BY e.tx_id, e.position LIMIT 1`

func firstBeyond(ctx context.Context, st *store.Store, cp store.Checkpoint) (*uint64, error) {
	var tx uint64
	err := st.Pool().QueryRow(ctx, firstBeyondSQL, cp.Tx, cp.Pos).Scan(&tx)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &tx, nil
}

// deliver hands a page to the handler and moves the checkpoint. It reports
// whether the whole page was processed.
func (s *sub) deliver(ctx context.Context, page store.Page, live bool) bool {
	if s.def.TxHandler != nil {
		return s.deliverTx(ctx, page)
	}
	return s.deliverPlain(ctx, page, live)
}

// checkpointSQL moves the checkpoint, fenced by the lease epoch and the
// reset version.
const checkpointSQL = `
UPDATE eventscope.subscriptions
   SET checkpoint_tx = $3, checkpoint_pos = $4, processed = processed + $5
 WHERE name = $1 AND lease_epoch = $2 AND reset_version = $6
RETURNING 1`

// asyncCheckpointSQL is checkpointSQL for a Handler's checkpoint, written
// in an autocommit statement with synchronous_commit off: the write is
// visible (and fenced) at once, but its WAL is flushed in the background
// (within about 0.6 s) instead of before the reply, which halves its cost.
// Only an unclean crash of the server itself can lose such a write, and
// that redelivers the events after the previous checkpoint: still
// at least once. A TxHandler's transaction keeps the server's setting.
const asyncCheckpointSQL = `
UPDATE eventscope.subscriptions
   SET checkpoint_tx = $3, checkpoint_pos = $4, processed = processed + $5
 WHERE name = $1 AND lease_epoch = $2 AND reset_version = $6
   AND set_config('synchronous_commit', 'off', true) IS NOT NULL
RETURNING 1`

// writeCheckpoint moves the checkpoint to cp, counting n more processed
// events, on q (the pool, or the handler's transaction). fenced is false
// when the write was refused: the lease or the control state changed
// (needVerify is then set).
func (s *sub) writeCheckpoint(ctx context.Context, q store.Executor, cp store.Checkpoint, n int) (fenced bool, err error) {
	sql := checkpointSQL
	if _, inTx := q.(pgx.Tx); !inTx {
		sql = asyncCheckpointSQL
	}
	var one int
	err = q.QueryRow(ctx, sql, s.def.Name, s.epoch, cp.Tx, cp.Pos, n, s.resetVersion).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		s.needVerify.Store(true)
		s.kick.send()
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// outcome of delivering one event.
type outcome int

const (
	delivered outcome = iota // the handler succeeded
	exhausted                // every attempt failed
	aborted                  // stopped before an answer: lease, control or shutdown
)

// errAbort from an attempt means: stop, this is not the handler's failure.
var errAbort = errors.New("delivery interrupted")

// attempt delivers e with retries. failed is the number of attempts that
// already failed (the last with lastErr). beforeRetry runs once before the
// first retry (a Handler saves its checkpoint there).
func (s *sub) attempt(ctx context.Context, e store.Event, call func(context.Context) error, failed int, lastErr error, beforeRetry func() bool) (outcome, int, error) {
	p := s.def.Retry
	for {
		if failed > 0 {
			if failed >= p.Attempts {
				return exhausted, failed, lastErr
			}
			if failed == 1 && beforeRetry != nil && !beforeRetry() {
				return aborted, failed, lastErr
			}
			s.setState(StateFailing)
			if !s.pause(ctx, p.backoff(failed)) || !s.canDeliver(ctx) {
				return aborted, failed, lastErr
			}
		}
		err := call(ctx)
		if err == nil {
			return delivered, failed + 1, nil
		}
		if errors.Is(err, errAbort) || ctx.Err() != nil {
			return aborted, failed, lastErr
		}
		failed++
		lastErr = err
		s.recordFailure(ctx, e, err, failed)
	}
}

// pause waits d unless the lease, the control state or ctx change first.
func (s *sub) pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			return false
		case <-s.kick:
			if !s.canDeliver(ctx) {
				s.kick.send() // for the main loop
				return false
			}
		}
	}
}

func callSafe(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return f()
}

// recordFailure counts a failed attempt and records it as the last error.
func (s *sub) recordFailure(ctx context.Context, e store.Event, err error, attempt int) {
	s.failures.Add(1)
	msg := fmt.Sprintf("%s (%s, attempt %d of %d)", errString(err), describeEvent(e), attempt, s.def.Retry.Attempts)
	s.logf("%s", msg)
	if _, err := s.r.st.Pool().Exec(ctx, `
		UPDATE eventscope.subscriptions SET failures = failures + 1, last_error = $3, last_error_at = now()
		 WHERE name = $1 AND lease_epoch = $2`, s.def.Name, s.epoch, msg); err != nil && ctx.Err() == nil {
		s.logf("recording the failure: %v", err)
	}
}

// deliverPlain runs a Handler over the page and moves the checkpoint once
// at the end (and before retrying a failing event, so a crash during the
// backoff does not redeliver the events before it). Live (the last page
// of a catch-up), the write is deferred until BatchSize events are unsaved
// or flushAfter has passed: at high rates a subscription then writes its
// checkpoint about once per batch rather than once per wake-up, and a
// crash still redelivers at most one batch.
func (s *sub) deliverPlain(ctx context.Context, page store.Page, live bool) bool {
	cp, n := s.cursor, 0 // n: events handled here, beyond s.unsaved
	save := func(c context.Context) bool {
		if n == 0 && cp == s.cursor && !s.dirty() {
			return true
		}
		fenced, err := s.writeCheckpoint(c, s.r.st.Pool(), cp, s.unsaved+n)
		if err != nil {
			s.dbError(ctx, "saving the checkpoint", err)
			// The n events were handled: count them as handled and unsaved,
			// so this process never hands them to the handler again (the
			// shared log can serve them without the database). The room
			// rule in deliverBatches then holds delivery at one batch until
			// a save succeeds; a lost lease reloads the stored checkpoint.
			s.advance(cp, n)
			n = 0
			return false
		}
		if !fenced {
			return false
		}
		s.markSaved(cp)
		n = 0
		return true
	}
	// stop saves what was delivered, even when ctx is done (shutdown).
	stop := func() bool {
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		save(c)
		return false
	}
	for _, e := range page.Events {
		if !s.canDeliver(ctx) {
			return stop()
		}
		out, attempts, herr := s.attempt(ctx, e, func(ctx context.Context) error {
			return callSafe(func() error { return s.def.Handler(ctx, e) })
		}, 0, nil, func() bool { return save(ctx) })
		switch out {
		case delivered:
			s.processed.Add(1)
			n++
			cp = e.Checkpoint
		case exhausted:
			if s.def.StopOnFailure {
				s.stopAt(ctx, cp, s.unsaved+n, e, herr)
				return false
			}
			if !s.park(ctx, e, s.unsaved+n, attempts, herr) {
				return false
			}
			n, cp = 0, e.Checkpoint
		case aborted:
			return stop()
		}
	}
	if live && s.unsaved+n < s.def.BatchSize && (!s.dirty() || time.Since(s.dirtySince) < flushAfter) {
		s.advance(page.Next, n)
		return true
	}
	cp = page.Next
	return save(ctx)
}

// deliverTx runs a TxHandler over the page in as few transactions as it
// can: the whole page in one, the checkpoint moving in the same
// transaction. When an event fails, the events before it are committed in a
// transaction of their own and the failing event is retried alone.
func (s *sub) deliverTx(ctx context.Context, page store.Page) bool {
	evs := page.Events
	failed, failErr := -1, error(nil) // an event that failed in a batch, retried alone next
	i, upto := 0, len(evs)
	for i < len(evs) {
		if !s.canDeliver(ctx) {
			return false
		}
		if failed != i {
			next := page.Next
			if upto < len(evs) {
				next = evs[upto-1].Checkpoint
			}
			failedAt, herr, ok := s.txBatch(ctx, evs[i:upto], next)
			if !ok {
				return false
			}
			if failedAt < 0 {
				i, upto = upto, len(evs)
				continue
			}
			failed, failErr = i+failedAt, herr
			s.recordFailure(ctx, evs[failed], herr, 1)
			if failed > i {
				upto = failed // commit the events before the failing one first
				continue
			}
		}
		// evs[i] failed once in a batch: retry it alone.
		e := evs[i]
		cp := e.Checkpoint
		if i == len(evs)-1 {
			cp = page.Next
		}
		out, attempts, lastErr := s.attempt(ctx, e, func(ctx context.Context) error {
			return s.txOne(ctx, e, cp)
		}, 1, failErr, nil)
		switch out {
		case exhausted:
			if s.def.StopOnFailure {
				s.stopAt(ctx, s.cursor, 0, e, lastErr)
				return false
			}
			if !s.park(ctx, e, 0, attempts, lastErr) {
				return false
			}
		case aborted:
			return false
		}
		i, upto, failed = i+1, len(evs), -1
	}
	return true
}

// txBatch runs the handler over evs in one transaction that moves the
// checkpoint to next. failedAt is the index of a failing event (-1 when
// all succeeded); ok is false when delivery must stop (lease, control,
// database).
func (s *sub) txBatch(ctx context.Context, evs []store.Event, next store.Checkpoint) (failedAt int, herr error, ok bool) {
	tx, err := s.r.st.Pool().Begin(ctx)
	if err != nil {
		s.dbError(ctx, "beginning a transaction", err)
		return -1, nil, false
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	done := 0
	for j, e := range evs {
		if !s.canDeliver(ctx) {
			break
		}
		if err := callSafe(func() error { return s.def.TxHandler(ctx, tx, e) }); err != nil {
			if ctx.Err() != nil {
				return -1, nil, false
			}
			if transientTxError(tx, err) {
				s.dbError(ctx, "handling "+describeEvent(e)+" (transient database error, retrying)", err)
				return -1, nil, false
			}
			return j, err, true
		}
		done = j + 1
	}
	if done == 0 {
		return -1, nil, false
	}
	if done < len(evs) {
		next = evs[done-1].Checkpoint // interrupted: commit what was handled
	}
	fenced, err := s.writeCheckpoint(ctx, tx, next, done)
	if err != nil {
		s.dbError(ctx, "saving the checkpoint", err)
		return -1, nil, false
	}
	if !fenced {
		return -1, nil, false
	}
	if err := tx.Commit(ctx); err != nil {
		// The commit's outcome is unknown: take the checkpoint from the row.
		s.ctrlPending.Store(true)
		s.dbError(ctx, "committing", err)
		return -1, nil, false
	}
	s.processed.Add(int64(done))
	s.markSaved(next)
	return -1, nil, done == len(evs)
}

// txOne delivers one event in a transaction that moves the checkpoint to cp.
func (s *sub) txOne(ctx context.Context, e store.Event, cp store.Checkpoint) error {
	tx, err := s.r.st.Pool().Begin(ctx)
	if err != nil {
		s.dbError(ctx, "beginning a transaction", err)
		return errAbort
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	if err := callSafe(func() error { return s.def.TxHandler(ctx, tx, e) }); err != nil {
		if transientTxError(tx, err) {
			s.dbError(ctx, "handling "+describeEvent(e)+" (transient database error, retrying)", err)
			return errAbort
		}
		return err
	}
	fenced, err := s.writeCheckpoint(ctx, tx, cp, 1)
	if err != nil {
		s.dbError(ctx, "saving the checkpoint", err)
		return errAbort
	}
	if !fenced {
		return errAbort
	}
	if err := tx.Commit(ctx); err != nil {
		s.ctrlPending.Store(true)
		s.dbError(ctx, "committing", err)
		return errAbort
	}
	s.processed.Add(1)
	s.markSaved(cp)
	return nil
}

// transientTxError reports whether a TxHandler's error is the database's
// rather than the handler's: the transaction's connection is gone, the
// server is shutting down or cancelled the statement, or the transaction
// lost a deadlock or serialization conflict. Such an error aborts the
// delivery (retried later, no attempt counted, never parked), as a failed
// Begin does: counting it would park events, and move the checkpoint past
// them, whenever the server restarts.
func transientTxError(tx pgx.Tx, err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if tx != nil && tx.Conn() != nil && tx.Conn().IsClosed() {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch {
		case len(pg.Code) == 5 && (pg.Code[:2] == "08" || pg.Code[:2] == "57"):
			return true // connection exception; operator intervention (57P01 terminated, 57014 canceled)
		case pg.Code == "40001", pg.Code == "40P01":
			return true // serialization failure, deadlock
		}
		return false
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

// parkSQL moves the checkpoint past the event (with n events processed
// before it) and parks it, in one fenced statement.
const parkSQL = `
WITH u AS (
    UPDATE eventscope.subscriptions
       SET checkpoint_tx = $3, checkpoint_pos = $4, processed = processed + $5
     WHERE name = $1 AND lease_epoch = $2 AND reset_version = $6
 RETURNING name)
INSERT INTO eventscope.parked_events AS p (subscription, event_id, tx_id, position, attempts, last_error)
SELECT u.name, $7, $3, $4, $8, $9 FROM u
ON CONFLICT (subscription, event_id) DO UPDATE
   SET attempts = p.attempts + EXCLUDED.attempts, last_error = EXCLUDED.last_error,
       parked_at = now(), retry_requested = false
RETURNING 1`

func (s *sub) park(ctx context.Context, e store.Event, n, attempts int, herr error) bool {
	msg := errString(herr)
	var one int
	err := s.r.st.Pool().QueryRow(ctx, parkSQL, s.def.Name, s.epoch, e.Checkpoint.Tx, e.Checkpoint.Pos, n, s.resetVersion, e.EventID, attempts, msg).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		s.needVerify.Store(true)
		return false
	}
	if err != nil {
		s.dbError(ctx, "parking "+describeEvent(e), err)
		return false
	}
	s.logf("parked %s after %d attempts: %s", describeEvent(e), attempts, msg)
	s.markSaved(e.Checkpoint)
	s.publish(func(p *pubState) { p.parked++ })
	return true
}

// stopAt stops the subscription before a failing event (StopOnFailure).
func (s *sub) stopAt(ctx context.Context, cp store.Checkpoint, n int, e store.Event, herr error) {
	msg := fmt.Sprintf("%s (stopped at %s after %d attempts)", errString(herr), describeEvent(e), s.def.Retry.Attempts)
	tag, err := s.r.st.Pool().Exec(ctx, `
		UPDATE eventscope.subscriptions
		   SET stopped = true, state = 'stopped', checkpoint_tx = $3, checkpoint_pos = $4,
		       processed = processed + $5, last_error = $7, last_error_at = now()
		 WHERE name = $1 AND lease_epoch = $2 AND reset_version = $6`,
		s.def.Name, s.epoch, cp.Tx, cp.Pos, n, s.resetVersion, msg)
	if err != nil {
		s.dbError(ctx, "stopping", err)
		return
	}
	if tag.RowsAffected() == 0 {
		s.needVerify.Store(true)
		return
	}
	s.logf("%s", msg)
	s.stopped = true
	s.markSaved(cp)
	s.setState(StateStopped)
}

const parkedForRetrySQL = `
SELECT p.attempts, ` + eventColumns + `
  FROM eventscope.parked_events p JOIN eventscope.events e ON e.event_id = p.event_id
 WHERE p.subscription = $1 AND p.retry_requested
 ORDER BY p.tx_id, p.position
 LIMIT 100`

// eventColumns matches scanEvent.
const eventColumns = `e.stream_id, e.version, e.position, e.tx_id, e.event_id, e.type, e.data, e.metadata, e.recorded_at`

func scanEvent(row pgx.CollectableRow, extra ...any) (store.Event, error) {
	var e store.Event
	dest := append(extra, &e.StreamID, &e.Version, &e.Position, &e.Checkpoint.Tx, &e.EventID, &e.Type, &e.Data, &e.Metadata, &e.RecordedAt)
	err := row.Scan(dest...)
	e.Checkpoint.Pos = e.Position
	return e, err
}

// unparkSQL deletes a parked event that was delivered again, fenced, and
// counts it as processed.
const unparkSQL = `
WITH d AS (
    DELETE FROM eventscope.parked_events p USING eventscope.subscriptions s
     WHERE p.subscription = $1 AND p.event_id = $3 AND s.name = $1 AND s.lease_epoch = $2
 RETURNING 1)
UPDATE eventscope.subscriptions SET processed = processed + (SELECT count(*) FROM d)
 WHERE name = $1 AND lease_epoch = $2
RETURNING (SELECT count(*) FROM d)`

// redeliverParked delivers the parked events an operator asked to retry.
// It reports false when delivery must stop.
func (s *sub) redeliverParked(ctx context.Context) bool {
	for {
		type parked struct {
			attempts int
			e        store.Event
		}
		rows, err := s.r.st.Pool().Query(ctx, parkedForRetrySQL, s.def.Name)
		if err != nil {
			s.dbError(ctx, "reading parked events", err)
			return false
		}
		list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (parked, error) {
			var p parked
			var err error
			p.e, err = scanEvent(row, &p.attempts)
			return p, err
		})
		if err != nil {
			s.dbError(ctx, "reading parked events", err)
			return false
		}
		for _, p := range list {
			if !s.canDeliver(ctx) {
				return false
			}
			e := p.e
			out, attempts, herr := s.attempt(ctx, e, func(ctx context.Context) error {
				return s.unpark(ctx, e)
			}, 0, nil, nil)
			switch out {
			case delivered:
				s.processed.Add(1)
				s.publish(func(p *pubState) { p.parked-- })
				s.logf("delivered parked %s on retry", describeEvent(e))
			case exhausted:
				if _, err := s.r.st.Pool().Exec(ctx, `
					UPDATE eventscope.parked_events SET attempts = attempts + $3, last_error = $4, parked_at = now(), retry_requested = false
					 WHERE subscription = $1 AND event_id = $2`, s.def.Name, e.EventID, attempts, errString(herr)); err != nil {
					s.dbError(ctx, "parking "+describeEvent(e)+" again", err)
					return false
				}
				s.logf("parked %s again after %d more attempts", describeEvent(e), attempts)
			case aborted:
				return false
			}
		}
		if len(list) < 100 {
			s.retryPending = false
			return true
		}
	}
}

// unpark delivers a parked event again and removes it from the parked
// events (in the handler's transaction for a TxHandler).
func (s *sub) unpark(ctx context.Context, e store.Event) error {
	if s.def.Handler != nil {
		if err := callSafe(func() error { return s.def.Handler(ctx, e) }); err != nil {
			return err
		}
		var n int64
		if err := s.r.st.Pool().QueryRow(ctx, unparkSQL, s.def.Name, s.epoch, e.EventID).Scan(&n); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				s.needVerify.Store(true)
			} else {
				s.dbError(ctx, "removing a parked event", err)
			}
			return errAbort
		}
		return nil
	}
	tx, err := s.r.st.Pool().Begin(ctx)
	if err != nil {
		s.dbError(ctx, "beginning a transaction", err)
		return errAbort
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	if err := callSafe(func() error { return s.def.TxHandler(ctx, tx, e) }); err != nil {
		if transientTxError(tx, err) {
			s.dbError(ctx, "handling parked "+describeEvent(e)+" (transient database error, retrying)", err)
			return errAbort
		}
		return err
	}
	var n int64
	err = tx.QueryRow(ctx, unparkSQL, s.def.Name, s.epoch, e.EventID).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		s.needVerify.Store(true)
		return errAbort
	}
	if err != nil {
		s.dbError(ctx, "removing a parked event", err)
		return errAbort
	}
	if n == 0 {
		return errAbort // skipped by an operator meanwhile: roll the handler back
	}
	if err := tx.Commit(ctx); err != nil {
		s.dbError(ctx, "committing", err)
		return errAbort
	}
	return nil
}
