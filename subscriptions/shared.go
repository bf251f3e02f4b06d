package subscriptions

import (
	"context"
	"sort"
	"sync"
	"time"

	"eventscope/store"
)

// sharedLog is the runner's one reader of the head of the global log: it
// keeps the newest events in memory, so that live subscriptions take their
// events from it instead of each reading the database on every wake-up
// (ten live subscriptions cost one read per wake-up, not ten).
//
// It holds every event in (from, to], read with store.ReadAll (unfiltered)
// and resumed from Page.Next, so it inherits the no-skip guarantee: no
// event at or before `to` can become visible later. A subscription whose
// checkpoint lies in [from, to] reads from it, filtering by category and
// type as ReadAll does; one behind `from` catches up with its own reads.
//
// Handlers receive events that are shared between subscriptions: they must
// not modify an event's Data or Metadata.
type sharedLog struct {
	st        *store.Store
	held      *heldWatcher
	logf      func(string, ...any)
	max       int   // events kept; the oldest half is dropped beyond
	maxBytes  int64 // bytes of events kept; the oldest are dropped beyond, down to half
	pageBytes int64 // bound of one read
	tgt       *target
	sig       signal
	// replay, when the log is read from a standby, waits before each
	// refresh until it has replayed what the primary had written.
	replay *replayWaiter

	mu      sync.Mutex
	gen     uint64 // bumped by invalidate: a refresh begun before it is discarded
	valid   bool
	events  []store.Event
	bytes   int64 // eventBytes of events
	from    store.Checkpoint
	to      store.Checkpoint
	changed chan struct{} // closed (and replaced) when `to` moves
}

func newSharedLog(st *store.Store, held *heldWatcher, logf func(string, ...any), pageBytes int64) *sharedLog {
	l := &sharedLog{st: st, held: held, logf: logf, max: 10000, maxBytes: 4 * pageBytes, pageBytes: pageBytes,
		sig: newSignal(), changed: make(chan struct{})}
	l.tgt = &target{wake: l.sig.send}
	return l
}

// page returns the events after cursor, as ReadAll with this filter and
// limit would (Scanned counts cached events looked at). ok is false when
// cursor is not in [from, to]: behind (read the database) or ahead (wait
// on changed). changed is closed when more events arrive.
func (l *sharedLog) page(cursor store.Checkpoint, cats, types []string, limit int) (p store.Page, changed <-chan struct{}, ok, behind bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	changed = l.changed
	if !l.valid {
		return p, changed, false, false
	}
	if cursor.Less(l.from) {
		return p, changed, false, true
	}
	if l.to.Less(cursor) {
		return p, changed, false, false
	}
	i := sort.Search(len(l.events), func(i int) bool { return cursor.Less(l.events[i].Checkpoint) })
	p.Next = cursor
	for ; i < len(l.events) && p.Scanned < limit; i++ {
		e := l.events[i]
		p.Scanned++
		p.Next = e.Checkpoint
		if matchesCategory(cats, e.Category()) && matchesType(types, e.Type) {
			p.Events = append(p.Events, e)
		}
	}
	if p.Scanned < limit {
		p.Next = l.to
	}
	return p, changed, true, false
}

func matchesType(types []string, t string) bool {
	if len(types) == 0 {
		return true
	}
	for _, x := range types {
		if x == t {
			return true
		}
	}
	return false
}

// head is the end of what the shared log holds (valid false before its first read).
func (l *sharedLog) head() (store.Checkpoint, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.to, l.valid
}

// invalidate drops what the shared log holds: the listener lost its
// connection, so the server may have crashed or restarted and what was read
// before (from, to, the events) need not hold any more. The next refresh
// starts again from the head, and subscriptions behind it read from their
// own checkpoints.
func (l *sharedLog) invalidate() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gen++
	l.valid, l.events, l.bytes = false, nil, 0
	l.from, l.to = store.Checkpoint{}, store.Checkpoint{}
	close(l.changed)
	l.changed = make(chan struct{})
	l.sig.send()
}

func (l *sharedLog) state() (store.Checkpoint, bool, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.to, l.valid, l.gen
}

// add appends a read's events; it reports false (and adds nothing) when
// the log was invalidated since generation gen.
func (l *sharedLog) add(evs []store.Event, next store.Checkpoint, gen uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if gen != l.gen {
		return false
	}
	l.events = append(l.events, evs...)
	for _, e := range evs {
		l.bytes += eventBytes(e)
	}
	if len(l.events) > l.max || l.bytes > l.maxBytes {
		// Drop the oldest: down to half the count and half the bytes.
		cut := max(len(l.events)-l.max/2, 0)
		for _, e := range l.events[:cut] {
			l.bytes -= eventBytes(e)
		}
		for cut < len(l.events) && l.bytes > l.maxBytes/2 {
			l.bytes -= eventBytes(l.events[cut])
			cut++
		}
		if cut > 0 {
			l.from = l.events[cut-1].Checkpoint
			l.events = append([]store.Event(nil), l.events[cut:]...)
		}
	}
	if next != l.to {
		l.to = next
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return true
}

// restartAfter drops what the log holds and starts it again at cp (a
// reader behind cp reads the database); it reports false when the log was
// invalidated since generation gen.
func (l *sharedLog) restartAfter(cp store.Checkpoint, gen uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if gen != l.gen {
		return false
	}
	l.events, l.bytes = nil, 0
	l.from, l.to = cp, cp
	close(l.changed)
	l.changed = make(chan struct{})
	return true
}

// run reads the log whenever woken (notifications, the poll, the held-back
// watcher, a subscription that caught up beyond it) until ctx is done.
func (l *sharedLog) run(ctx context.Context) {
	bo := newBackoff(100*time.Millisecond, 5*time.Second)
	for {
		if err := l.refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			d := bo.next()
			l.logf("subscriptions: reading the log: %v; retrying in %s", err, d)
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			case <-l.sig: // e.g. the listener is back: the server may be too
				t.Stop()
			}
			continue
		}
		bo.reset()
		select {
		case <-ctx.Done():
			return
		case <-l.sig:
		}
	}
}

const sharedPage = 1000

func (l *sharedLog) refresh(ctx context.Context) error {
	if l.replay != nil {
		l.replay.await(ctx)
	}
	to, valid, gen := l.state()
	if !valid {
		h, err := l.st.Head(ctx)
		if err != nil {
			return err
		}
		l.mu.Lock()
		if gen != l.gen {
			l.mu.Unlock()
			return nil // invalidated meanwhile: it signalled another refresh
		}
		l.from, l.to, l.valid = h, h, true
		close(l.changed)
		l.changed = make(chan struct{})
		l.mu.Unlock()
		to = h
	}
	// The first read is small enough to need no PageFit (a wake-up brings
	// few events: one round trip); the next ones, of up to sharedPage
	// events, are bounded by bytes.
	limit := min(sharedPage, smallPage(l.st, l.pageBytes))
	for {
		page, bad, full, err := readBounded(ctx, l.st, to, store.ReadAllOptions{Limit: limit}, l.pageBytes)
		if err != nil {
			return err
		}
		limit = sharedPage
		if !l.add(page.Events, page.Next, gen) {
			return nil
		}
		to = page.Next
		if bad != nil {
			// It cannot hold an event it cannot read, and must not skip it
			// for the subscriptions it concerns: it starts again after it,
			// and those behind read (and park) it themselves.
			l.logf("subscriptions: shared log: %s cannot be read (%v); subscriptions it concerns park it", describeEvent(bad.event), bad.err)
			if !l.restartAfter(bad.event.Checkpoint, gen) {
				return nil
			}
			to = bad.event.Checkpoint
			continue
		}
		if !full {
			break
		}
	}
	beyond, err := firstBeyond(ctx, l.st, to)
	if err != nil {
		return err
	}
	if beyond != nil {
		l.held.wait(l.tgt, *beyond)
	}
	return nil
}
