package subscriptions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"eventscope/store"
)

// RunnerOptions configure a Runner. The zero value is usable.
type RunnerOptions struct {
	// PollInterval is how often the runner checks the head of the log when
	// no wake-up arrives (one query per interval for all subscriptions).
	// Default 1s.
	PollInterval time.Duration
	// Instance identifies this runner in the holder column, beside the host
	// name and pid. Default: 8 random hex digits.
	Instance string
	// Logf receives the runner's log lines (leases taken and lost,
	// reconnects, handler failures, parked events). Default: discarded.
	Logf func(format string, args ...any)
	// Registerer, when set, registers the runner's Prometheus metrics:
	// eventscope_subscription_{lag,rate,processed_total,parked,failures_total,holder}.
	// Default: none.
	Registerer prometheus.Registerer
	// LeaseTimeout is how long a holder that stops answering (its process
	// frozen, stopped in a debugger, or starved) keeps its leases: the
	// server ends the runner's lease connection after this long without a
	// statement (idle_session_timeout; a live runner uses it every second),
	// which releases its advisory locks to a standby. Its later writes are
	// fenced out by the standby's lease epoch. Default 5s; at least 2s.
	LeaseTimeout time.Duration
	// TxIdleTimeout ends a TxHandler's transaction that stays idle this long
	// (idle_in_transaction_session_timeout): a handler waiting on something
	// outside the database, or a frozen process, would otherwise hold back
	// the global log for every reader of the cluster, and lock the
	// subscription's row. The delivery is then retried (no attempt
	// counted). Default 10s.
	TxIdleTimeout time.Duration
	// LockTimeout bounds every lock wait of the runner's statements and of
	// TxHandler transactions (lock_timeout): a lock another session holds
	// fails the statement after this long with a *LockTimeoutError, and
	// the runner retries later. A TxHandler may raise it for its own
	// statements with SET LOCAL lock_timeout. Default 5s.
	LockTimeout time.Duration
	// PageBytes bounds by bytes (of events' data and metadata) what a
	// subscription reads at once, as BatchSize bounds it by count: a page,
	// and the page read ahead while one is delivered. The runner's shared
	// log of recent events holds at most 4×PageBytes. Default 16 MiB.
	PageBytes int64
	// ReadStore, when set, is where the log is read (catch-up reads, the
	// shared log, the head poll, the held-back watcher): a hot standby of
	// the Runner's store, which keeps checkpoints, leases, heartbeats,
	// parking and LISTEN. Reads wait for the standby to replay what a
	// wake-up announced (see replica.go). Default: the Runner's store.
	ReadStore *store.Store
}

// Timing of leases, heartbeats and lease confirmation.
const (
	// leaseInterval: standbys try to take unheld leases, and the holder
	// checks its lease connection, this often. Takeover after a holder's
	// death therefore takes about this long (plus the time the server
	// takes to notice the dead connection, normally immediate).
	leaseInterval = time.Second
	// heartbeatInterval: the holder writes heartbeats, states and rates of
	// all its subscriptions in one statement this often, and learns of
	// control changes it missed.
	heartbeatInterval = time.Second
	// confirmAge: before a batch, a holder whose lease was last confirmed
	// (by a fenced write or a check) longer ago than this confirms it.
	confirmAge = 250 * time.Millisecond
	// freshHeartbeat: a subscription whose heartbeat is older has no holder.
	freshHeartbeat = 3 * time.Second
)

// Runner runs subscriptions in one process: it holds the leases it can
// get, delivers events to their handlers, and stands by for the others.
type Runner struct {
	st   *store.Store
	db   lockBound    // the pool, for the package's tables: lock waits bounded
	rd   *store.Store // the log's reads: RunnerOptions.ReadStore, else st
	o    RunnerOptions
	host string
	pid  int

	mu      sync.Mutex
	subs    []*sub
	byName  map[string]*sub
	groups  []*group
	running bool
	runCtx  context.Context
	subsWG  sync.WaitGroup

	lis       *listener
	held      *heldWatcher
	shared    *sharedLog
	leaseKick signal
	unlockMu  sync.Mutex
	unlocks   []int64
	leasePID  uint32 // backend pid of the lease connection (guarded by unlockMu)

	headMu sync.Mutex
	head   store.Checkpoint

	leaseRounds atomic.Int64 // completed lease rounds (tests wait for a standby's first)
}

// NewRunner returns a Runner over st. Add subscriptions, then Run it.
func NewRunner(st *store.Store, o RunnerOptions) *Runner {
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.Instance == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		o.Instance = hex.EncodeToString(b[:])
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.LeaseTimeout <= 0 {
		o.LeaseTimeout = 5 * time.Second
	}
	o.LeaseTimeout = max(o.LeaseTimeout, 2*leaseInterval)
	if o.TxIdleTimeout <= 0 {
		o.TxIdleTimeout = 10 * time.Second
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.PageBytes <= 0 {
		o.PageBytes = DefaultPageBytes
	}
	host, _ := os.Hostname()
	r := &Runner{
		st: st, o: o, host: host, pid: os.Getpid(),
		db:        lockBound{pool: st.Pool(), timeout: o.LockTimeout},
		byName:    map[string]*sub{},
		leaseKick: newSignal(),
	}
	r.rd = st
	if o.ReadStore != nil {
		r.rd = o.ReadStore
	}
	r.lis = newListener(st, o.Logf)
	r.held = newHeldWatcher(r.rd.Pool(), o.Logf)
	r.shared = newSharedLog(r.rd, r.held, o.Logf, o.PageBytes)
	if o.ReadStore != nil {
		r.shared.replay = &replayWaiter{primary: st, replica: r.rd, logf: o.Logf}
	}
	r.lis.add(r.shared.tgt)
	r.lis.reconnected = r.shared.invalidate
	if o.Registerer != nil {
		if err := o.Registerer.Register(&collector{r: r}); err != nil {
			o.Logf("subscriptions: registering metrics: %v", err)
		}
	}
	return r
}

// Add registers a subscription. It may be called before or while the
// runner runs. The subscription's row is created (at Start, or at the head
// with StartAtEnd) the first time a runner runs it.
func (r *Runner) Add(s Subscription) error {
	if err := s.validate(); err != nil {
		return err
	}
	s = s.withDefaults()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.byName[s.Name]; dup {
		return store.InvalidField("name", fmt.Sprintf("subscription %s is added twice", s.Name))
	}
	if s.Partitions > 0 {
		g := newGroup(r, s)
		r.groups = append(r.groups, g)
		r.lis.add(g.tgt)
		for _, sb := range g.parts {
			r.subs = append(r.subs, sb)
			r.byName[sb.def.Name] = sb
		}
		r.byName[s.Name] = nil // the group's name is taken
		if r.running {
			for _, sb := range g.parts {
				r.startSub(sb)
			}
		}
		return nil
	}
	sb := newSub(r, s)
	r.subs = append(r.subs, sb)
	r.byName[s.Name] = sb
	if r.running {
		r.startSub(sb)
	}
	return nil
}

// Instance is the runner's instance id (RunnerOptions.Instance or the generated one).
func (r *Runner) Instance() string { return r.o.Instance }

// Run runs the subscriptions until ctx is done, then releases their leases
// and returns nil. It survives connection losses and database restarts by
// itself (reconnecting with backoff); it returns an error only when called
// while already running.
func (r *Runner) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.running {
		r.mu.Unlock()
		return errors.New("subscriptions: Runner.Run is already running")
	}
	subCtx, cancelSubs := context.WithCancel(ctx)
	defer cancelSubs()
	infraCtx, cancelInfra := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelInfra()
	r.running = true
	r.runCtx = subCtx
	for _, s := range r.subs {
		r.startSub(s)
	}
	r.mu.Unlock()

	var infra sync.WaitGroup
	infra.Add(5)
	go func() { defer infra.Done(); r.lis.run(infraCtx) }()
	go func() { defer infra.Done(); r.shared.run(infraCtx) }()
	go func() { defer infra.Done(); r.held.run(infraCtx) }()
	go func() { defer infra.Done(); r.leaseLoop(infraCtx) }()
	go func() { defer infra.Done(); r.tickLoop(subCtx) }()

	<-ctx.Done()
	cancelSubs()
	r.subsWG.Wait() // subscriptions finish their batch and clear their holder rows
	lctx, cancelLeave := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	r.leaveGroups(lctx) // the other members take this one's partitions
	cancelLeave()
	cancelInfra() // then the lease connection closes, releasing the leases
	infra.Wait()

	r.mu.Lock()
	r.running = false
	r.runCtx = nil
	r.mu.Unlock()
	return nil
}

func (r *Runner) startSub(s *sub) {
	r.lis.add(s.tgt)
	r.subsWG.Add(1)
	go func() {
		defer r.subsWG.Done()
		defer r.lis.remove(s.tgt)
		s.run(r.runCtx)
	}()
	r.leaseKick.send()
}

func (r *Runner) snapshot() []*sub {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*sub(nil), r.subs...)
}

func (r *Runner) logf(format string, args ...any) { r.o.Logf(format, args...) }

// lockKey is the advisory lock key of a subscription's lease.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("eventscope.subscription:"))
	h.Write([]byte(name))
	return int64(h.Sum64())
}

// requestUnlock asks the lease loop to release a subscription's lock.
func (r *Runner) requestUnlock(key int64) {
	r.unlockMu.Lock()
	r.unlocks = append(r.unlocks, key)
	r.unlockMu.Unlock()
	r.leaseKick.send()
}

// leaseLoop owns the process's lease connection: every advisory lock of
// this process is held on it. Each round it releases locks asked to be
// released, tries to take the locks of subscriptions it does not hold, and
// so checks that the connection is alive. When the connection fails every
// lease is lost at once: the subscriptions stop delivering, and the loop
// reconnects and tries again.
func (r *Runner) leaseLoop(ctx context.Context) {
	cfg := dedicatedConfig(r.st, leaseAppName)
	// A runner that stops using its lease connection (frozen) loses it, and
	// its locks with it, after LeaseTimeout.
	cfg.RuntimeParams["idle_session_timeout"] = fmt.Sprint(r.o.LeaseTimeout.Milliseconds())
	var conn *pgx.Conn
	bo := newBackoff(100*time.Millisecond, leaseInterval)
	tick := time.NewTicker(leaseInterval)
	defer tick.Stop()
	defer func() {
		if conn != nil {
			conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // closing releases the locks either way
		}
		r.dropLocks()
	}()
	for {
		if conn == nil {
			c, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				d := bo.next()
				r.logf("subscriptions: lease connection: %v; retrying in %s", err, d)
				if !sleepCtx(ctx, d) {
					return
				}
				continue
			}
			conn = c
			bo.reset()
			r.unlockMu.Lock()
			r.unlocks = nil // a new session holds nothing
			r.leasePID = c.PgConn().PID()
			r.unlockMu.Unlock()
		}
		err := r.leaseRound(ctx, conn)
		if err == nil {
			r.leaseRounds.Add(1)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.logf("subscriptions: lease connection lost: %v; releasing every lease of this process", err)
			conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // the connection is broken
			conn = nil
			r.dropLocks()
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-r.leaseKick:
		}
	}
}

func (r *Runner) leaseRound(ctx context.Context, conn *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	r.unlockMu.Lock()
	release := r.unlocks
	r.unlocks = nil
	r.unlockMu.Unlock()
	if len(release) > 0 {
		if _, err := conn.Exec(ctx, unlockSQL, release); err != nil {
			return err
		}
	}
	r.groupRound(ctx, conn.PgConn().PID())
	var want []*sub
	var keys []int64
	for _, s := range r.snapshot() {
		if !s.link.locked.Load() && !s.in.deleted.Load() && s.owned() {
			want = append(want, s)
			keys = append(keys, s.key)
		}
	}
	if len(want) == 0 {
		_, err := conn.Exec(ctx, pingSQL) // keeps checking that the leases are alive
		return err
	}
	rows, err := conn.Query(ctx, tryLockSQL, keys)
	if err != nil {
		return err
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[bool])
	if err != nil {
		return err
	}
	for i, ok := range got {
		if ok && i < len(want) {
			s := want[i]
			s.link.gen.Add(1)
			s.link.locked.Store(true)
			s.in.kick.send()
		}
	}
	return nil
}

// dropLocks marks every lease lost (the lease connection is gone).
func (r *Runner) dropLocks() {
	r.unlockMu.Lock()
	r.leasePID = 0
	r.unlockMu.Unlock()
	for _, s := range r.snapshot() {
		if s.link.locked.Swap(false) {
			s.in.kick.send()
		}
	}
}

// tickLoop writes heartbeats and polls the head of the log.
func (r *Runner) tickLoop(ctx context.Context) {
	hb := time.NewTicker(heartbeatInterval)
	defer hb.Stop()
	poll := time.NewTicker(r.o.PollInterval)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hb.C:
			r.heartbeat(ctx)
		case <-poll.C:
			r.poll(ctx)
		}
	}
}

// poll reads the head of the log (one query for every subscription) and
// wakes the shared reader if it is behind: the fallback for lost or
// missing wake-ups.
func (r *Runner) poll(ctx context.Context) {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	head, err := r.rd.Head(qctx)
	if err != nil {
		if ctx.Err() == nil {
			r.logf("subscriptions: poll: %v", err)
		}
		return
	}
	r.headMu.Lock()
	r.head = head
	r.headMu.Unlock()
	if to, ok := r.shared.head(); !ok || to.Less(head) {
		r.shared.sig.send()
	}
}

func (r *Runner) lastHead() store.Checkpoint {
	r.headMu.Lock()
	defer r.headMu.Unlock()
	return r.head
}

// heartbeat writes the heartbeat, state and rate of every held
// subscription in one statement. It also saves checkpoints that only moved
// past events the filter skipped (forward only, and only if no reset
// happened since), and notices control changes and lost leases that
// notifications missed.
func (r *Runner) heartbeat(ctx context.Context) {
	now := time.Now()
	var (
		held   []*sub
		pubs   []pubState
		names  []string
		epochs []int64
		states []string
		rates  []float64
		rvs    []int64
		txs    []uint64
		poss   []int64
		// the event being retried (NULL elements when none), handler time
		rEvents, rStreams []*string
		rVersions         []*int64
		rAttempts, rOf    []*int32
		rNext             []*time.Time
		p99s              []*int64
		calls             []*int32
	)
	for _, s := range r.snapshot() {
		p := s.sample(now)
		if !p.active {
			continue
		}
		held = append(held, s)
		pubs = append(pubs, p)
		names = append(names, s.def.Name)
		epochs = append(epochs, p.epoch)
		states = append(states, string(p.state))
		rates = append(rates, p.rate)
		rvs = append(rvs, p.resetVersion)
		txs = append(txs, p.persistable.Tx)
		poss = append(poss, p.persistable.Pos)
		if r := p.retry; r != nil {
			id, a, of := r.EventID.String(), int32(r.Attempt), int32(r.Attempts)
			rEvents, rStreams, rVersions = append(rEvents, &id), append(rStreams, &r.StreamID), append(rVersions, &r.Version)
			rAttempts, rOf = append(rAttempts, &a), append(rOf, &of)
			var next *time.Time
			if !r.NextAt.IsZero() {
				next = &r.NextAt
			}
			rNext = append(rNext, next)
		} else {
			rEvents, rStreams, rVersions = append(rEvents, nil), append(rStreams, nil), append(rVersions, nil)
			rAttempts, rOf, rNext = append(rAttempts, nil), append(rOf, nil), append(rNext, nil)
		}
		if d, n := s.handler.p99(); n > 0 {
			us, c := d.Microseconds(), int32(n)
			p99s, calls = append(p99s, &us), append(calls, &c)
		} else {
			p99s, calls = append(p99s, nil), append(calls, nil)
		}
	}
	if len(held) == 0 {
		return
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rows, err := r.db.Query(qctx, heartbeatSQL, names, epochs, states, rates, rvs, txs, poss,
		rEvents, rStreams, rVersions, rAttempts, rOf, rNext, p99s, calls)
	if err != nil {
		if ctx.Err() == nil {
			r.logf("subscriptions: heartbeat: %v", err)
		}
		return
	}
	type ret struct {
		Name string
		CV   int64
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ret])
	if err != nil {
		if ctx.Err() == nil {
			r.logf("subscriptions: heartbeat: %v", err)
		}
		return
	}
	cv := make(map[string]int64, len(got))
	for _, g := range got {
		cv[g.Name] = g.CV
	}
	for i, s := range held {
		v, ok := cv[s.def.Name]
		switch {
		case !ok: // deleted, or another holder took over
			s.in.needVerify.Store(true)
			s.in.kick.send()
		case v != pubs[i].controlVersion:
			s.in.ctrlPending.Store(true)
			s.in.kick.send()
		}
	}
}
