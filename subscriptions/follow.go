package subscriptions

import (
	"context"
	"time"

	"eventscope/store"
)

// FollowOptions configure Follow. The zero value follows everything.
type FollowOptions struct {
	// Categories keeps only events of these stream categories. Default all.
	Categories []string
	// Types keeps only events of these types. Default all.
	Types []string
	// BatchSize is the number of events read (scanned) per read. Default 500.
	BatchSize int
	// MaxBytes bounds a read by bytes too (events' data and metadata, about):
	// fn gets batches of at most this much, or one larger event alone.
	// Default 16 MiB.
	MaxBytes int64
	// PollInterval is the fallback poll of the head of the log. Default 1s.
	PollInterval time.Duration
	// Logf receives connection errors (Follow retries by itself). Default: discarded.
	Logf func(format string, args ...any)
	// Primary, when st is a hot standby of it, is where wake-ups come from
	// (LISTEN is refused during recovery); each read after one waits until
	// the standby has replayed what the primary had written (replica.go).
	// Default nil: wake-ups from st, or, when st is a standby, none (Follow
	// then polls, and never tries LISTEN there).
	Primary *store.Store
}

// Follow reads the global log after from and keeps following it live,
// calling fn with each non-empty batch of matching events as soon as they
// are deliverable (an event the store cannot decode comes alone, with nil
// Data and Metadata), until ctx is done (it then returns nil) or fn returns
// an error (which it returns). It is a reader, not a subscription: no row,
// no lease, no checkpoint; it wakes like a Runner does (its own LISTEN
// connection, the held-back watcher, a poll) and reconnects by itself.
// `eventscope tail` and the console's live log use it.
func Follow(ctx context.Context, st *store.Store, from store.Checkpoint, o FollowOptions, fn func([]store.Event) error) error {
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultPageBytes
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sig := newSignal()
	t := &target{cats: o.Categories, wake: sig.send}
	wakeFrom := st
	var replay *replayWaiter
	if o.Primary != nil {
		wakeFrom = o.Primary
		replay = &replayWaiter{primary: o.Primary, replica: st, logf: o.Logf}
	} else if standby, err := inRecovery(ctx, st); err == nil && standby {
		wakeFrom = nil
		o.Logf("subscriptions: follow: the database is a standby, where LISTEN is refused: polling every %s (give the primary for wake-ups)", o.PollInterval)
	}
	held := newHeldWatcher(st.Pool(), o.Logf)
	done := make(chan struct{}, 2)
	running := 1
	go func() { held.run(ctx); done <- struct{}{} }()
	if wakeFrom != nil {
		lis := newListener(wakeFrom, o.Logf)
		lis.add(t)
		running++
		go func() { lis.run(ctx); done <- struct{}{} }()
	}
	defer func() {
		cancel()
		for range running {
			<-done
		}
	}()
	woken := false

	poll := time.NewTicker(o.PollInterval)
	defer poll.Stop()
	bo := newBackoff(100*time.Millisecond, 5*time.Second)
	cursor := from
	opts := store.ReadAllOptions{Limit: o.BatchSize, Categories: o.Categories, Types: o.Types}
	for {
		caughtUp, err := func() (bool, error) {
			if replay != nil && woken {
				replay.await(ctx)
			}
			woken = false
			page, bad, full, err := readBounded(ctx, st, cursor, opts, o.MaxBytes)
			if err != nil {
				return false, err
			}
			if len(page.Events) > 0 {
				if err := fn(page.Events); err != nil {
					return false, &callbackError{err}
				}
			}
			cursor = page.Next
			if bad != nil {
				// An event it cannot read: passed on without its data (nil
				// Data and Metadata), so the reader sees it is there.
				o.Logf("subscriptions: follow: %s cannot be read: %v", describeEvent(bad.event), bad.err)
				if err := fn([]store.Event{bad.event}); err != nil {
					return false, &callbackError{err}
				}
				cursor = bad.event.Checkpoint
				return false, nil
			}
			if full {
				return false, nil
			}
			beyond, err := firstBeyond(ctx, st, cursor)
			if err != nil {
				return false, err
			}
			if beyond != nil {
				held.wait(t, *beyond)
			}
			return true, nil
		}()
		if cb, ok := err.(*callbackError); ok {
			return cb.err
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			d := bo.next()
			o.Logf("subscriptions: follow: %v; retrying in %s", err, d)
			if !sleepCtx(ctx, d) {
				return nil
			}
			continue
		}
		bo.reset()
		if !caughtUp {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-sig:
			woken = true
		case <-poll.C:
			// A cheap check of the head would save a read on an idle log;
			// the read after the checkpoint is an index probe all the same.
		}
	}
}

type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }
