package subscriptions

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"eventscope/store"
)

// mustWhy is Admin.Why; before the runner created the row it answers a
// zero Why.
func mustWhy(t *testing.T, b *bundle, name string) Why {
	t.Helper()
	w, err := b.adm.Why(context.Background(), name)
	if errors.Is(err, store.ErrNotFound) {
		return Why{}
	}
	must(t, err)
	return w
}

// TestWhyPausedThenUpToDate: a paused subscription says since when, and how
// old its oldest undelivered event is; resumed and caught up it is up to date.
func TestWhyPausedThenUpToDate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rec := newRecorder()
	r := NewRunner(b.st, RunnerOptions{PollInterval: 100 * time.Millisecond, Logf: testLogf(t)})
	must(t, r.Add(Subscription{Name: "s", Handler: rec.handle}))
	run(t, r)
	appendN(t, b.st, "p", 2, 3)
	waitFor(t, "delivery", time.Minute, func() bool { return rec.count() == 3 })
	waitFor(t, "nothing pending", time.Minute, func() bool { w := mustWhy(t, b, "s"); return w.Reason == ReasonUpToDate && w.Oldest == nil })
	if w := mustWhy(t, b, "s"); w.Line(w.At) != "up to date" || w.Oldest != nil || w.TimeLag != 0 {
		t.Fatalf("caught up: %q, oldest %v, lag %s", w.Line(w.At), w.Oldest, w.TimeLag)
	}

	before := time.Now()
	must(t, b.adm.Pause(ctx, "s"))
	acknowledged(t, b, "s")
	ids := appendN(t, b.st, "p", 2, 2)
	w := mustWhy(t, b, "s")
	if w.Reason != ReasonPaused || w.Status.PausedAt.Before(before.Add(-time.Minute)) {
		t.Fatalf("paused: reason %s, paused at %s", w.Reason, w.Status.PausedAt)
	}
	if w.Oldest == nil || w.Oldest.EventID != ids[0] || !w.Oldest.Matches || w.TimeLag < 0 { // (deliverable or not: other tests share the horizon)
		t.Fatalf("oldest undelivered = %+v (lag %s), want the first event appended while paused", w.Oldest, w.TimeLag)
	}
	line := w.Line(w.At)
	// (the count is of deliverable events: another test's open transaction
	// on the shared server may hold them back for a moment)
	if !strings.HasPrefix(line, "behind ") || !strings.Contains(line, ": paused since ") || !strings.Contains(line, " ago)") ||
		(w.Status.Lag == 2 && !strings.Contains(line, " (2 events): ")) {
		t.Fatalf("line = %q", line)
	}
	// A second pause keeps the first one's time.
	must(t, b.adm.Pause(ctx, "s"))
	if again := mustWhy(t, b, "s"); !again.Status.PausedAt.Equal(w.Status.PausedAt) {
		t.Errorf("paused at moved from %s to %s on a second pause", w.Status.PausedAt, again.Status.PausedAt)
	}
	must(t, b.adm.Resume(ctx, "s"))
	waitFor(t, "delivery after resume", time.Minute, func() bool { return rec.count() == 5 })
	waitFor(t, "up to date again", time.Minute, func() bool {
		w := mustWhy(t, b, "s")
		return w.Reason == ReasonUpToDate && w.Status.PausedAt.IsZero()
	})
}

// TestWhyRetryingAndParkedHistory: a failing event is named with its attempt
// and the time of the next one; once parked, it carries its first failure and
// every attempt, and a failed retry adds its attempts.
func TestWhyRetryingAndParkedHistory(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	f := &flaky{rec: newRecorder()}
	f.failing.Store(true)
	// The first round of retries waits an hour before its second attempt,
	// so the test sees the retry.
	r := NewRunner(b.st, RunnerOptions{PollInterval: 100 * time.Millisecond, Logf: testLogf(t)})
	must(t, r.Add(Subscription{Name: "s", Handler: f.handle, Retry: RetryPolicy{Attempts: 3, Initial: time.Hour}}))
	run(t, r)
	appendData(t, b.st, "k-1", `{"ok": true}`)
	bad := appendData(t, b.st, "k-2", `{"bad": true}`)
	var w Why
	waitFor(t, "the retry to show", time.Minute, func() bool {
		w = mustWhy(t, b, "s")
		return w.Reason == ReasonRetrying && w.Oldest != nil && w.Oldest.EventID == bad // (the checkpoint is saved before the backoff)
	})
	rt := w.Status.Retry
	if rt.EventID != bad || rt.StreamID != "k-2" || rt.Version != 0 || rt.Attempt != 1 || rt.Attempts != 3 || rt.NextAt.Before(w.At.Add(50*time.Minute)) {
		t.Fatalf("retrying = %+v (at %s)", rt, w.At)
	}
	if line := w.Line(w.At); !strings.Contains(line, ": retrying k-2@0 (attempt 1 of 3, next in 59m") && !strings.Contains(line, ": retrying k-2@0 (attempt 1 of 3, next in 1h00m") {
		t.Fatalf("line = %q", line)
	}
	if w.Oldest == nil || w.Oldest.EventID != bad {
		t.Errorf("oldest undelivered = %+v, want the failing event", w.Oldest)
	}

	// With a short backoff (a runner restarted with another policy) the
	// event is parked after its three attempts.
	r2 := NewRunner(b.st, RunnerOptions{PollInterval: 100 * time.Millisecond, Logf: testLogf(t)})
	must(t, r2.Add(Subscription{Name: "s2", Handler: f.handle, Retry: RetryPolicy{Attempts: 3, Initial: time.Millisecond, Max: 2 * time.Millisecond}}))
	run(t, r2)
	waitFor(t, "parked", time.Minute, func() bool { return mustGet(t, b, "s2").Parked == 1 })
	parked, err := b.adm.Parked(ctx, "s2")
	must(t, err)
	p := parked[0]
	if len(p.History) != 3 || p.FirstFailedAt.IsZero() || !p.FirstFailedAt.Equal(p.History[0].At) {
		t.Fatalf("parked: first failure %s, history %+v", p.FirstFailedAt, p.History)
	}
	for i, a := range p.History {
		if a.Attempt != i+1 || !strings.Contains(a.Error, "cannot handle T") || a.At.IsZero() || (i > 0 && a.At.Before(p.History[i-1].At)) {
			t.Errorf("attempt %d = %+v", i, a)
		}
	}
	if s := mustGet(t, b, "s2"); s.Retry != nil {
		t.Errorf("after parking, retrying = %+v, want none", s.Retry)
	}
	must(t, b.adm.Retry(ctx, "s2", bad))
	waitFor(t, "the failed retry", time.Minute, func() bool {
		p, err := b.adm.Parked(ctx, "s2")
		must(t, err)
		return len(p) == 1 && p[0].Attempts == 6 && !p[0].RetryRequested
	})
	parked, err = b.adm.Parked(ctx, "s2")
	must(t, err)
	if h := parked[0].History; len(h) != 6 || h[3].Attempt != 1 || !parked[0].FirstFailedAt.Equal(p.FirstFailedAt) {
		t.Fatalf("after a failed retry: first failure %s (was %s), history %+v", parked[0].FirstFailedAt, p.FirstFailedAt, h)
	}
	w2 := mustWhy(t, b, "s2")
	if w2.Reason != ReasonUpToDate || !strings.HasSuffix(w2.Line(w2.At), "up to date · 1 parked") {
		t.Errorf("s2: %s %q", w2.Reason, w2.Line(w2.At))
	}
}

// TestWhyHandlerSlow: a subscription working through a backlog reports its
// handler's 99th percentile.
func TestWhyHandlerSlow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	appendN(t, b.st, "q", 3, 400)
	gate := make(chan struct{})
	n := 0
	r := NewRunner(b.st, RunnerOptions{PollInterval: 100 * time.Millisecond, Logf: testLogf(t)})
	must(t, r.Add(Subscription{Name: "s", BatchSize: 10, Handler: func(ctx context.Context, e store.Event) error {
		n++
		if n > 50 {
			select { // hold the backlog until the test has looked
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		time.Sleep(2 * time.Millisecond)
		return nil
	}}))
	run(t, r)
	defer close(gate)
	var w Why
	waitFor(t, "the handler time in the heartbeat", time.Minute, func() bool {
		w = mustWhy(t, b, "s")
		return w.Status.HandlerCalls >= 50 && w.TimeLag >= behindAfter
	})
	if w.Reason != ReasonSlow || w.Status.HandlerP99 < 2*time.Millisecond {
		t.Fatalf("reason %s, p99 %s over %d calls", w.Reason, w.Status.HandlerP99, w.Status.HandlerCalls)
	}
	if line := w.Line(w.At); !strings.Contains(line, "handler slow, catching up at ") || !strings.Contains(line, "(p99 ") {
		t.Fatalf("line = %q", line)
	}
}

// TestWhyHeldBack: an open transaction holding the log back is named.
func TestWhyHeldBack(t *testing.T) {
	t.Parallel()
	b := setupPrivate(t)
	ctx := context.Background()
	rec := newRecorder()
	r := NewRunner(b.st, RunnerOptions{PollInterval: 100 * time.Millisecond, Logf: testLogf(t)})
	must(t, r.Add(Subscription{Name: "s", Handler: rec.handle}))
	run(t, r)
	appendN(t, b.st, "h", 1, 1)
	waitFor(t, "the checkpoint saved", time.Minute, func() bool { return mustGet(t, b, "s").Processed == 1 })
	tx, err := b.st.Pool().Begin(ctx)
	must(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	var pid int
	must(t, tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid))
	_, err = b.st.AppendTx(ctx, tx, "h-open", store.Any, ev("Open", 1))
	must(t, err)
	late := appendN(t, b.st, "h", 1, 1) // committed, but behind the open transaction
	var w Why
	waitFor(t, "a second's delay", time.Minute, func() bool { w = mustWhy(t, b, "s"); return w.TimeLag >= behindAfter })
	if w.Reason != ReasonHeldBack || w.Blocker == nil || w.Blocker.PID != pid || w.Oldest == nil || w.Oldest.EventID != late[0] || w.Oldest.Deliverable {
		t.Fatalf("why = %+v", w)
	}
	if line := w.Line(w.At); !strings.Contains(line, "held back by pid ") {
		t.Fatalf("line = %q", line)
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0ns", 1500 * time.Microsecond: "1ms", 2400 * time.Millisecond: "2.4s", 42 * time.Second: "42s",
		252 * time.Second: "4m12s", 3*time.Hour + 5*time.Minute: "3h05m", 52 * time.Hour: "2d04h", 300 * time.Microsecond: "300µs",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestReplayCount(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := newRecorder()
	r := NewRunner(b.st, RunnerOptions{PollInterval: 100 * time.Millisecond, Logf: testLogf(t)})
	must(t, r.Add(Subscription{Name: "p-only", Categories: []string{"p"}, Handler: rec.handle}))
	must(t, r.Add(Subscription{Name: "typed", Types: []string{"Tested"}, Handler: rec.handle}))
	run(t, r)
	appendN(t, b.st, "p", 2, 5)
	appendN(t, b.st, "q", 2, 3)
	waitFor(t, "delivery", time.Minute, func() bool { return mustGet(t, b, "p-only").Processed == 5 && mustGet(t, b, "typed").Processed == 8 })
	n, err := b.adm.ReplayCount(context.Background(), "p-only")
	must(t, err)
	if n.Events != 5 || n.AtMost {
		t.Fatalf("p-only: %+v, want 5 exactly", n)
	}
	n, err = b.adm.ReplayCount(context.Background(), "typed")
	must(t, err)
	if n.Events != 8 || !n.AtMost {
		t.Fatalf("typed: %+v, want at most 8", n)
	}
	if _, err := b.adm.ReplayCount(context.Background(), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
}
