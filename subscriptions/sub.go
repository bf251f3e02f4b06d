package subscriptions

import (
	"context"
	"sync/atomic"
	"time"

	"eventscope/store"
)

// sub is one subscription inside a Runner. One goroutine (run) does all its
// work. Its state is split by owner, one type each:
//
//   - leaseLink (lease.go): written by the lease loop, read by the goroutine;
//   - inbox: news for the goroutine, set by anyone (listener, heartbeat,
//     fenced writes), taken by the goroutine;
//   - counters: written by the goroutine, read by metrics and tests;
//   - published (publish.go): what the goroutine publishes for heartbeats,
//     polls and metrics, under a mutex;
//   - holding (lease.go), control, checkpointer (checkpoint.go): the
//     goroutine's own, unsynchronised.
//
// The work itself is in files by concern: lease.go (taking, confirming and
// losing the lease), delivery.go (reading and handing events to the
// handler), handlertx.go (a TxHandler's transaction), checkpoint.go
// (saving the position), parking.go (giving up on an event, retrying it).
type sub struct {
	r    *Runner
	def  Subscription
	key  int64
	tgt  *target
	more <-chan struct{} // closed when the shared log has more (set when caught up with it)
	grp  *group          // the group this is a partition of (nil: a plain subscription)
	part int             // the partition's number in grp

	link  leaseLink
	in    inbox
	stats counters
	pub   published

	lease holding
	ctl   control
	cp    checkpointer
	// database errors back off: the goroutine is kicked after a growing pause
	errBackoff *backoff
	retryTimer *time.Timer
	// handler: the durations of the last handler calls; tries: the failed
	// attempts on the event being delivered (the goroutine's own).
	handler handlerTimes
	tries   attemptLog
}

// inbox is news for the goroutine. Anyone sets a flag and kicks; the
// goroutine takes it in step.
type inbox struct {
	kick        signal      // lease, control or fencing news
	ctrlPending atomic.Bool // the row's control columns changed: reload
	needVerify  atomic.Bool // a fenced write failed or the heartbeat missed the row: check the lease
	deleted     atomic.Bool // the row was deleted: stop for good
}

// counters are the goroutine's counts for metrics (and steps, its wake-ups,
// for tests).
type counters struct {
	processed atomic.Int64
	failures  atomic.Int64
	steps     atomic.Int64
}

// control is the row's control state as the goroutine last read it.
type control struct {
	paused, stopped bool
	retryPending    bool // parked events wait for a retry
}

func newSub(r *Runner, s Subscription) *sub {
	sb := &sub{
		r: r, def: s, key: lockKey(s.Name),
		in:         inbox{kick: newSignal()},
		errBackoff: newBackoff(100*time.Millisecond, 2*time.Second),
	}
	sb.tgt = &target{
		name: s.Name, // control notifications only: data wakes the shared log
		control: func() {
			sb.in.ctrlPending.Store(true)
			sb.in.kick.send()
		},
	}
	sb.pub.p.state = StateCatchingUp
	return sb
}

func (s *sub) logf(format string, args ...any) {
	s.r.logf("subscriptions: %s: "+format, append([]any{s.def.Name}, args...)...)
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
		if s.in.deleted.Load() {
			return
		}
		select {
		case <-ctx.Done():
		case <-s.in.kick:
		case <-s.more:
		}
	}
}

// ensureRow creates the subscription's row unless it exists.
func (s *sub) ensureRow(ctx context.Context) error {
	start := s.def.Start
	if s.def.StartAtEnd {
		var exists bool
		if err := s.r.db.QueryRow(ctx, rowExistsSQL, s.def.Name).Scan(&exists); err != nil {
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
	if s.grp != nil {
		_, err := s.r.db.Exec(ctx, createPartitionRowSQL, s.def.Name, s.def.Categories, s.def.Types, start.Tx, start.Pos,
			s.grp.name, s.part, s.grp.partitions)
		return err
	}
	_, err := s.r.db.Exec(ctx, createRowSQL, s.def.Name, s.def.Categories, s.def.Types, start.Tx, start.Pos)
	return err
}

// step handles lease and control news, then delivers what there is.
func (s *sub) step(ctx context.Context) {
	s.stats.steps.Add(1)
	s.more = nil // waited on only when catchUp leaves it caught up
	if !s.syncLease(ctx) || !s.lease.active {
		return
	}
	if s.in.needVerify.Swap(false) && !s.verify(ctx) {
		return
	}
	if s.in.ctrlPending.Swap(false) {
		s.flush(ctx) // refused after a reset, which is right: the row wins
		if !s.reload(ctx) {
			return
		}
	}
	if s.cp.dirty() && time.Since(s.cp.dirtySince) >= flushAfter && !s.flush(ctx) {
		return
	}
	if s.ctl.paused || s.ctl.stopped || !s.lease.active {
		return
	}
	if s.ctl.retryPending && !s.redeliverParked(ctx) {
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
	s.retryTimer = time.AfterFunc(d, s.in.kick.send)
}

// dbError logs a database error and schedules another try.
func (s *sub) dbError(ctx context.Context, what string, err error) {
	if ctx.Err() != nil {
		return
	}
	s.logf("%s: %v", what, err)
	s.retryLater()
}

// canDeliver reports whether the goroutine may go on delivering: it holds
// the lease it activated and no news waits.
func (s *sub) canDeliver(ctx context.Context) bool {
	return ctx.Err() == nil && s.lease.active && s.link.locked.Load() && s.link.gen.Load() == s.lease.gen &&
		!s.in.ctrlPending.Load() && !s.in.needVerify.Load() && !s.in.deleted.Load() && s.owned()
}

// owned reports whether this runner should hold the subscription: always
// for a plain one; for a group's partition, while this member owns it.
func (s *sub) owned() bool {
	return s.grp == nil || s.grp.owns(s.part)
}

func (s *sub) shutdown(ctx context.Context) {
	if s.retryTimer != nil {
		s.retryTimer.Stop()
	}
	s.cp.stopTimer()
	s.deactivate(ctx, true)
}

// apply takes the row's control state (after activate or reload).
func (s *sub) apply(c rowControl) {
	s.lease.epoch, s.lease.resetVersion = c.epoch, c.resetVersion
	s.ctl = control{paused: c.paused, stopped: c.stopped, retryPending: c.retry}
	s.lease.lastConfirmed = time.Now()
	s.cp.restart(c.cursor)
	st := StateCatchingUp
	if c.stopped {
		st = StateStopped
	}
	s.pub.activated(s.stats.processed.Load())
	s.publish(func(p *pubState) {
		p.active = true
		p.epoch, p.resetVersion, p.controlVersion = c.epoch, c.resetVersion, c.controlVersion
		p.cursor, p.persistable = c.cursor, c.cursor
		p.parked = c.parked
		p.state = st
	})
}

// rowControl is the row's control state as activate and reload read it.
type rowControl struct {
	epoch, resetVersion, controlVersion int64
	cursor                              store.Checkpoint
	paused, stopped, retry              bool
	parked                              int64
}

func scanRowControl(row interface{ Scan(...any) error }) (rowControl, error) {
	var c rowControl
	err := row.Scan(&c.epoch, &c.resetVersion, &c.controlVersion, &c.cursor.Tx, &c.cursor.Pos, &c.paused, &c.stopped, &c.retry, &c.parked)
	return c, err
}
