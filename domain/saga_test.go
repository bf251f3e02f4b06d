package domain

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

func place(t *testing.T, ctx context.Context, repo *Repository, orderID, customerID string, total int64) store.Event {
	t.Helper()
	o := NewOrder(orderID)
	evs, err := o.Place(customerID, []OrderLine{{SKU: "SKU-1", Qty: 1, Price: total}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Save(ctx, OrderType, OrderStream(orderID), o, -1, Record(evs, Meta{CorrelationID: "test"}, nil)); err != nil {
		t.Fatal(err)
	}
	got, err := repo.Store().ReadStream(ctx, OrderStream(orderID), store.ReadStreamOptions{FromEnd: true, Backward: true, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	return got[0]
}

func register(t *testing.T, ctx context.Context, repo *Repository, id string, limit int64) {
	t.Helper()
	c := NewCustomer(id)
	evs, _ := c.Register("Customer "+id, limit)
	if _, err := repo.Save(ctx, CustomerType, CustomerStream(id), c, -1, Record(evs, Meta{}, nil)); err != nil {
		t.Fatal(err)
	}
}

func readAll(t *testing.T, ctx context.Context, st *store.Store, stream string) []store.Event {
	t.Helper()
	evs, err := st.ReadStream(ctx, stream, store.ReadStreamOptions{Limit: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestSagaIdempotent: processing the same event twice has no second effect,
// for every handler.
func TestSagaIdempotent(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	repo := NewRepository(st, 0)
	saga := NewSaga(repo)
	register(t, ctx, repo, "c1", 10_000)
	placed := place(t, ctx, repo, "o1", "c1", 4000)
	for range 2 {
		if err := saga.CustomerService(ctx, placed); err != nil {
			t.Fatal(err)
		}
	}
	cust := readAll(t, ctx, st, "customer-c1")
	if len(cust) != 2 || cust[1].Type != CreditReservedType {
		t.Fatalf("customer stream after OrderPlaced twice: %d events", len(cust))
	}
	if m := MetaOf(cust[1]); m.CausationID != placed.EventID.String() || m.CorrelationID != "test" {
		t.Fatalf("metadata %s", cust[1].Metadata)
	}
	for range 2 {
		if err := saga.OrderService(ctx, cust[1]); err != nil {
			t.Fatal(err)
		}
	}
	ord := readAll(t, ctx, st, "order-o1")
	if len(ord) != 2 || ord[1].Type != OrderApprovedType {
		t.Fatalf("order stream after CreditReserved twice: %+v", ord)
	}
	// cancel, and release twice
	o, v, _ := repo.LoadOrder(ctx, "o1")
	evs, _ := o.Cancel("changed mind")
	if _, err := repo.Save(ctx, OrderType, "order-o1", o, v, Record(evs, Meta{}, nil)); err != nil {
		t.Fatal(err)
	}
	ord = readAll(t, ctx, st, "order-o1")
	for range 2 {
		if err := saga.CustomerService(ctx, ord[2]); err != nil {
			t.Fatal(err)
		}
	}
	cust = readAll(t, ctx, st, "customer-c1")
	if len(cust) != 3 || cust[2].Type != CreditReleasedType {
		t.Fatalf("customer stream after OrderCancelled twice: %d events", len(cust))
	}
	// replaying the OrderPlaced after the release must not reserve again
	// (the state has no reservation any more; the derived id stops it)
	if err := saga.CustomerService(ctx, placed); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, ctx, st, "customer-c1"); len(got) != 3 {
		t.Fatalf("replayed OrderPlaced appended again: %d events", len(got))
	}
	// the read model: apply every order event twice
	for range 2 {
		for _, e := range ord {
			tx, err := st.Pool().Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := OrderSummary(ctx, tx, e); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	var status string
	var orders, cancelled, pending, approvedTotal int64
	if err := st.Pool().QueryRow(ctx, `SELECT o.status, c.orders, c.cancelled, c.pending, c.approved_total
		FROM eventscope.order_summary o JOIN eventscope.customer_totals c USING (customer_id) WHERE o.order_id = 'o1'`).
		Scan(&status, &orders, &cancelled, &pending, &approvedTotal); err != nil {
		t.Fatal(err)
	}
	if status != "cancelled" || orders != 1 || cancelled != 1 || pending != 0 || approvedTotal != 0 {
		t.Fatalf("read model: %s orders=%d cancelled=%d pending=%d approved_total=%d", status, orders, cancelled, pending, approvedTotal)
	}
	// notifications: a transient failure succeeds on the retry
	n := NewNotifications(NotificationsOptions{TransientRate: 1, PermanentRate: -1})
	if err := n.Handle(ctx, ord[1]); err == nil {
		t.Fatal("first attempt of a transient failure succeeded")
	}
	if err := n.Handle(ctx, ord[1]); err != nil || n.Sent() != 1 {
		t.Fatalf("retry: %v, sent %d", err, n.Sent())
	}
}

// TestSagaConcurrencyNeverOverReserves: many orders for one customer are
// processed at once, each delivered twice, by concurrent handlers; credit is
// never over-reserved at any version, every order gets exactly one decision,
// and every order ends approved or rejected accordingly.
func TestSagaConcurrencyNeverOverReserves(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	repo := NewRepository(st, 20) // small interval: snapshots are written while racing
	saga := NewSaga(repo)
	const limit, orders = 50_000, 120
	register(t, ctx, repo, "hot", limit)
	rng := rand.New(rand.NewPCG(1, 2))
	var placed []store.Event
	for i := range orders {
		placed = append(placed, place(t, ctx, repo, fmt.Sprintf("p%d", i), "hot", 500+rng.Int64N(2000)))
	}
	deliver := func(evs []store.Event, h func(context.Context, store.Event) error) {
		var wg sync.WaitGroup
		work := make(chan store.Event)
		for range 8 {
			wg.Go(func() {
				for e := range work {
					if err := h(ctx, e); err != nil {
						t.Error(err)
					}
				}
			})
		}
		for _, i := range rng.Perm(2 * len(evs)) {
			work <- evs[i%len(evs)]
		}
		close(work)
		wg.Wait()
	}
	deliver(placed, saga.CustomerService)
	cust := readAll(t, ctx, st, "customer-hot")
	c := NewCustomer("hot")
	decisions := map[string]string{}
	for _, e := range cust {
		if err := ApplyStored(c, e); err != nil {
			t.Fatal(err)
		}
		if c.Reserved > c.CreditLimit || c.Available < 0 {
			t.Fatalf("over-reserved at version %d: reserved %d of %d", e.Version, c.Reserved, c.CreditLimit)
		}
		if e.Type == CreditReservedType || e.Type == CreditLimitExceededType {
			ev, _ := Decode(e.Type, e.Data)
			var oid string
			switch x := ev.(type) {
			case CreditReserved:
				oid = x.OrderID
			case CreditLimitExceeded:
				oid = x.OrderID
			}
			if decisions[oid] != "" {
				t.Fatalf("order %s decided twice", oid)
			}
			decisions[oid] = e.Type
		}
	}
	if len(decisions) != orders || c.OrdersExceeded == 0 || c.OrdersReserved == 0 {
		t.Fatalf("%d decisions for %d orders (%d reserved, %d exceeded)", len(decisions), orders, c.OrdersReserved, c.OrdersExceeded)
	}
	deliver(cust[1:], saga.OrderService)
	for oid, d := range decisions {
		evs := readAll(t, ctx, st, OrderStream(oid))
		want := map[string]string{CreditReservedType: OrderApprovedType, CreditLimitExceededType: OrderRejectedType}[d]
		if len(evs) != 2 || evs[1].Type != want {
			t.Fatalf("order %s: %d events, last %s; want exactly one %s", oid, len(evs), evs[len(evs)-1].Type, want)
		}
	}
	// loading through the racing snapshots gives the same state as a fold
	loaded, _, err := repo.LoadCustomer(ctx, "hot")
	if err != nil || loaded.Reserved != c.Reserved || loaded.OrdersReserved != c.OrdersReserved {
		t.Fatalf("repository load %+v, %v; fold %+v", loaded, err, c)
	}
}

// TestSagaUnknownCustomer: an order for a customer that does not exist is
// rejected instead of waiting forever.
func TestSagaUnknownCustomer(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	repo := NewRepository(st, 0)
	placed := place(t, ctx, repo, "o9", "ghost", 100)
	if err := NewSaga(repo).CustomerService(ctx, placed); err != nil {
		t.Fatal(err)
	}
	evs := readAll(t, ctx, st, "order-o9")
	if len(evs) != 2 || evs[1].Type != OrderRejectedType {
		t.Fatalf("order of an unknown customer: %+v", evs)
	}
}

// TestOrderSummaryPartitionsNeverBlockEachOther: two order-summary
// transactions (two partitions of a group) apply orders of the same two
// customers in opposite orders, both open at once. Each order's row is
// written by one partition only and the customer totals are derived from
// those rows, so neither waits for the other: with a totals row per
// customer they blocked and one of them died of a deadlock (40P01).
func TestOrderSummaryPartitionsNeverBlockEachOther(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	repo := NewRepository(st, 0)
	register(t, ctx, repo, "ca", 100_000)
	register(t, ctx, repo, "cb", 100_000)
	a1, b1 := place(t, ctx, repo, "pa1", "ca", 100), place(t, ctx, repo, "pb1", "cb", 200)
	b2, a2 := place(t, ctx, repo, "pb2", "cb", 300), place(t, ctx, repo, "pa2", "ca", 400)

	tx1, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback(ctx)
	tx2, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx2.Rollback(ctx)
	// each step must finish on its own while the other transaction is open
	step := func(tx pgx.Tx, e store.Event) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := tx.Exec(sctx, `SET LOCAL lock_timeout = '5s'`); err != nil {
			t.Fatal(err)
		}
		if err := OrderSummary(sctx, tx, e); err != nil {
			t.Fatalf("%s (%s) blocked behind the other partition: %v", e.StreamID, e.Type, err)
		}
	}
	step(tx1, a1) // partition 1: customer ca ...
	step(tx2, b1) // partition 2: customer cb ...
	step(tx1, b2) // ... then cb
	step(tx2, a2) // ... then ca
	if err := tx1.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tx2.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := st.Pool().Query(ctx, `SELECT customer_id, orders, pending, placed_total FROM eventscope.customer_totals ORDER BY customer_id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var id string
		var orders, pending, total int64
		if err := rows.Scan(&id, &orders, &pending, &total); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s:%d/%d/%d", id, orders, pending, total))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := "[ca:2/2/500 cb:2/2/500]"; fmt.Sprint(got) != want {
		t.Fatalf("customer totals %v, want %s", got, want)
	}
}
