package subscriptions

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"eventscope/internal/pgserver"
	"eventscope/internal/testdb"
	"eventscope/store"
)

// writer appends one event at a time in the background and remembers which
// appends committed and which had an unknown outcome (an error, which
// during a server restart may come after the commit).
type writer struct {
	st        *store.Store
	mu        sync.Mutex
	committed map[uuid.UUID]bool
	unknown   map[uuid.UUID]bool
	stop      chan struct{}
	done      chan struct{}
}

func startWriter(st *store.Store, every time.Duration) *writer {
	w := &writer{st: st, committed: map[uuid.UUID]bool{}, unknown: map[uuid.UUID]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			case <-time.After(every):
			}
			id := uuid.New()
			e := ev("Written", i)
			e.ID = id
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := st.Append(ctx, fmt.Sprintf("w-%d", i%5), store.Any, e)
			cancel()
			w.mu.Lock()
			if err == nil {
				w.committed[id] = true
			} else {
				w.unknown[id] = true
			}
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *writer) finish() (committed, unknown map[uuid.UUID]bool) {
	close(w.stop)
	<-w.done
	return w.committed, w.unknown
}

// checkDelivered: every committed event delivered, nothing else but
// unknown-outcome ones, and at most maxDup redeliveries.
func checkDelivered(t *testing.T, rec *recorder, committed, unknown map[uuid.UUID]bool, maxDup int) {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	dups := 0
	for id, n := range rec.seen {
		if !committed[id] && !unknown[id] {
			t.Errorf("delivered event %s that was never appended", id)
		}
		dups += n - 1
	}
	for id := range committed {
		if rec.seen[id] == 0 {
			t.Errorf("committed event %s was never delivered", id)
		}
	}
	t.Logf("%d committed (+%d unknown outcome), %d delivered, %d redeliveries", len(committed), len(unknown), len(rec.order), dups)
	if dups > maxDup {
		t.Errorf("%d redeliveries, want at most %d (the batch in flight)", dups, maxDup)
	}
}

// TestPostgresRestart restarts the server under a live runner that has a
// writer appending: the runner recovers by itself, every committed event
// is delivered, the transactional subscription's effects stay exact, and
// the listener is back.
func TestPostgresRestart(t *testing.T) {
	t.Parallel()
	srv, opts := testdb.Private(t)
	b := setupURL(t, srv.URL())
	ctx := context.Background()
	_, err := b.st.Pool().Exec(ctx, `CREATE TABLE tx_counts (event_id uuid PRIMARY KEY, n int NOT NULL)`)
	must(t, err)

	rec := newRecorder()
	r := NewRunner(b.st, RunnerOptions{PollInterval: 200 * time.Millisecond, Logf: testLogf(t)})
	must(t, r.Add(Subscription{Name: "plain", BatchSize: 10, Handler: rec.handle}))
	must(t, r.Add(Subscription{Name: "tx", BatchSize: 10, TxHandler: func(ctx context.Context, tx pgx.Tx, e store.Event) error {
		_, err := tx.Exec(ctx, `INSERT INTO tx_counts (event_id, n) VALUES ($1, 1) ON CONFLICT (event_id) DO UPDATE SET n = tx_counts.n + 1`, e.EventID)
		return err
	}}))
	run(t, r)
	waitFor(t, "the listener", time.Minute, func() bool { return r.lis.connected.Load() })

	w := startWriter(b.st, 2*time.Millisecond)
	waitFor(t, "deliveries before the restart", time.Minute, func() bool { return rec.distinct() >= 100 })
	restartCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	must(t, pgserver.Restart(restartCtx, opts))
	before := rec.distinct()
	waitFor(t, "deliveries after the restart", time.Minute, func() bool { return rec.distinct() >= before+100 })
	committed, unknown := w.finish()

	waitFor(t, "every committed event delivered", time.Minute, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for id := range committed {
			if rec.seen[id] == 0 {
				return false
			}
		}
		return true
	})
	checkDelivered(t, rec, committed, unknown, 10)
	if n := r.lis.connects.Load(); n < 2 {
		t.Errorf("listener connected %d times, want a reconnection", n)
	}

	waitFor(t, "the transactional subscription", time.Minute, func() bool {
		s, err := b.adm.Get(ctx, "tx")
		return err == nil && s.Checkpoint == mustGet(t, b, "plain").Checkpoint
	})
	var rows, dup, missing int
	must(t, b.st.Pool().QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE n <> 1) FROM tx_counts`).Scan(&rows, &dup))
	for id := range committed {
		var ok bool
		must(t, b.st.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tx_counts WHERE event_id = $1)`, id).Scan(&ok))
		if !ok {
			missing++
		}
	}
	if dup != 0 || missing != 0 {
		t.Errorf("tx_counts: %d rows, %d counted more than once, %d committed events missing", rows, dup, missing)
	}
}

// mustGet returns a subscription's status; the zero Status while its row
// does not exist yet (a runner creates it when it starts).
func mustGet(t *testing.T, b *bundle, name string) Status {
	t.Helper()
	s, err := b.adm.Get(context.Background(), name)
	if errors.Is(err, store.ErrNotFound) {
		return Status{}
	}
	must(t, err)
	return s
}

// terminate ends the backends of this database with the given application
// name (and pid, when not 0), from the maintenance database.
func terminate(t *testing.T, b *bundle, app string, pid uint32) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), testdb.AdminURL(t))
	must(t, err)
	defer conn.Close(context.Background())
	var n int
	must(t, conn.QueryRow(context.Background(), `
		SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		 WHERE datname = $1 AND application_name = $2 AND ($3 = 0 OR pid = $3)`,
		b.st.Pool().Config().ConnConfig.Database, app, int64(pid)).Scan(&n))
	return n
}

// TestListenerTerminated kills the listener's backend: delivery goes on by
// polling while the listener is away, then by LISTEN again.
func TestListenerTerminated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var (
		mu            sync.Mutex
		whileDown     int
		afterRecovery int
	)
	r := NewRunner(b.st, RunnerOptions{PollInterval: 100 * time.Millisecond, Logf: testLogf(t)})
	// stay away long enough to see polling at work, even on a loaded machine
	r.lis.retryMin = 8 * time.Second
	must(t, r.Add(Subscription{Name: "s", Handler: func(_ context.Context, e store.Event) error {
		mu.Lock()
		defer mu.Unlock()
		if r.lis.connected.Load() {
			afterRecovery++
		} else {
			whileDown++
		}
		return nil
	}}))
	run(t, r)
	waitFor(t, "the listener", time.Minute, func() bool { return r.lis.connected.Load() })
	waitFor(t, "the lease", time.Minute, func() bool { return r.byName["s"].public().active })
	pid := r.lis.pid.Load()
	if n := terminate(t, b, listenerAppName, pid); n != 1 {
		t.Fatalf("terminated %d listener backends, want 1", n)
	}
	waitFor(t, "the listener to notice", time.Minute, func() bool { return !r.lis.connected.Load() })
	appendN(t, b.st, "poll", 2, 5)
	waitFor(t, "delivery by polling", time.Minute, func() bool { mu.Lock(); defer mu.Unlock(); return whileDown+afterRecovery == 5 })
	mu.Lock()
	if whileDown != 5 {
		t.Errorf("%d of 5 events delivered while the listener was away, want all (by polling)", whileDown)
	}
	mu.Unlock()

	waitFor(t, "the listener to reconnect", time.Minute, func() bool { return r.lis.connected.Load() })
	if r.lis.pid.Load() == pid {
		t.Fatal("the listener has the same backend pid after reconnecting")
	}
	if _, _, gen := r.shared.state(); gen == 0 {
		t.Error("the shared log was not invalidated when the listener reconnected")
	}
	received := r.lis.received.Load()
	mu.Lock()
	before := afterRecovery
	mu.Unlock()
	appendN(t, b.st, "listen", 2, 5)
	waitFor(t, "delivery after reconnecting", time.Minute, func() bool { mu.Lock(); defer mu.Unlock(); return afterRecovery == before+5 })
	if r.lis.received.Load() == received {
		t.Error("no notification arrived on the new listener connection")
	}
}

// TestLeaseConnectionTerminated kills the holder's lease backend while a
// writer appends and a standby waits: whoever holds the subscription next,
// no event is delivered twice beyond the batch in flight, and none is lost.
func TestLeaseConnectionTerminated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := newRecorder()
	handler := func(ctx context.Context, e store.Event) error {
		time.Sleep(200 * time.Microsecond) // keep a batch in flight
		return rec.handle(ctx, e)
	}
	const batch = 20
	a := NewRunner(b.st, RunnerOptions{Instance: "a", Logf: testLogf(t)})
	must(t, a.Add(Subscription{Name: "s", BatchSize: batch, Handler: handler}))
	run(t, a)
	waitFor(t, "a to hold", time.Minute, func() bool { return a.byName["s"].public().active })
	sb := NewRunner(b.st, RunnerOptions{Instance: "b", Logf: testLogf(t)})
	must(t, sb.Add(Subscription{Name: "s", BatchSize: batch, Handler: handler}))
	run(t, sb)
	waitFor(t, "b's first lease round", time.Minute, func() bool { return sb.leaseRounds.Load() > 0 })

	w := startWriter(b.st, time.Millisecond)
	waitFor(t, "deliveries", time.Minute, func() bool { return rec.distinct() >= 200 })
	a.unlockMu.Lock()
	pid := a.leasePID
	a.unlockMu.Unlock()
	if n := terminate(t, b, leaseAppName, pid); n != 1 {
		t.Fatalf("terminated %d lease backends, want 1", n)
	}
	epoch := a.byName["s"].public().epoch
	waitFor(t, "a new lease epoch", time.Minute, func() bool {
		var e int64
		_ = b.st.Pool().QueryRow(context.Background(), `SELECT lease_epoch FROM eventscope.subscriptions WHERE name = 's'`).Scan(&e)
		return e != epoch
	})
	n := rec.distinct()
	waitFor(t, "deliveries after the takeover", time.Minute, func() bool { return rec.distinct() >= n+200 })
	committed, unknown := w.finish()
	waitFor(t, "every committed event delivered", time.Minute, func() bool { return rec.distinct() >= len(committed) })
	time.Sleep(200 * time.Millisecond)
	s := mustGet(t, b, "s")
	t.Logf("after the lease backend was terminated, %s holds the subscription", s.Holder)
	checkDelivered(t, rec, committed, unknown, batch)
}

// TestListenerQuietPing: after quiet spells the listener pings its
// connection, and the timeout that ends each wait leaves it working.
func TestListenerQuietPing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := newListener(b.st, testLogf(t))
	l.quiet = 30 * time.Millisecond
	woken := newSignal()
	l.add(&target{wake: woken.send})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the listener", time.Minute, func() bool { return l.connected.Load() })
	<-woken                            // the wake-up every (re)connection sends
	time.Sleep(300 * time.Millisecond) // about ten quiet spells and pings
	_, err := b.st.Pool().Exec(context.Background(), `SELECT pg_notify($1, 'x')`, store.NotifyChannel)
	must(t, err)
	select {
	case <-woken:
	case <-time.After(time.Minute):
		t.Fatal("no wake-up after the quiet spells")
	}
	if n := l.connects.Load(); n != 1 {
		t.Errorf("the listener connected %d times, want once", n)
	}
}

// TestTxHandlerTransientErrors: a TxHandler whose transaction fails with
// the database's errors (its backend terminated, a deadlock, a connection
// error) is retried without counting attempts and without parking: the
// events reach the read model, nothing is parked, no failure is recorded.
func TestTxHandlerTransientErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.st.Pool().Exec(ctx, `CREATE TABLE tx_seen (id uuid PRIMARY KEY)`)
	must(t, err)
	ids := appendN(t, b.st, "tr", 3, 20)
	var mu sync.Mutex
	calls := 0
	handler := func(ctx context.Context, tx pgx.Tx, e store.Event) error {
		mu.Lock()
		calls++
		c := calls
		mu.Unlock()
		switch c {
		case 1: // the server shut the session down
			return fmt.Errorf("projecting: %w", &pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"})
		case 2: // really: the transaction's backend is terminated mid-handler
			_, err := tx.Exec(ctx, `SELECT pg_terminate_backend(pg_backend_pid())`)
			if err == nil {
				_, err = tx.Exec(ctx, `SELECT 1`)
			}
			if err == nil {
				t.Errorf("the terminated backend still answers")
				return errors.New("not terminated")
			}
			return err
		case 3:
			return &pgconn.PgError{Code: "40P01", Message: "deadlock detected"}
		case 4:
			return &pgconn.PgError{Code: "08006", Message: "connection failure"}
		}
		_, err := tx.Exec(ctx, `INSERT INTO tx_seen (id) VALUES ($1)`, e.EventID)
		return err
	}
	r := NewRunner(b.st, RunnerOptions{Logf: testLogf(t)})
	must(t, r.Add(Subscription{Name: "s", BatchSize: 5, Retry: RetryPolicy{Attempts: 2, Initial: time.Millisecond}, TxHandler: handler}))
	run(t, r)
	count := func() int {
		var n int
		_ = b.st.Pool().QueryRow(ctx, `SELECT count(*) FROM tx_seen`).Scan(&n)
		return n
	}
	waitFor(t, "every event in the read model", time.Minute, func() bool { return count() >= len(ids) })
	waitFor(t, "the checkpoint at the end", time.Minute, func() bool { return mustGet(t, b, "s").Processed >= int64(len(ids)) })
	var parked int
	must(t, b.st.Pool().QueryRow(ctx, `SELECT count(*) FROM eventscope.parked_events WHERE subscription = 's'`).Scan(&parked))
	s := mustGet(t, b, "s")
	if n := count(); n != len(ids) || parked != 0 || s.Failures != 0 || r.byName["s"].stats.failures.Load() != 0 {
		t.Fatalf("read model has %d of %d events, %d parked, %d failures recorded (%d counted); want all, 0, 0, 0",
			n, len(ids), parked, s.Failures, r.byName["s"].stats.failures.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	if calls < 4+len(ids) {
		t.Fatalf("handler called %d times, want at least %d", calls, 4+len(ids))
	}
}

// TestDedicatedKeepalives: the lease and LISTEN connections ask the server
// for short TCP keepalives, so a dead host's locks are freed in seconds.
func TestDedicatedKeepalives(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, dedicatedConfig(b.st, "keepalive-test"))
	must(t, err)
	defer conn.Close(ctx)
	var idle, interval, count, user string
	var unixSocket bool
	must(t, conn.QueryRow(ctx, `SELECT current_setting('tcp_keepalives_idle'), current_setting('tcp_keepalives_interval'),
		current_setting('tcp_keepalives_count'), current_setting('tcp_user_timeout'), inet_client_addr() IS NULL`).Scan(&idle, &interval, &count, &user, &unixSocket))
	if unixSocket {
		// A Unix socket has no TCP keepalives: the server reports 0 for
		// every one of them whatever the session asked for. Check the request.
		rp := conn.Config().RuntimeParams
		idle, interval, count, user = rp["tcp_keepalives_idle"], rp["tcp_keepalives_interval"], rp["tcp_keepalives_count"], rp["tcp_user_timeout"]
	}
	if idle != "1" || interval != "1" || count != "2" || user != "2000" {
		t.Fatalf("keepalives idle %s interval %s count %s user timeout %s; want 1 1 2 2000", idle, interval, count, user)
	}
}

// TestUnsavedAtMostBatch: a live Handler's deferred checkpoint counts
// against the next page's first batch, so handled-but-unsaved events (what
// a crash would redeliver) never exceed BatchSize.
func TestUnsavedAtMostBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const batch = 10
	var mu sync.Mutex
	handled, worst := 0, 0
	handler := func(ctx context.Context, e store.Event) error {
		var saved int
		if err := b.st.Pool().QueryRow(ctx, `SELECT processed FROM eventscope.subscriptions WHERE name = 's'`).Scan(&saved); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		handled++
		worst = max(worst, handled-saved) // redelivered if the process died now
		return nil
	}
	r := NewRunner(b.st, RunnerOptions{Logf: testLogf(t)})
	must(t, r.Add(Subscription{Name: "s", BatchSize: batch, Handler: handler}))
	run(t, r)
	appendN(t, b.st, "u", 1, 5)
	get := func() int { mu.Lock(); defer mu.Unlock(); return handled }
	waitFor(t, "the first events", time.Minute, func() bool { return get() >= 5 })
	var evs []store.NewEvent
	for i := range 3 * batch {
		evs = append(evs, ev("Tested", i))
	}
	_, err := b.st.Append(ctx, "u-1", store.Any, evs...)
	must(t, err)
	waitFor(t, "every event", time.Minute, func() bool { return get() >= 5+3*batch })
	mu.Lock()
	defer mu.Unlock()
	if worst > batch {
		t.Fatalf("up to %d handled events were unsaved, want at most BatchSize (%d)", worst, batch)
	}
}

// TestSharedLogInvalidate: after invalidate the shared log holds nothing,
// wakes its waiters, discards a read begun before, and starts again from
// the head.
func TestSharedLogInvalidate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	appendN(t, b.st, "inv", 1, 3)
	l := newSharedLog(b.st, newHeldWatcher(b.st.Pool(), testLogf(t)), testLogf(t), DefaultPageBytes)
	must(t, l.refresh(ctx))
	appendN(t, b.st, "inv", 1, 2)
	must(t, l.refresh(ctx))
	to, _, gen := l.state()
	p, changed, ok, _ := l.page(to, nil, nil, 100)
	if !ok || len(p.Events) != 0 {
		t.Fatalf("page at the head: ok %v, %d events", ok, len(p.Events))
	}
	l.invalidate()
	select {
	case <-changed:
	default:
		t.Fatal("invalidate did not wake the waiters")
	}
	if _, _, ok, behind := l.page(to, nil, nil, 100); ok || behind {
		t.Fatalf("page after invalidate: ok %v behind %v, want neither", ok, behind)
	}
	if l.add([]store.Event{{}}, store.Checkpoint{Tx: 1 << 60}, gen) {
		t.Fatal("a read begun before invalidate was added")
	}
	must(t, l.refresh(ctx))
	h, err := b.st.Head(ctx)
	must(t, err)
	if got, valid, _ := l.state(); !valid || got.Less(h) {
		t.Fatalf("after refresh: valid %v to %v, want the head %v", valid, got, h)
	}
}

// TestActivateNeedsTheLock: a process takes a lease epoch only while its
// lease connection's backend holds the subscription's advisory lock.
func TestActivateNeedsTheLock(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	r := NewRunner(b.st, RunnerOptions{Logf: testLogf(t)})
	must(t, r.Add(Subscription{Name: "s", Handler: func(context.Context, store.Event) error { return nil }}))
	s := r.byName["s"]
	must(t, s.ensureRow(ctx))
	epoch := func() (e *int64) {
		must(t, b.st.Pool().QueryRow(ctx, `SELECT lease_epoch FROM eventscope.subscriptions WHERE name = 's'`).Scan(&e))
		return e
	}
	before := epoch()

	conn, err := pgx.ConnectConfig(ctx, dedicatedConfig(b.st, "lock-test"))
	must(t, err)
	defer conn.Close(ctx)
	other, err := pgx.ConnectConfig(ctx, dedicatedConfig(b.st, "lock-test"))
	must(t, err)
	defer other.Close(ctx)
	_, err = other.Exec(ctx, `SELECT pg_advisory_lock($1)`, s.key) // someone else holds it
	must(t, err)

	r.leasePID = conn.PgConn().PID() // our lease backend, without the lock
	if err := s.activate(ctx, 1); !errors.Is(err, errLockNotHeld) || s.lease.active {
		t.Fatalf("activate without the lock: %v (active %v), want errLockNotHeld", err, s.lease.active)
	}
	if e := epoch(); (e == nil) != (before == nil) || (e != nil && *e != *before) {
		t.Fatalf("lease epoch moved from %v to %v without the lock", before, e)
	}

	_, err = other.Exec(ctx, `SELECT pg_advisory_unlock($1)`, s.key)
	must(t, err)
	_, err = conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, s.key)
	must(t, err)
	if err := s.activate(ctx, 1); err != nil || !s.lease.active {
		t.Fatalf("activate with the lock: %v (active %v)", err, s.lease.active)
	}
	if e := epoch(); e == nil || *e != s.lease.epoch {
		t.Fatalf("lease epoch %v after activate, want %d", e, s.lease.epoch)
	}
}
