package subscriptions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// acknowledged waits until the holder has acted on the latest admin operation.
func acknowledged(t *testing.T, b *bundle, name string) Status {
	t.Helper()
	var s Status
	waitFor(t, "the holder to acknowledge", time.Minute, func() bool {
		var err error
		s, err = b.adm.Get(context.Background(), name)
		must(t, err)
		return s.Holder != nil && !s.ControlPending
	})
	return s
}

func TestPauseResumeWhileLive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rec := newRecorder()
	r := NewRunner(b.st, RunnerOptions{PollInterval: 100 * time.Millisecond, Logf: testLogf(t)})
	must(t, r.Add(Subscription{Name: "s", Handler: rec.handle}))
	run(t, r)
	appendN(t, b.st, "p", 3, 10)
	waitFor(t, "live delivery", time.Minute, func() bool { return rec.count() == 10 })

	must(t, b.adm.Pause(ctx, "s"))
	if s := acknowledged(t, b, "s"); s.State != StatePaused || !s.Paused {
		t.Fatalf("after pause: state %s, paused %v", s.State, s.Paused)
	}
	steps := r.byName["s"].stats.steps.Load()
	appendN(t, b.st, "p", 3, 10)
	// Nothing may arrive while paused: wait for several polls and wake-ups.
	time.Sleep(700 * time.Millisecond)
	if n := rec.count(); n != 10 {
		t.Fatalf("%d events delivered while paused, want none (10 before)", n-10)
	}
	// ... and the paused subscription sleeps rather than spins.
	if n := r.byName["s"].stats.steps.Load() - steps; n > 20 {
		t.Errorf("the paused subscription woke %d times in 0.7 s", n)
	}
	must(t, b.adm.Resume(ctx, "s"))
	waitFor(t, "delivery after resume", time.Minute, func() bool { return rec.count() == 20 })
	if s := acknowledged(t, b, "s"); s.State == StatePaused {
		t.Fatalf("state after resume = %s", s.State)
	}
	if rec.distinct() != 20 {
		t.Fatalf("%d distinct events, want 20", rec.distinct())
	}
}

func TestResetWhileLive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	if _, err := b.st.Pool().Exec(ctx, `CREATE TABLE tx_counts (event_id uuid PRIMARY KEY, n int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	r := NewRunner(b.st, RunnerOptions{Logf: testLogf(t)})
	must(t, r.Add(Subscription{Name: "plain", BatchSize: 7, Handler: rec.handle}))
	must(t, r.Add(Subscription{Name: "tx", BatchSize: 7, TxHandler: func(ctx context.Context, tx pgx.Tx, e store.Event) error {
		_, err := tx.Exec(ctx, `INSERT INTO tx_counts (event_id, n) VALUES ($1, 1) ON CONFLICT (event_id) DO UPDATE SET n = tx_counts.n + 1`, e.EventID)
		return err
	}}))
	run(t, r)
	ids := appendN(t, b.st, "r", 4, 40)
	waitFor(t, "first delivery", time.Minute, func() bool {
		return rec.count() == 40 && mustGet(t, b, "tx").Processed == 40
	})

	// To the start: everything again.
	must(t, b.adm.Reset(ctx, "plain", ResetTarget{Kind: ResetStart}))
	must(t, b.adm.Reset(ctx, "tx", ResetTarget{Kind: ResetStart}))
	waitFor(t, "redelivery of everything", time.Minute, func() bool {
		var n int
		_ = b.st.Pool().QueryRow(ctx, `SELECT count(*) FROM tx_counts WHERE n = 2`).Scan(&n)
		return rec.count() == 80 && n == 40
	})
	rec.mu.Lock()
	for _, id := range ids {
		if rec.seen[id] != 2 {
			t.Errorf("event %s delivered %d times after a reset to the start, want 2", id, rec.seen[id])
		}
	}
	// To a checkpoint: the events after it.
	cp := rec.order[29].Checkpoint
	rec.mu.Unlock()
	must(t, b.adm.Reset(ctx, "plain", ResetTarget{Kind: ResetCheckpoint, Checkpoint: cp}))
	waitFor(t, "redelivery after a checkpoint", time.Minute, func() bool { return rec.count() == 90 })
	// To the end: nothing old again, new events yes.
	must(t, b.adm.Reset(ctx, "plain", ResetTarget{Kind: ResetEnd}))
	acknowledged(t, b, "plain")
	appendN(t, b.st, "r", 4, 3)
	waitFor(t, "new events after a reset to the end", time.Minute, func() bool { return rec.count() == 93 })
	// To a time: the events recorded since.
	time.Sleep(20 * time.Millisecond)
	mark := time.Now()
	time.Sleep(20 * time.Millisecond)
	appendN(t, b.st, "r", 4, 5)
	waitFor(t, "the newest events", time.Minute, func() bool { return rec.count() == 98 })
	must(t, b.adm.Reset(ctx, "plain", ResetTarget{Kind: ResetTime, Time: mark}))
	waitFor(t, "redelivery since a time", time.Minute, func() bool { return rec.count() == 103 })
	time.Sleep(200 * time.Millisecond)
	if n := rec.count(); n != 103 {
		t.Errorf("%d deliveries, want 103", n)
	}
}

// flaky fails events whose data has "bad": true while failing is set.
type flaky struct {
	rec     *recorder
	failing atomic.Bool
	calls   atomic.Int64
}

func (f *flaky) handle(ctx context.Context, e store.Event) error {
	f.calls.Add(1)
	if f.failing.Load() && strings.Contains(string(e.Data), `"bad"`) {
		return fmt.Errorf("cannot handle %s", e.Type)
	}
	return f.rec.handle(ctx, e)
}

func appendData(t *testing.T, st *store.Store, stream, data string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	_, err := st.Append(context.Background(), stream, store.Any, store.NewEvent{ID: id, Type: "T", Data: json.RawMessage(data)})
	must(t, err)
	return id
}

func TestParkRetrySkip(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"plain", "tx"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			testParkRetrySkip(t, kind)
		})
	}
}

func testParkRetrySkip(t *testing.T, kind string) {
	b := setup(t)
	ctx := context.Background()
	f := &flaky{rec: newRecorder()}
	f.failing.Store(true)
	sub := Subscription{Name: "s", BatchSize: 4, Retry: RetryPolicy{Attempts: 3, Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}}
	// times is how often an event's effects happened: the recorder for a
	// Handler, the counter table (committed effects only) for a TxHandler.
	times := func(id uuid.UUID) int {
		f.rec.mu.Lock()
		defer f.rec.mu.Unlock()
		return f.rec.seen[id]
	}
	total := f.rec.count
	if kind == "tx" {
		_, err := b.st.Pool().Exec(ctx, `CREATE TABLE tx_counts (event_id uuid PRIMARY KEY, n int NOT NULL)`)
		must(t, err)
		sub.TxHandler = func(ctx context.Context, tx pgx.Tx, e store.Event) error {
			if err := f.handle(ctx, e); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO tx_counts (event_id, n) VALUES ($1, 1) ON CONFLICT (event_id) DO UPDATE SET n = tx_counts.n + 1`, e.EventID)
			return err
		}
		times = func(id uuid.UUID) int {
			var n int
			_ = b.st.Pool().QueryRow(ctx, `SELECT coalesce((SELECT n FROM tx_counts WHERE event_id = $1), 0)`, id).Scan(&n)
			return n
		}
		total = func() int {
			var n int
			_ = b.st.Pool().QueryRow(ctx, `SELECT coalesce(sum(n), 0) FROM tx_counts`).Scan(&n)
			return n
		}
	} else {
		sub.Handler = f.handle
	}
	r := NewRunner(b.st, RunnerOptions{Logf: testLogf(t)})
	must(t, r.Add(sub))
	run(t, r)

	// good, good, BAD, good, BAD, good: the bad ones sit in the middle of batches.
	var bad, good []uuid.UUID
	for i := range 6 {
		if i == 2 || i == 4 {
			bad = append(bad, appendData(t, b.st, fmt.Sprintf("k-%d", i), `{"bad": true}`))
		} else {
			good = append(good, appendData(t, b.st, fmt.Sprintf("k-%d", i), `{"ok": true}`))
		}
	}
	waitFor(t, "the good events and two parked", time.Minute, func() bool {
		return total() == 4 && mustGet(t, b, "s").Parked == 2
	})
	for _, id := range good {
		if n := times(id); n != 1 {
			t.Errorf("good event %s handled %d times, want 1", id, n)
		}
	}
	parked, err := b.adm.Parked(ctx, "s")
	must(t, err)
	if len(parked) != 2 || parked[0].Event.EventID != bad[0] || parked[1].Event.EventID != bad[1] {
		t.Fatalf("parked = %+v, want %v in order", parked, bad)
	}
	for _, p := range parked {
		if p.Attempts != 3 || !strings.Contains(p.LastError, "cannot handle") || p.ParkedAt.IsZero() || p.Subscription != "s" {
			t.Errorf("parked event %+v: want 3 attempts and the handler's error", p)
		}
	}
	// (a live Handler's checkpoint and count are saved within 250 ms)
	waitFor(t, "4 processed", time.Minute, func() bool { return mustGet(t, b, "s").Processed == 4 })
	s := mustGet(t, b, "s")
	if s.Failures != 6 || !strings.Contains(s.LastError, "cannot handle") || s.LastErrorAt.IsZero() {
		t.Errorf("status: failures %d (want 6), last error %q", s.Failures, s.LastError)
	}

	// Retrying while the handler still fails parks the event again.
	must(t, b.adm.Retry(ctx, "s", bad[0]))
	waitFor(t, "the failed retry", time.Minute, func() bool {
		p, err := b.adm.Parked(ctx, "s")
		must(t, err)
		return len(p) == 2 && p[0].Attempts == 6 && !p[0].RetryRequested
	})
	// Fixed: retry one, skip the other.
	f.failing.Store(false)
	must(t, b.adm.Retry(ctx, "s", bad[0]))
	waitFor(t, "the retried event", time.Minute, func() bool { return times(bad[0]) == 1 })
	must(t, b.adm.Skip(ctx, "s", bad[1]))
	waitFor(t, "no parked events", time.Minute, func() bool { return mustGet(t, b, "s").Parked == 0 })
	time.Sleep(200 * time.Millisecond)
	if times(bad[1]) != 0 || times(bad[0]) != 1 || total() != 5 {
		t.Errorf("retried event handled %d times (want 1), skipped one %d times (want 0), %d in all (want 5)", times(bad[0]), times(bad[1]), total())
	}

	// RetryAll, and the errors for unknown things.
	f.failing.Store(true)
	b3 := appendData(t, b.st, "k-9", `{"bad": true}`)
	waitFor(t, "a third parked event", time.Minute, func() bool { return mustGet(t, b, "s").Parked == 1 })
	f.failing.Store(false)
	n, err := b.adm.RetryAll(ctx, "s")
	must(t, err)
	if n != 1 {
		t.Errorf("RetryAll = %d, want 1", n)
	}
	waitFor(t, "the retried event", time.Minute, func() bool { return times(b3) == 1 })
	if err := b.adm.Retry(ctx, "s", uuid.New()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Retry of an unknown event: %v, want ErrNotFound", err)
	}
	if err := b.adm.Skip(ctx, "s", b3); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Skip of a delivered event: %v, want ErrNotFound", err)
	}
	if _, err := b.adm.Parked(ctx, "nope"); !errors.Is(err, store.ErrNotFound) || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Parked of an unknown subscription: %v, want ErrNotFound", err)
	}
	waitFor(t, "6 processed", time.Minute, func() bool { return mustGet(t, b, "s").Processed == 6 })
}

func TestStopOnFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	f := &flaky{rec: newRecorder()}
	f.failing.Store(true)
	r := NewRunner(b.st, RunnerOptions{Logf: testLogf(t)})
	must(t, r.Add(Subscription{Name: "s", StopOnFailure: true, Handler: f.handle,
		Retry: RetryPolicy{Attempts: 2, Initial: 5 * time.Millisecond}}))
	run(t, r)
	appendData(t, b.st, "a-1", `{"ok": 1}`)
	bad := appendData(t, b.st, "a-2", `{"bad": 1}`)
	appendData(t, b.st, "a-3", `{"ok": 3}`)
	var s Status
	waitFor(t, "the stop", time.Minute, func() bool { s = mustGet(t, b, "s"); return s.State == StateStopped })
	if !strings.Contains(s.LastError, bad.String()) || s.Parked != 0 || f.rec.count() != 1 {
		t.Fatalf("stopped: last error %q, parked %d, delivered %d; want the bad event named, none parked, 1 delivered", s.LastError, s.Parked, f.rec.count())
	}
	calls := f.calls.Load()
	time.Sleep(300 * time.Millisecond)
	if f.calls.Load() != calls {
		t.Fatal("the handler was called while the subscription was stopped")
	}
	f.failing.Store(false)
	must(t, b.adm.Resume(ctx, "s"))
	waitFor(t, "delivery after resume", time.Minute, func() bool { return f.rec.count() == 3 })
	if s := acknowledged(t, b, "s"); s.State == StateStopped || s.Stopped {
		t.Fatalf("state after resume = %s", s.State)
	}
}

func TestDeleteWhileLive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rec := newRecorder()
	r := NewRunner(b.st, RunnerOptions{Logf: testLogf(t)})
	must(t, r.Add(Subscription{Name: "s", Handler: rec.handle}))
	run(t, r)
	appendN(t, b.st, "d", 2, 5)
	waitFor(t, "delivery", time.Minute, func() bool { return rec.count() == 5 })
	must(t, b.adm.Delete(ctx, "s"))
	waitFor(t, "the runner to stop it", time.Minute, func() bool { return r.byName["s"].in.deleted.Load() })
	appendN(t, b.st, "d", 2, 5)
	time.Sleep(300 * time.Millisecond)
	if rec.count() != 5 {
		t.Fatalf("%d deliveries after delete, want none", rec.count()-5)
	}
	if _, err := b.adm.Get(ctx, "s"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after delete: %v, want ErrNotFound", err)
	}
	for name, op := range map[string]func() error{
		"pause":  func() error { return b.adm.Pause(ctx, "s") },
		"resume": func() error { return b.adm.Resume(ctx, "s") },
		"reset":  func() error { return b.adm.Reset(ctx, "s", ResetTarget{Kind: ResetStart}) },
		"delete": func() error { return b.adm.Delete(ctx, "s") },
		"retry":  func() error { _, err := b.adm.RetryAll(ctx, "s"); return err },
	} {
		if err := op(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s of a deleted subscription: %v, want ErrNotFound", name, err)
		}
	}
}
