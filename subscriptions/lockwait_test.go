package subscriptions

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// lockRow holds the subscription's row locked from another session until
// the returned function runs (or the test ends).
func lockRow(t *testing.T, b *bundle, name string) (unlock func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b.url)
	must(t, err)
	tx, err := conn.Begin(ctx)
	must(t, err)
	var one int
	must(t, tx.QueryRow(ctx, `SELECT 1 FROM eventscope.subscriptions WHERE name = $1 FOR UPDATE`, name).Scan(&one))
	var once sync.Once
	unlock = func() {
		once.Do(func() {
			_ = tx.Rollback(ctx)
			_ = conn.Close(ctx)
		})
	}
	t.Cleanup(unlock)
	return unlock
}

// TestAdminLockWaitBounded: an admin operation on a row another session
// holds locked gives up after its lock timeout with a retryable error that
// says what it waited for, and changes nothing.
func TestAdminLockWaitBounded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.st.Pool().Exec(ctx, `INSERT INTO eventscope.subscriptions (name) VALUES ('s')`)
	must(t, err)
	unlock := lockRow(t, b, "s")
	adm := NewAdminWith(b.st, AdminOptions{LockTimeout: 200 * time.Millisecond})
	ops := map[string]func(context.Context) error{
		"pause":  func(ctx context.Context) error { return adm.Pause(ctx, "s") },
		"resume": func(ctx context.Context) error { return adm.Resume(ctx, "s") },
		"reset":  func(ctx context.Context) error { return adm.Reset(ctx, "s", ResetTarget{Kind: ResetEnd}) },
		"retry":  func(ctx context.Context) error { _, err := adm.RetryAll(ctx, "s"); return err },
		"skip":   func(ctx context.Context) error { return adm.Skip(ctx, "s", uuid.New()) },
		"delete": func(ctx context.Context) error { return adm.Delete(ctx, "s") },
	}
	for op, f := range ops {
		// The context only bounds a hung test: the lock timeout must answer first.
		octx, cancel := context.WithTimeout(ctx, time.Minute)
		err := f(octx)
		cancel()
		var le *LockTimeoutError
		if !errors.Is(err, ErrLockTimeout) || !errors.As(err, &le) || !strings.Contains(err.Error(), `"subscriptions"`) ||
			!strings.Contains(err.Error(), op) {
			t.Fatalf("%s on a locked row: %v; want a lock timeout naming the subscriptions table", op, err)
		}
		t.Logf("%s: %v", op, err)
	}
	unlock()
	s, err := adm.Get(ctx, "s")
	must(t, err)
	if s.Paused || s.ControlPending {
		t.Fatalf("the refused operations changed the row: %+v", s)
	}
	must(t, adm.Pause(ctx, "s"))
}

// TestRunnerLockWaitBounded: a runner whose subscription's row is locked by
// another session keeps going (it gives up on the wait, says so, and tries
// again) and takes the lease once the lock is gone.
func TestRunnerLockWaitBounded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.st.Pool().Exec(ctx, `INSERT INTO eventscope.subscriptions (name) VALUES ('s')`)
	must(t, err)
	unlock := lockRow(t, b, "s")
	var mu sync.Mutex
	var lines []string
	logf := testLogf(t)
	r := NewRunner(b.st, RunnerOptions{LockTimeout: 200 * time.Millisecond, Logf: func(f string, a ...any) {
		logf(f, a...)
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, f)
		if len(a) > 0 {
			if err, ok := a[len(a)-1].(error); ok {
				lines = append(lines, err.Error())
			}
		}
	}})
	rec := newRecorder()
	must(t, r.Add(Subscription{Name: "s", Handler: rec.handle}))
	run(t, r)
	waitFor(t, "the runner to give up a lock wait", time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, l := range lines {
			if strings.Contains(l, "gave up after waiting") && strings.Contains(l, `"subscriptions"`) {
				return true
			}
		}
		return false
	})
	unlock()
	waitFor(t, "the lease", time.Minute, func() bool { return r.byName["s"].public().active })
	appendN(t, b.st, "lw", 1, 3)
	waitFor(t, "delivery", time.Minute, func() bool { return rec.distinct() == 3 })
}
