package subscriptions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"eventscope/internal/testdb"
	"eventscope/store"
)

// bundle is what setup gives a test: a store on a fresh database.
type bundle struct {
	url string
	st  *store.Store
	adm *Admin
}

func setup(t testing.TB) *bundle {
	t.Helper()
	url := testdb.URL(t)
	return setupURL(t, url)
}

// setupPrivate is setup on a private cluster of the test's own, for tests
// that leave a transaction open (a holder hung mid-batch): the global log's
// horizon is cluster-wide, so on the shared server such a transaction holds
// back every other test's delivery.
func setupPrivate(t testing.TB) *bundle {
	t.Helper()
	srv, _ := testdb.Private(t)
	return setupURL(t, srv.URL())
}

func setupURL(t testing.TB, url string) *bundle {
	t.Helper()
	st := testdb.Open(t, url, store.Options{})
	return &bundle{url: url, st: st, adm: NewAdmin(st)}
}

// testLogf logs the runner's lines into the test log while the test runs.
func testLogf(t testing.TB) func(string, ...any) {
	var mu sync.Mutex
	done := false
	t.Cleanup(func() { mu.Lock(); done = true; mu.Unlock() })
	return func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			t.Logf(f, a...)
		}
	}
}

// run starts r until the test ends (or the returned cancel).
func run(t testing.TB, r *Runner) (cancel func()) {
	t.Helper()
	ctx, c := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			c()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func ev(typ string, n int) store.NewEvent {
	return store.NewEvent{Type: typ, Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n))}
}

// appendN appends n events, one per append, to streams cat-0..cat-(streams-1).
func appendN(t testing.TB, st *store.Store, cat string, streams, n int) []uuid.UUID {
	t.Helper()
	ctx := context.Background()
	var ids []uuid.UUID
	for i := range n {
		id := uuid.New()
		e := ev("Tested", i)
		e.ID = id
		if _, err := st.Append(ctx, fmt.Sprintf("%s-%d", cat, i%streams), store.Any, e); err != nil {
			t.Fatalf("append: %v", err)
		}
		ids = append(ids, id)
	}
	return ids
}

// recorder is a Handler that records deliveries.
type recorder struct {
	mu     sync.Mutex
	seen   map[uuid.UUID]int
	order  []store.Event
	notify chan struct{}
}

func newRecorder() *recorder {
	return &recorder{seen: map[uuid.UUID]int{}, notify: make(chan struct{}, 1)}
}

func (r *recorder) handle(_ context.Context, e store.Event) error {
	r.mu.Lock()
	r.seen[e.EventID]++
	r.order = append(r.order, e)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.order)
}

func (r *recorder) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// waitFor polls cond until it holds or the deadline (a generous one: it
// only bounds a hung test) passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// isSerialization: the store refused a write that would break the global
// order (SQLSTATE 40001), or a deadlock.
func isSerialization(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40001" || pg.Code == "40P01")
}
