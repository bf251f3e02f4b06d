package subscriptions

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"eventscope/store"
)

// Application names of the dedicated connections, so operators (and tests)
// can find them in pg_stat_activity.
const (
	listenerAppName = "eventscope-listener"
	leaseAppName    = "eventscope-lease"
)

// target is something the listener wakes: a subscription or a follower.
type target struct {
	cats    []string // category filter; empty = all
	name    string   // subscription name for control notifications ("" = none)
	wake    func()   // new events may be readable (nil: control only)
	control func()   // the subscription's row changed
}

// listener owns the process's one LISTEN connection (a pgx.Conn of its own,
// not from the pool) and fans notifications out to targets. It reconnects
// with backoff; after every (re)connect it wakes every target, since
// wake-ups sent while it was away are lost.
//
// The same connection competes to be the database's commit watcher
// (store.CommitWatch): appends send no NOTIFY of their own (plain SQL
// callers by default; the Go client only after commit, coalesced), so one
// listener per database checks the head of the log between notifications,
// adaptively, and NOTIFYs every listener (itself included) when it moved.
// The others try to take the role over every electEvery, a check that
// doubles as their connection's ping.
type listener struct {
	cfg  *pgx.ConnConfig
	logf func(string, ...any)

	mu      sync.Mutex
	targets map[*target]struct{}
	byName  map[string]*target

	connected atomic.Bool
	watching  atomic.Bool   // this connection is the database's commit watcher
	checks    atomic.Int64  // head checks made as the watcher
	pid       atomic.Uint32 // backend pid of the current connection
	connects  atomic.Int64  // successful connections so far
	received  atomic.Int64  // notifications received so far

	// reconnected runs when a connection is made after an earlier one was
	// lost (set before run).
	reconnected func()

	retryMin   time.Duration // first reconnection wait (tests lengthen it)
	quiet      time.Duration // silence before a ping (tests shorten it)
	electEvery time.Duration // a listener that is not the watcher tries to become it this often
	noWatch    bool          // never be the commit watcher (tests)
}

func newListener(st *store.Store, logf func(string, ...any)) *listener {
	return &listener{
		cfg:        dedicatedConfig(st, listenerAppName),
		logf:       logf,
		targets:    map[*target]struct{}{},
		byName:     map[string]*target{},
		retryMin:   100 * time.Millisecond,
		quiet:      listenerQuiet,
		electEvery: electEvery,
	}
}

// dedicatedConfig is the store pool's connection config for a connection of
// our own (the lease and the LISTEN connections). Its server-side TCP
// keepalives and user timeout end the session about 2-3 s after the client
// host dies or the network splits (instead of the kernel's default of
// about two hours), so the server releases the holder's advisory locks and
// a standby can take over. On a Unix socket the server accepts and ignores
// them.
func dedicatedConfig(st *store.Store, app string) *pgx.ConnConfig {
	cfg := st.Pool().Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = app
	for k, v := range dedicatedKeepalives {
		cfg.RuntimeParams[k] = v
	}
	return cfg
}

var dedicatedKeepalives = map[string]string{
	"tcp_keepalives_idle":     "1",
	"tcp_keepalives_interval": "1",
	"tcp_keepalives_count":    "2",
	"tcp_user_timeout":        "2000",
}

func (l *listener) add(t *target) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.targets[t] = struct{}{}
	if t.name != "" {
		l.byName[t.name] = t
	}
}

func (l *listener) remove(t *target) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.targets, t)
	if t.name != "" && l.byName[t.name] == t {
		delete(l.byName, t.name)
	}
}

// run listens until ctx is done.
func (l *listener) run(ctx context.Context) {
	bo := newBackoff(l.retryMin, max(l.retryMin, 5*time.Second))
	for ctx.Err() == nil {
		before := l.connects.Load()
		err := l.session(ctx)
		l.connected.Store(false)
		l.pid.Store(0)
		if ctx.Err() != nil {
			return
		}
		if l.connects.Load() != before {
			bo.reset() // it was up: start again from a short wait
		}
		d := bo.next()
		l.logf("subscriptions: listener: %v; reconnecting in %s (polling meanwhile)", err, d)
		if !sleepCtx(ctx, d) {
			return
		}
	}
}

// session is one connection's life: connect, LISTEN, wake everyone, then
// dispatch notifications (and, as the commit watcher, check the head
// between them) until the connection fails.
func (l *listener) session(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // closing a possibly dead connection
	defer l.watching.Store(false)
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{store.NotifyChannel}.Sanitize()+`; LISTEN `+pgx.Identifier{ControlChannel}.Sanitize()); err != nil {
		return err
	}
	l.pid.Store(conn.PgConn().PID())
	l.connected.Store(true)
	if l.connects.Add(1) > 1 && l.reconnected != nil {
		l.reconnected()
	}
	l.wakeAll()
	watch := store.NewCommitWatch()
	var lastTry, lastHeard time.Time
	elect := func() error {
		lastTry = time.Now()
		if l.noWatch {
			return conn.Ping(ctx)
		}
		ok, err := store.ElectWatcher(ctx, conn)
		if err != nil {
			return err
		}
		if ok {
			l.watching.Store(true)
			_, err = watch.Check(ctx, conn) // learn the head
		}
		return err
	}
	if err := elect(); err != nil {
		return err
	}
	lastHeard = time.Now()
	for {
		var wait time.Duration
		if l.watching.Load() {
			wait = watch.Wait()
		} else {
			// After a quiet spell, check the connection: a peer that
			// vanished without closing it would otherwise leave the
			// listener deaf. The election try is that check.
			wait = max(min(time.Until(lastTry.Add(l.electEvery)), time.Until(lastHeard.Add(l.quiet))), 0)
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil || !pgconn.Timeout(err) {
				return err
			}
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if l.watching.Load() {
				// A moved head NOTIFYs every listener, this one too: the
				// wake-up arrives as a notification like any other.
				_, err = watch.Check(pctx, conn)
				l.checks.Add(1)
			} else {
				err = elect()
				lastHeard = time.Now()
			}
			cancel()
			if err != nil {
				return err
			}
			continue
		}
		lastHeard = time.Now()
		l.received.Add(1)
		if n.Channel == store.NotifyChannel {
			watch.Activity() // more is likely to follow: check at full pace
		}
		l.dispatch(n.Channel, n.Payload)
	}
}

// electEvery: a listener that is not the commit watcher tries to become it
// this often (and so notices a dead connection within it). It bounds how
// long a database goes without a watcher after the watcher's process dies.
const electEvery = time.Second

// listenerQuiet is how long the listener waits for a notification before
// it pings its connection.
const listenerQuiet = 15 * time.Second

func (l *listener) wakeAll() {
	l.mu.Lock()
	ts := make([]*target, 0, len(l.targets))
	for t := range l.targets {
		ts = append(ts, t)
	}
	l.mu.Unlock()
	// Only the data wake-up: control notifications missed meanwhile are
	// caught by the holder's heartbeat, which compares control versions.
	for _, t := range ts {
		if t.wake != nil {
			t.wake()
		}
	}
}

func (l *listener) dispatch(channel, payload string) {
	if channel == ControlChannel {
		l.mu.Lock()
		t := l.byName[payload]
		l.mu.Unlock()
		if t != nil && t.control != nil {
			t.control()
		}
		return
	}
	var cats []string
	if payload != "" {
		cats = strings.Split(payload, ",")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for t := range l.targets {
		if t.wake != nil && wakes(t.cats, cats) {
			t.wake()
		}
	}
}

// wakes reports whether a notification for categories (nil = any) concerns
// a target filtering on filter (empty = all).
func wakes(filter, categories []string) bool {
	if len(filter) == 0 || len(categories) == 0 {
		return true
	}
	for _, c := range categories {
		if matchesCategory(filter, c) {
			return true
		}
	}
	return false
}

// signal is a coalescing wake-up: any number of sends before a receive
// make one wake-up.
type signal chan struct{}

func newSignal() signal { return make(signal, 1) }

func (s signal) send() {
	select {
	case s <- struct{}{}:
	default:
	}
}

// backoff is a capped exponential backoff.
type backoff struct {
	initial, max, cur time.Duration
}

func newBackoff(initial, max time.Duration) *backoff {
	return &backoff{initial: initial, max: max}
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.initial
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }

// sleepCtx sleeps d, or less if ctx ends; it reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
