package subscriptions

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"eventscope/store"
)

// appendBig appends n events of about size bytes each.
func appendBig(t *testing.T, st *store.Store, cat string, n, size int) {
	t.Helper()
	pad := strings.Repeat("x", size)
	for i := range n {
		d, _ := json.Marshal(map[string]any{"i": i, "pad": pad})
		if _, err := st.Append(context.Background(), fmt.Sprintf("%s-%d", cat, i%3), store.Any, store.NewEvent{Type: "Big", Data: d}); err != nil {
			t.Fatal(err)
		}
	}
}

func pageBytes(evs []store.Event) (n int64) {
	for _, e := range evs {
		n += int64(len(e.Data) + len(e.Metadata))
	}
	return n
}

// TestReadsBoundedByBytes: pages read by subscriptions, followers and the
// shared log hold at most the byte bound (or one larger event alone), and
// reading on from each page's Next skips nothing.
func TestReadsBoundedByBytes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const size, bound = 20 << 10, 64 << 10
	appendBig(t, b.st, "big", 20, size)
	appendBig(t, b.st, "huge", 1, 3*bound) // larger than the bound: read alone
	appendBig(t, b.st, "big", 5, size)
	// Every event visible first: on the shared server another test's open
	// transaction may hold the log's horizon back for a moment.
	waitFor(t, "the log to show every event", time.Minute, func() bool {
		p, err := b.st.ReadAll(ctx, store.Start, store.ReadAllOptions{Limit: 100})
		return err == nil && len(p.Events) == 26
	})

	t.Run("pages", func(t *testing.T) {
		cp, n := store.Start, 0
		for {
			p, bad, full, err := readBounded(ctx, b.st, cp, store.ReadAllOptions{Limit: 1000}, bound)
			must(t, err)
			if bad != nil {
				t.Fatalf("unreadable %v", bad.err)
			}
			if got := pageBytes(p.Events); got > bound && len(p.Events) > 1 {
				t.Fatalf("a page of %d events holds %d bytes, bound %d", len(p.Events), got, bound)
			}
			n += len(p.Events)
			cp = p.Next
			if !full {
				break
			}
		}
		if n != 26 {
			t.Fatalf("read %d events, want 26", n)
		}
	})

	t.Run("follow", func(t *testing.T) {
		fctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var mu sync.Mutex
		n := 0
		err := Follow(fctx, b.st, store.Start, FollowOptions{MaxBytes: bound, Categories: []string{"big", "huge"}}, func(evs []store.Event) error {
			mu.Lock()
			defer mu.Unlock()
			if got := pageBytes(evs); got > bound && len(evs) > 1 {
				return fmt.Errorf("a batch of %d events holds %d bytes, bound %d", len(evs), got, bound)
			}
			if n += len(evs); n == 26 {
				cancel()
			}
			return nil
		})
		must(t, err)
		if n != 26 {
			t.Fatalf("followed %d events, want 26", n)
		}
	})

	t.Run("subscription", func(t *testing.T) {
		rec := newRecorder()
		r := NewRunner(b.st, RunnerOptions{PageBytes: bound, Logf: testLogf(t)})
		must(t, r.Add(Subscription{Name: "bounded", Handler: rec.handle}))
		run(t, r)
		waitFor(t, "every event", time.Minute, func() bool { return rec.distinct() == 26 })
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for i := 1; i < len(rec.order); i++ {
			if !rec.order[i-1].Checkpoint.Less(rec.order[i].Checkpoint) {
				t.Fatalf("out of order at %d", i)
			}
		}
		l := r.shared
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.bytes > l.maxBytes {
			t.Fatalf("the shared log holds %d bytes, bound %d", l.bytes, l.maxBytes)
		}
	})

	t.Run("shared log", func(t *testing.T) {
		l := newSharedLog(b.st, newHeldWatcher(b.st.Pool(), testLogf(t)), testLogf(t), bound)
		must(t, l.refresh(ctx)) // from the head
		to, _, _ := l.state()
		appendBig(t, b.st, "big", 30, size)
		waitFor(t, "the log to show every event", time.Minute, func() bool {
			p, err := b.st.ReadAll(ctx, to, store.ReadAllOptions{Limit: 100})
			return err == nil && len(p.Events) == 30
		})
		must(t, l.refresh(ctx))
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.bytes > l.maxBytes || len(l.events) == 0 || !to.Less(l.from) {
			t.Fatalf("the shared log holds %d events, %d bytes (bound %d), from %s (was %s)", len(l.events), l.bytes, l.maxBytes, l.from, to)
		}
	})
}
