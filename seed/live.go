package seed

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"eventscope/domain"
	"eventscope/store"
)

// LiveOptions configure live traffic.
type LiveOptions struct {
	// Rate is commands per second. Required (> 0).
	Rate float64
	// Duration stops the traffic after this long. Default: until ctx ends.
	Duration time.Duration
	// Seed seeds the choice of commands. Default: the clock.
	Seed uint64
	// SnapshotEvery is the repository's snapshot interval. Default 100.
	SnapshotEvery int
	// Report, when set, is called about every ReportEvery with the counts so far.
	Report      func(LiveStats)
	ReportEvery time.Duration // default 5s
}

// LiveStats count live traffic.
type LiveStats struct {
	Placed     int64         `json:"placed"`
	Shipped    int64         `json:"shipped"`
	Cancelled  int64         `json:"cancelled"`
	Registered int64         `json:"registered"`
	Skipped    int64         `json:"skipped"` // commands with nothing to act on (e.g. no approved order yet)
	Errors     int64         `json:"errors"`
	LastError  string        `json:"last_error,omitempty"`
	Elapsed    time.Duration `json:"elapsed_ns"`
}

type live struct {
	repo  *domain.Repository
	rng   *rand.Rand
	mu    sync.Mutex
	custs []string
	open  []string // orders placed by this run (or recent ones) that may still ship or cancel
	zipf  *rand.Zipf
	skus  []sku
	seq   atomic.Int64
	run   string
	stats struct {
		placed, shipped, cancelled, registered, skipped, errors atomic.Int64
	}
	lastErr atomic.Value
}

// RunLive sends steady traffic through the domain's commands until ctx ends
// or the duration passes: it places orders for existing customers (skewed),
// ships and cancels orders the saga approved, and now and then registers a
// customer. The saga (eventscope worker) does the rest.
func RunLive(ctx context.Context, st *store.Store, o LiveOptions) (LiveStats, error) {
	if o.Rate <= 0 {
		return LiveStats{}, fmt.Errorf("rate must be > 0, got %g", o.Rate)
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	if o.ReportEvery <= 0 {
		o.ReportEvery = 5 * time.Second
	}
	l := &live{repo: domain.NewRepository(st, o.SnapshotEvery), rng: rand.New(rand.NewPCG(o.Seed, 17)),
		run: strconv.FormatInt(time.Now().Unix()%1_000_000_000, 36)}
	g := &generator{rng: rand.New(rand.NewPCG(1, 1))}
	g.catalog()
	l.skus = g.skus
	if err := l.loadCustomers(ctx, st); err != nil {
		return LiveStats{}, err
	}
	if err := l.loadOpenOrders(ctx, st); err != nil {
		return LiveStats{}, err
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	start := time.Now()
	snapshot := func() LiveStats {
		s := LiveStats{Placed: l.stats.placed.Load(), Shipped: l.stats.shipped.Load(), Cancelled: l.stats.cancelled.Load(),
			Registered: l.stats.registered.Load(), Skipped: l.stats.skipped.Load(), Errors: l.stats.errors.Load(), Elapsed: time.Since(start)}
		if e, ok := l.lastErr.Load().(string); ok {
			s.LastError = e
		}
		return s
	}
	// a few workers take ticks, so one slow command does not hold the rate back
	workers := min(16, max(1, int(o.Rate/25)+1))
	ticks := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range ticks {
				l.step(ctx)
			}
		})
	}
	interval := time.Duration(float64(time.Second) / o.Rate)
	next := time.Now()
	lastReport := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-timer.C:
		}
		select {
		case ticks <- struct{}{}:
		default: // all workers busy: drop this tick rather than queue up
			l.stats.skipped.Add(1)
		}
		next = next.Add(interval)
		if d := time.Until(next); d > 0 {
			timer.Reset(d)
		} else {
			next = time.Now()
			timer.Reset(0)
		}
		if o.Report != nil && time.Since(lastReport) >= o.ReportEvery {
			lastReport = time.Now()
			o.Report(snapshot())
		}
	}
	close(ticks)
	wg.Wait()
	return snapshot(), nil
}

func (l *live) loadCustomers(ctx context.Context, st *store.Store) error {
	after := ""
	for {
		page, err := st.ListStreams(ctx, store.ListStreamsOptions{Category: domain.CustomerCategory, After: after, Limit: 1000})
		if err != nil {
			return err
		}
		for _, s := range page.Streams {
			l.custs = append(l.custs, domain.EntityID(s.StreamID))
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if len(l.custs) == 0 {
		// an empty database: a first customer so there is something to do
		l.register(ctx)
	}
	l.resetZipf()
	return nil
}

func (l *live) resetZipf() {
	if len(l.custs) > 1 {
		l.zipf = rand.NewZipf(l.rng, 1.1, 8, uint64(len(l.custs)-1))
	}
}

// loadOpenOrders picks up recently updated orders, some of them approved,
// so shipping and cancelling have work from the start.
func (l *live) loadOpenOrders(ctx context.Context, st *store.Store) error {
	page, err := st.ListStreams(ctx, store.ListStreamsOptions{Category: domain.OrderCategory, Order: store.ByUpdated, Limit: 300})
	if err != nil {
		return err
	}
	for _, s := range page.Streams {
		if s.Version <= 1 { // placed and decided at most: may ship or cancel
			l.open = append(l.open, domain.EntityID(s.StreamID))
		}
	}
	return nil
}

func (l *live) fail(err error) {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	l.stats.errors.Add(1)
	l.lastErr.Store(err.Error())
}

func (l *live) step(ctx context.Context) {
	l.mu.Lock()
	r := l.rng.Float64()
	l.mu.Unlock()
	switch {
	case r < 0.01:
		l.register(ctx)
	case r < 0.60:
		l.place(ctx)
	case r < 0.68:
		l.advance(ctx, true)
	default:
		l.advance(ctx, false)
	}
}

func (l *live) register(ctx context.Context) {
	id := fmt.Sprintf("L%s%04d", l.run, l.seq.Add(1))
	l.mu.Lock()
	limit := 20_000 + l.rng.Int64N(40)*10_000
	name := firstNames[l.rng.IntN(len(firstNames))] + " " + lastNames[l.rng.IntN(len(lastNames))]
	l.mu.Unlock()
	c := domain.NewCustomer(id)
	evs, err := c.Register(name, limit)
	if err == nil {
		cmd := domain.NameID("live/register/" + id).String()
		_, err = l.repo.Save(ctx, domain.CustomerType, domain.CustomerStream(id), c, -1, domain.Record(evs, domain.Meta{CorrelationID: cmd, CausationID: cmd, Source: "live"}, nil))
	}
	if err != nil {
		l.fail(err)
		return
	}
	l.stats.registered.Add(1)
	l.mu.Lock()
	l.custs = append(l.custs, id)
	l.resetZipf()
	l.mu.Unlock()
}

func (l *live) place(ctx context.Context) {
	l.mu.Lock()
	if len(l.custs) == 0 {
		l.mu.Unlock()
		l.stats.skipped.Add(1)
		return
	}
	cust := l.custs[0]
	if l.zipf != nil {
		cust = l.custs[l.zipf.Uint64()]
	}
	n := 1 + l.rng.IntN(3)
	lines := make([]domain.OrderLine, 0, n)
	for range n {
		s := l.skus[l.rng.IntN(len(l.skus))]
		lines = append(lines, domain.OrderLine{SKU: s.code, Qty: 1 + int64(l.rng.IntN(2)), Price: s.price})
	}
	l.mu.Unlock()
	id := fmt.Sprintf("L%s%06d", l.run, l.seq.Add(1))
	o := domain.NewOrder(id)
	evs, err := o.Place(cust, lines)
	if err == nil {
		cmd := domain.NameID("live/place/" + id).String()
		_, err = l.repo.Save(ctx, domain.OrderType, domain.OrderStream(id), o, -1, domain.Record(evs, domain.Meta{CorrelationID: cmd, CausationID: cmd, Source: "live"}, nil))
	}
	if err != nil {
		l.fail(err)
		return
	}
	l.stats.placed.Add(1)
	l.mu.Lock()
	l.open = append(l.open, id)
	if len(l.open) > 5000 {
		l.open = l.open[len(l.open)-5000:]
	}
	l.mu.Unlock()
}

// advance ships or cancels an order placed a while ago: the oldest open one
// is most likely decided by now.
func (l *live) advance(ctx context.Context, cancel bool) {
	l.mu.Lock()
	if len(l.open) == 0 {
		l.mu.Unlock()
		l.stats.skipped.Add(1)
		return
	}
	i := l.rng.IntN(min(len(l.open), 50)) // among the oldest
	id := l.open[i]
	l.open = append(l.open[:i], l.open[i+1:]...)
	reason := cancelReasons[l.rng.IntN(len(cancelReasons))]
	l.mu.Unlock()
	var outcome *atomic.Int64
	_, _, err := l.repo.Update(ctx, domain.OrderType, domain.OrderStream(id), func(a domain.Aggregate, v int64) ([]domain.Recorded, error) {
		o := a.(*domain.Order)
		var evs []domain.Event
		var err error
		switch {
		case o.Status == domain.StatusPending:
			return nil, errNotYet
		case o.Status != domain.StatusApproved:
			return nil, nil // rejected, or done already: nothing to do
		case cancel:
			evs, err = o.Cancel(reason)
			outcome = &l.stats.cancelled
		default:
			evs, err = o.Ship()
			outcome = &l.stats.shipped
		}
		cmd := domain.NameID(fmt.Sprintf("live/%s/%d", id, v)).String()
		corr := cmd
		return domain.Record(evs, domain.Meta{CorrelationID: corr, CausationID: cmd, Source: "live"}, nil), err
	})
	switch {
	case errors.Is(err, errNotYet):
		l.mu.Lock()
		l.open = append(l.open, id) // try again later
		l.mu.Unlock()
		l.stats.skipped.Add(1)
	case err != nil:
		l.fail(err)
	case outcome != nil:
		outcome.Add(1)
	default:
		l.stats.skipped.Add(1)
	}
}

var errNotYet = errors.New("order not decided yet")
