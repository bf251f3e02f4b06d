// Package seed generates the demo domain's history: deterministic, realistic
// and fast to load, and steady live traffic through the domain's commands.
//
// The history is a discrete-event simulation of the shop run through the
// domain's own aggregates and commands, in time order: customers register,
// orders are placed, the saga reserves credit (or finds the limit exceeded)
// and approves or rejects, some orders are cancelled and many shipped, and
// each cancellation or shipment releases the credit. The saga's events carry
// the ids and metadata the live handlers would give them (domain.DerivedID
// of the causing event, domain.CausedBy), so the seeded history is exactly
// what the worker would have produced, and replaying it through the handlers
// appends nothing.
package seed

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"eventscope/domain"
	"eventscope/store"
)

// Config sizes a seeded history. Counts are taken as given; the optional
// shape fields below get defaults when zero.
type Config struct {
	// Customers to register, as given (the CLI defaults to DefaultCustomers).
	Customers int
	// Orders to place, as given (the CLI defaults to DefaultOrders).
	Orders int
	// Seed makes the history: the same Config gives the same streams,
	// types, versions, data and event ids. 0 is a seed like any other.
	Seed uint64
	// LongStreams is the number of key-account customers whose streams grow
	// past LongStreamEvents, so time-travel has something to chew on.
	// Default 2 (0 when there are fewer than 10 customers); negative: none.
	LongStreams int
	// LongStreamEvents is the length a key account's stream aims at.
	// Default 10,500. Key accounts get at most a third of the orders.
	LongStreamEvents int
	// Span is how far back the history starts; it ends a minute before End.
	// Default 28 days.
	Span time.Duration
	// End is when the history ends. Default now.
	End time.Time
	// SnapshotEvery writes a snapshot every N events of a customer stream.
	// Default domain.DefaultSnapshotEvery; negative: none.
	SnapshotEvery int
}

// Defaults of the CLI's --customers and --orders. A Config takes its counts
// as given: 0 orders means none, and seed 0 is a seed like any other.
const (
	DefaultCustomers = 1000
	DefaultOrders    = 40_000
)

func (c Config) withDefaults() Config {
	if c.LongStreams == 0 && c.Customers >= 10 {
		c.LongStreams = 2
	}
	if c.LongStreams < 0 {
		c.LongStreams = 0
	}
	if c.LongStreamEvents <= 0 {
		c.LongStreamEvents = 10_500
	}
	if c.Span <= 0 {
		c.Span = 28 * 24 * time.Hour
	}
	if c.End.IsZero() {
		c.End = time.Now()
	}
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = domain.DefaultSnapshotEvery
	}
	return c
}

// Validate rejects sizes that make no history.
func (c Config) Validate() error {
	switch {
	case c.Customers < 0:
		return fmt.Errorf("customers must be >= 0, got %d", c.Customers)
	case c.Orders < 0:
		return fmt.Errorf("orders must be >= 0, got %d", c.Orders)
	case c.Orders > 0 && c.Customers == 0:
		return fmt.Errorf("orders need customers: --customers is 0 but --orders is %d", c.Orders)
	}
	return nil
}

// EstimateEvents is about how many events a Config makes.
func EstimateEvents(c Config) int64 {
	c = c.withDefaults()
	return int64(c.Customers) + int64(math.Round(float64(c.Orders)*4.25))
}

// OrdersFor is about how many orders make n events (with the default shares).
func OrdersFor(events int64) int { return int(float64(events) / 4.25) }

// sink receives generated events in global order.
type sink interface {
	Add(e store.BulkEvent) (int64, error)
	Snapshot(stream string, version int64, state json.RawMessage)
}

// Stats count what a generation made.
type Stats struct {
	Customers   int      `json:"customers"`
	Orders      int      `json:"orders"`
	Events      int64    `json:"events"`
	Snapshots   int64    `json:"snapshots"`
	Approved    int      `json:"approved"`
	Rejected    int      `json:"rejected"`
	Cancelled   int      `json:"cancelled"`
	Shipped     int      `json:"shipped"`
	LongStreams []string `json:"long_streams"`
}

// action kinds of the simulation
const (
	actPlace = iota
	actDecide
	actOutcome
	actCancel
	actShip
	actRelease
)

type action struct {
	at    time.Time
	key   int64 // at in Unix nanoseconds, for the heap
	seq   int64
	kind  int
	order *orderSim
	cause store.Event // the event that scheduled this action
}

type orderSim struct {
	id, customer string
	agg          *domain.Order
	version      int64
	placeCmd     uuid.UUID
}

type queue []*action

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].key != q[j].key {
		return q[i].key < q[j].key
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*action)) }
func (q *queue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

type customerSim struct {
	id      string
	agg     *domain.Customer
	version int64
}

type generator struct {
	c      Config
	rng    *rand.Rand
	out    sink
	q      queue
	seq    int64
	stats  Stats
	custs  []*customerSim
	byID   map[string]*customerSim
	pick   func() int
	skus   []sku
	idFmt  string
	start  time.Time
	end    time.Time
	source string
}

type sku struct {
	code  string
	price int64
}

// generate runs the simulation into out.
func generate(c Config, out sink) (Stats, error) {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return Stats{}, err
	}
	g := &generator{
		c: c, rng: rand.New(rand.NewPCG(c.Seed, c.Seed^0x5eed5eed)), out: out,
		byID: map[string]*customerSim{}, source: "seed",
	}
	// The simulation runs on offsets from a start at midnight UTC, over
	// exactly Span, so the same Config makes the same history whenever it
	// runs; only the dates move.
	g.start = c.End.Add(-c.Span - time.Minute).Truncate(24 * time.Hour)
	g.end = g.start.Add(c.Span)
	g.idFmt = "%0" + fmt.Sprint(max(6, len(fmt.Sprint(c.Orders)))) + "d"
	g.catalog()
	if err := g.registerCustomers(); err != nil {
		return g.stats, err
	}
	g.planOrders()
	for g.q.Len() > 0 {
		a := heap.Pop(&g.q).(*action)
		if err := g.run(a); err != nil {
			return g.stats, err
		}
	}
	return g.stats, nil
}

func (g *generator) schedule(at time.Time, kind int, o *orderSim, cause store.Event) {
	g.seq++
	heap.Push(&g.q, &action{at: at, key: at.UnixNano(), seq: g.seq, kind: kind, order: o, cause: cause})
}

func (g *generator) catalog() {
	words := []string{"MUG", "TEE", "CAP", "BAG", "PEN", "LAMP", "DESK", "SOCK", "BOOK", "TEA", "BOTTLE", "CABLE", "CHAIR", "PLANT", "SOAP"}
	for i := range 240 {
		price := int64(math.Round(math.Exp(g.rng.NormFloat64()*0.9+7.6))) + 99 // cents, median ~20.00
		g.skus = append(g.skus, sku{code: fmt.Sprintf("%s-%03d", words[i%len(words)], i), price: price})
	}
}

var (
	firstNames = []string{"Ada", "Alan", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Edsger", "Radia", "John", "Hedy", "Tim", "Katherine", "Donald", "Sophie", "Niklaus", "Joan", "Guido"}
	lastNames  = []string{"Lovelace", "Turing", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen", "Dijkstra", "Perlman", "Backus", "Lamarr", "Berners-Lee", "Johnson", "Knuth", "Wilson", "Wirth", "Clarke", "van Rossum"}
	companies  = []string{"Acme Wholesale", "Globex Retail", "Initech Supplies", "Umbrella Stores", "Stark Distribution", "Wayne Trading"}
)

func (g *generator) registerCustomers() error {
	// Orders pick customers: key accounts take a fixed share sized for
	// their long streams, the rest follow a Zipf law over a shuffled order
	// (a few customers order a lot, most rarely). Credit limits follow each
	// customer's expected volume, so that about one order in ten exceeds
	// it: the ones the generator makes too big on purpose.
	keys := min(g.c.LongStreams, g.c.Customers)
	keyShare := 0.0
	if keys > 0 && g.c.Orders > 0 {
		perKey := float64(g.c.LongStreamEvents) / 1.75 // a customer stream gets about 1.8 events per order
		keyShare = min(perKey*float64(keys)/float64(g.c.Orders), 1.0/3)
	}
	rest := g.c.Customers - keys
	const zs, zv = 1.1, 8.0
	weights := make([]float64, max(rest, 0))
	var sum float64
	for k := range weights {
		weights[k] = math.Pow(zv+float64(k), -zs)
		sum += weights[k]
	}
	perm := g.rng.Perm(max(rest, 0)) // Zipf rank -> customer index among the rest
	expected := make([]float64, g.c.Customers)
	for k, w := range weights {
		expected[keys+perm[k]] = float64(g.c.Orders) * (1 - keyShare) * w / sum
	}
	for i := range keys {
		expected[i] = float64(g.c.Orders) * keyShare / float64(keys)
	}
	var zipf *rand.Zipf
	if rest > 1 {
		zipf = rand.NewZipf(g.rng, zs, zv, uint64(rest-1))
	}
	g.pick = func() int {
		if keys > 0 && (rest == 0 || g.rng.Float64() < keyShare) {
			return g.rng.IntN(keys)
		}
		if zipf == nil {
			return keys
		}
		return keys + perm[zipf.Uint64()]
	}
	// open orders of a customer: placed in the last ~2.5 days of the span
	openShare := float64(60*time.Hour) / float64(g.c.Span)

	w := len(fmt.Sprint(g.c.Customers))
	idFmt := "%0" + fmt.Sprint(max(4, w)) + "d"
	for i := range g.c.Customers {
		id := fmt.Sprintf(idFmt, i+1)
		key := i < keys
		var name string
		if key {
			name = companies[i%len(companies)]
		} else {
			name = firstNames[g.rng.IntN(len(firstNames))] + " " + lastNames[g.rng.IntN(len(lastNames))]
		}
		// room for twice the expected open orders at ~100.00 each, rounded to 100.00
		limit := int64(math.Ceil(expected[i]*openShare*2*10_000/10_000))*10_000 + 20_000 + g.rng.Int64N(20)*10_000
		cs := &customerSim{id: id, agg: domain.NewCustomer(id), version: -1}
		evs, err := cs.agg.Register(name, limit)
		if err != nil {
			return err
		}
		at := g.start.Add(time.Duration(i) * 2 * time.Hour / time.Duration(max(g.c.Customers, 1)))
		cmd := g.nameID("customer", id, "register")
		if _, err := g.emitCustomer(cs, evs[0], cmd, domain.Meta{CorrelationID: cmd.String(), CausationID: cmd.String(), Source: g.source}, at); err != nil {
			return err
		}
		g.custs = append(g.custs, cs)
		g.byID[id] = cs
		if key {
			g.stats.LongStreams = append(g.stats.LongStreams, domain.CustomerStream(id))
		}
	}
	g.stats.Customers = g.c.Customers
	return nil
}

func (g *generator) nameID(parts ...string) uuid.UUID {
	return domain.NameID(fmt.Sprintf("seed/%d/%s", g.c.Seed, strings.Join(parts, "/")))
}

// planOrders schedules the placements, spread over the span after the
// registrations, denser on weekdays and in the daytime.
func (g *generator) planOrders() {
	from := g.start.Add(2 * time.Hour)
	span := g.end.Add(-time.Minute).Sub(from)
	times := make([]time.Duration, g.c.Orders)
	for i := range times {
		for {
			d := time.Duration(g.rng.Int64N(int64(span)))
			off := from.Add(d).Sub(g.start)
			wt := 1.0
			if day := int(off / (24 * time.Hour)); day%7 >= 5 { // a virtual weekend
				wt = 0.5
			}
			if h := int(off/time.Hour) % 24; h < 7 || h > 22 { // night, UTC
				wt *= 0.3
			}
			if g.rng.Float64() < wt {
				times[i] = d
				break
			}
		}
	}
	slices.Sort(times)
	for i, d := range times {
		o := &orderSim{id: fmt.Sprintf(g.idFmt, i+1), version: -1}
		o.customer = g.custs[g.pick()].id
		o.agg = domain.NewOrder(o.id)
		g.schedule(from.Add(d), actPlace, o, store.Event{})
	}
}

func (g *generator) emit(stream string, version int64, e domain.Event, id uuid.UUID, meta domain.Meta, at time.Time) (store.Event, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return store.Event{}, err
	}
	md := meta.JSON()
	v, err := g.out.Add(store.BulkEvent{StreamID: stream, ID: id, Type: e.EventType(), Data: data, Metadata: md, RecordedAt: at,
		Personal: domain.PersonalOf(stream, e)})
	if err != nil {
		return store.Event{}, err
	}
	if v != version {
		return store.Event{}, fmt.Errorf("seed: %s got version %d, expected %d (does it exist already?)", stream, v, version)
	}
	g.stats.Events++
	return store.Event{StreamID: stream, Version: v, EventID: id, Type: e.EventType(), Data: data, Metadata: md, RecordedAt: at}, nil
}

func (g *generator) emitCustomer(cs *customerSim, e domain.Event, id uuid.UUID, meta domain.Meta, at time.Time) (store.Event, error) {
	stored, err := g.emit(domain.CustomerStream(cs.id), cs.version+1, e, id, meta, at)
	if err != nil {
		return stored, err
	}
	cs.version++
	cs.agg.Apply(e)
	if g.c.SnapshotEvery > 0 && (cs.version+1)%int64(g.c.SnapshotEvery) == 0 {
		b, err := json.Marshal(cs.agg)
		if err != nil {
			return stored, err
		}
		g.out.Snapshot(domain.CustomerStream(cs.id), cs.version, b)
		g.stats.Snapshots++
	}
	return stored, nil
}

func (g *generator) emitOrder(o *orderSim, e domain.Event, id uuid.UUID, meta domain.Meta, at time.Time) (store.Event, error) {
	stored, err := g.emit(domain.OrderStream(o.id), o.version+1, e, id, meta, at)
	if err != nil {
		return stored, err
	}
	o.version++
	o.agg.Apply(e)
	return stored, nil
}

// causedBy is domain.CausedBy(cause, handler) without parsing the cause's
// metadata: every event of an order's conversation carries the placing
// command's id as its correlation id.
func (g *generator) causedBy(o *orderSim, cause store.Event, handler string) domain.Meta {
	return domain.Meta{CorrelationID: o.placeCmd.String(), CausationID: cause.EventID.String(), Source: handler}
}

func (g *generator) ms(lo, hi int64) time.Duration {
	return time.Duration(lo+g.rng.Int64N(hi-lo+1)) * time.Millisecond
}

func (g *generator) run(a *action) error {
	o := a.order
	switch a.kind {
	case actPlace:
		cs := g.byID[o.customer]
		lines := g.lines(cs.agg.Available)
		evs, err := o.agg.Place(o.customer, lines)
		if err != nil {
			return err
		}
		o.placeCmd = g.nameID("order", o.id, "place")
		meta := domain.Meta{CorrelationID: o.placeCmd.String(), CausationID: o.placeCmd.String(), Source: g.source}
		placed, err := g.emitOrder(o, evs[0], g.nameID("order", o.id, "placed"), meta, a.at)
		if err != nil {
			return err
		}
		g.stats.Orders++
		g.schedule(a.at.Add(g.ms(3, 40)), actDecide, o, placed)
	case actDecide: // CustomerService on OrderPlaced
		cs := g.byID[o.customer]
		evs, err := cs.agg.ReserveCredit(o.id, o.agg.Total)
		if err != nil || len(evs) == 0 {
			return fmt.Errorf("seed: reserve credit for order %s: %v", o.id, err)
		}
		decided, err := g.emitCustomer(cs, evs[0], domain.DerivedID(a.cause.EventID, domain.CustomerServiceName), g.causedBy(o, a.cause, domain.CustomerServiceName), a.at)
		if err != nil {
			return err
		}
		g.schedule(a.at.Add(g.ms(3, 40)), actOutcome, o, decided)
	case actOutcome: // OrderService on CreditReserved / CreditLimitExceeded
		var evs []domain.Event
		var err error
		if a.cause.Type == domain.CreditReservedType {
			evs, err = o.agg.Approve()
			g.stats.Approved++
		} else {
			var x domain.CreditLimitExceeded
			_ = json.Unmarshal(a.cause.Data, &x)
			evs, err = o.agg.Reject(domain.RejectReason(x.Amount, x.Available))
			g.stats.Rejected++
		}
		if err != nil || len(evs) == 0 {
			return fmt.Errorf("seed: decide order %s: %v", o.id, err)
		}
		if _, err := g.emitOrder(o, evs[0], domain.DerivedID(a.cause.EventID, domain.OrderServiceName), g.causedBy(o, a.cause, domain.OrderServiceName), a.at); err != nil {
			return err
		}
		if o.agg.Status != domain.StatusApproved {
			return nil
		}
		// what happens next: 10% are cancelled within a day, the others
		// ship within one to four days; those due after the end of the
		// history are still open
		if g.rng.Float64() < 0.10 {
			if at := a.at.Add(10*time.Minute + time.Duration(g.rng.Int64N(int64(24*time.Hour)))); at.Before(g.end) {
				g.schedule(at, actCancel, o, store.Event{})
			}
		} else if at := a.at.Add(20*time.Hour + time.Duration(g.rng.Int64N(int64(72*time.Hour)))); at.Before(g.end) {
			g.schedule(at, actShip, o, store.Event{})
		}
	case actCancel, actShip:
		var evs []domain.Event
		var err error
		verb := "ship"
		if a.kind == actCancel {
			verb = "cancel"
			evs, err = o.agg.Cancel(cancelReasons[g.rng.IntN(len(cancelReasons))])
			g.stats.Cancelled++
			g.stats.Approved--
		} else {
			evs, err = o.agg.Ship()
			g.stats.Shipped++
			g.stats.Approved--
		}
		if err != nil || len(evs) == 0 {
			return fmt.Errorf("seed: %s order %s: %v", verb, o.id, err)
		}
		cmd := g.nameID("order", o.id, verb)
		done, err := g.emitOrder(o, evs[0], g.nameID("order", o.id, verb+"ed"), domain.Meta{CorrelationID: o.placeCmd.String(), CausationID: cmd.String(), Source: g.source}, a.at)
		if err != nil {
			return err
		}
		g.schedule(a.at.Add(g.ms(3, 40)), actRelease, o, done)
	case actRelease: // CustomerService on OrderCancelled / OrderShipped
		cs := g.byID[o.customer]
		evs, err := cs.agg.ReleaseCredit(o.id)
		if err != nil || len(evs) == 0 {
			return fmt.Errorf("seed: release credit of order %s: %v", o.id, err)
		}
		if _, err := g.emitCustomer(cs, evs[0], domain.DerivedID(a.cause.EventID, domain.CustomerServiceName), g.causedBy(o, a.cause, domain.CustomerServiceName), a.at); err != nil {
			return err
		}
		o.agg = nil // done: let it go
	}
	return nil
}

var cancelReasons = []string{"customer changed their mind", "found a better price", "ordered by mistake", "delivery too slow", "duplicate order"}

// lines makes an order's lines. About 10% of orders are made to exceed the
// available credit; the others are trimmed to fit when they can.
func (g *generator) lines(available int64) []domain.OrderLine {
	n := 1 + g.rng.IntN(4)
	var ls []domain.OrderLine
	for range n {
		s := g.skus[g.rng.IntN(len(g.skus))]
		ls = append(ls, domain.OrderLine{SKU: s.code, Qty: 1 + int64(g.rng.IntN(3)), Price: s.price})
	}
	total, _ := domain.LinesTotal(ls)
	if g.rng.Float64() < 0.10 {
		if total <= available {
			s := g.skus[g.rng.IntN(len(g.skus))]
			ls = append(ls, domain.OrderLine{SKU: s.code, Qty: (available-total)/s.price + 1 + int64(g.rng.IntN(3)), Price: s.price})
		}
		return ls
	}
	for total > available && (len(ls) > 1 || ls[0].Qty > 1) {
		last := &ls[len(ls)-1]
		if last.Qty > 1 {
			last.Qty--
		} else {
			ls = ls[:len(ls)-1]
		}
		total, _ = domain.LinesTotal(ls)
	}
	return ls
}
