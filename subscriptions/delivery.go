package subscriptions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"eventscope/store"
)

// catchUp delivers batches until the subscription has caught up with the
// runner's shared log, then leaves it to wait for more (s.more). Behind
// the shared log it reads the database itself, a page ahead: while it
// delivers one page it reads the next (reads have no effects; a prefetched
// page is used only if the checkpoint ends up exactly where it starts).
func (s *sub) catchUp(ctx context.Context) {
	var ahead *readAhead
	defer func() { ahead.discard() }()
	for s.canDeliver(ctx) {
		if time.Since(s.lease.lastConfirmed) > confirmAge && !s.verify(ctx) {
			return
		}
		page, more, cached, behind := s.r.shared.page(s.cp.cursor, s.def.Categories, s.def.Types, s.readLimit())
		if !cached && !behind {
			// ahead of the shared log (or it has not read yet): wait for it
			s.more = more
			s.r.shared.sig.send()
			return
		}
		var bad *unreadable // an event after the page that cannot be read
		readFull := false   // a limit of the read (events or bytes) cut the page
		if !cached {
			var err error
			if ahead != nil && ahead.after == s.cp.cursor {
				page, bad, readFull, err = ahead.wait()
			} else {
				ahead.discard()
				page, bad, readFull, err = s.read(ctx, s.cp.cursor)
			}
			ahead = nil
			if err != nil {
				s.dbError(ctx, "reading the log", err)
				return
			}
		}
		full := page.Scanned >= s.readLimit() || readFull
		if full && !cached && bad == nil {
			ahead = s.readAhead(ctx, page.Next)
		}
		if s.grp != nil {
			page.Events = s.ownEvents(page.Events)
			if bad != nil && PartitionOf(bad.event.StreamID, s.grp.partitions) != s.part {
				// another partition's: scan past it (its own partition parks it)
				page.Next, bad = bad.event.Checkpoint, nil
			}
		}
		if len(page.Events) > 0 {
			if !s.deliverBatches(ctx, page, !full) {
				return
			}
		} else if page.Next != s.cp.cursor {
			s.advance(page.Next, 0)
		}
		if bad != nil && !s.passUnreadable(ctx, bad) {
			return
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

// ownEvents keeps the events of a group partition's streams, in a slice of
// its own (pages are shared by the group's partitions). The page's Next
// still covers the others: they are scanned past.
func (s *sub) ownEvents(evs []store.Event) []store.Event {
	out := make([]store.Event, 0, len(evs)/max(s.grp.partitions, 1)+1)
	for _, e := range evs {
		if PartitionOf(e.StreamID, s.grp.partitions) == s.part {
			out = append(out, e)
		}
	}
	return out
}

// readLimit is the page size: up to 10 batches, at most 1,000 events
// (or one batch, if larger), and at most RunnerOptions.PageBytes. Larger pages than a batch halve the cost of
// catching up with small batches; the checkpoint still moves every batch.
func (s *sub) readLimit() int {
	return max(s.def.BatchSize, min(10*s.def.BatchSize, 1000))
}

// read reads the page after `after`, bounded by RunnerOptions.PageBytes
// too (see readPast for bad).
func (s *sub) read(ctx context.Context, after store.Checkpoint) (page store.Page, bad *unreadable, full bool, err error) {
	read := func() (store.Page, *unreadable, bool, error) {
		return readBounded(ctx, s.r.rd, after, store.ReadAllOptions{
			Limit: s.readLimit(), Categories: s.def.Categories, Types: s.def.Types,
		}, s.r.o.PageBytes)
	}
	if s.grp != nil {
		return s.grp.pages.read(after, 2*s.r.o.PageBytes, read)
	}
	return read()
}

// passUnreadable gets past an event the store cannot decode: no handler
// can take it, so it is parked at once (the operator sees why, and can
// retry it once it is readable, or skip it), or, with StopOnFailure, the
// subscription stops before it. The cursor is just before it.
func (s *sub) passUnreadable(ctx context.Context, bad *unreadable) bool {
	err := fmt.Errorf("the event cannot be read: %w", bad.err)
	s.stats.failures.Add(1)
	s.tries.add(bad.event.EventID, 1, err)
	if s.def.StopOnFailure {
		s.stopAt(ctx, s.cp.cursor, s.cp.unsaved, bad.event, err)
		return false
	}
	return s.park(ctx, bad.event, s.cp.unsaved, 0, err)
}

// deliverBatches delivers a page in batches of BatchSize events, the
// checkpoint moving after each (to the last event of the batch, and to the
// page's Next after the last). The first batch is shortened by the events
// a live Handler already handled without saving (s.cp.unsaved), so a crash
// never redelivers more than BatchSize events.
func (s *sub) deliverBatches(ctx context.Context, page store.Page, live bool) bool {
	evs := page.Events
	for len(evs) > 0 {
		room := s.def.BatchSize - s.cp.unsaved
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
	bad    *unreadable
	full   bool
	err    error
}

func (s *sub) readAhead(ctx context.Context, after store.Checkpoint) *readAhead {
	ctx, cancel := context.WithCancel(ctx)
	a := &readAhead{after: after, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		a.page, a.bad, a.full, a.err = s.read(ctx, after)
	}()
	return a
}

func (a *readAhead) wait() (store.Page, *unreadable, bool, error) {
	<-a.done
	a.cancel()
	return a.page, a.bad, a.full, a.err
}

func (a *readAhead) discard() {
	if a != nil {
		a.cancel()
		<-a.done
	}
}

// firstBeyond is the transaction of the first committed event after a
// checkpoint, deliverable or not (nil when none): when a caught-up read is
// followed by a non-nil answer, events are held back (or arrived since the
// read).
func firstBeyond(ctx context.Context, st *store.Store, cp store.Checkpoint) (*uint64, error) {
	first, found, err := st.FirstAfter(ctx, cp)
	if err != nil || !found {
		return nil, err
	}
	return &first.Tx, nil
}

// deliver hands a page to the handler and moves the checkpoint. It reports
// whether the whole page was processed.
func (s *sub) deliver(ctx context.Context, page store.Page, live bool) bool {
	if s.def.TxHandler != nil {
		return s.deliverTx(ctx, page)
	}
	return s.deliverPlain(ctx, page, live)
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
	defer func() {
		if failed > 0 {
			s.publish(func(p *pubState) { p.retry = nil })
		}
	}()
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
		case <-s.in.kick:
			if !s.canDeliver(ctx) {
				s.in.kick.send() // for the main loop
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

// recordFailure counts a failed attempt, records it as the last error and
// in the event's attempts, and publishes (and writes) which event is being
// retried and when it is tried next.
func (s *sub) recordFailure(ctx context.Context, e store.Event, err error, attempt int) {
	s.stats.failures.Add(1)
	s.tries.add(e.EventID, attempt, err)
	p := s.def.Retry
	msg := fmt.Sprintf("%s (%s, attempt %d of %d)", errString(err), describeEvent(e), attempt, p.Attempts)
	s.logf("%s", msg)
	r := &Retrying{EventID: e.EventID, StreamID: e.StreamID, Version: e.Version, Attempt: attempt, Attempts: p.Attempts}
	var wait *float64
	if attempt < p.Attempts {
		d := p.backoff(attempt)
		r.NextAt = time.Now().Add(d)
		sec := d.Seconds()
		wait = &sec
	}
	s.publish(func(p *pubState) { p.retry = r })
	if _, err := s.r.db.Exec(ctx, recordFailureSQL, s.def.Name, s.lease.epoch, msg,
		e.EventID, e.StreamID, e.Version, attempt, p.Attempts, wait); err != nil && ctx.Err() == nil {
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
	cp, n := s.cp.cursor, 0 // n: events handled here, beyond s.cp.unsaved
	save := func(c context.Context) bool {
		if n == 0 && cp == s.cp.cursor && !s.cp.dirty() {
			return true
		}
		fenced, err := s.writeCheckpoint(c, s.r.db, cp, s.cp.unsaved+n)
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
			return s.timed(func() error { return s.def.Handler(ctx, e) })
		}, 0, nil, func() bool { return save(ctx) })
		switch out {
		case delivered:
			s.stats.processed.Add(1)
			n++
			cp = e.Checkpoint
		case exhausted:
			if s.def.StopOnFailure {
				s.stopAt(ctx, cp, s.cp.unsaved+n, e, herr)
				return false
			}
			if !s.park(ctx, e, s.cp.unsaved+n, attempts, herr) {
				return false
			}
			n, cp = 0, e.Checkpoint
		case aborted:
			return stop()
		}
	}
	if live && s.cp.unsaved+n < s.def.BatchSize && (!s.cp.dirty() || time.Since(s.cp.dirtySince) < flushAfter) {
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
				s.stopAt(ctx, s.cp.cursor, 0, e, lastErr)
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
