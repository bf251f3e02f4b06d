package worker

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"eventscope/domain"
	"eventscope/internal/testdb"
	"eventscope/store"
	"eventscope/subscriptions"
)

// TestMain doubles as the worker subprocess of TestWorkerKilledAndRestarted:
// with ES_TEST_WORKER_URL set, the test binary runs the worker until
// SIGINT/SIGTERM (or SIGKILL).
func TestMain(m *testing.M) {
	if url := os.Getenv("ES_TEST_WORKER_URL"); url != "" {
		os.Exit(runWorkerProcess(url))
	}
	os.Exit(m.Run())
}

func runWorkerProcess(url string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	defer st.Close()
	logf := func(f string, a ...any) { fmt.Fprintf(os.Stderr, "worker: "+f+"\n", a...) }
	o := Options{Runner: subscriptions.RunnerOptions{PollInterval: 200 * time.Millisecond, Logf: logf}}
	fmt.Sscan(os.Getenv("ES_TEST_WORKER_PARTITIONS"), &o.Partitions)
	fmt.Sscan(os.Getenv("ES_TEST_WORKER_MEMBERS"), &o.Members)
	w, err := New(st, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	fmt.Println("worker ready")
	if err := w.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	fmt.Println("worker stopped")
	return 0
}

func startWorker(t *testing.T, url string, env ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), "ES_TEST_WORKER_URL="+url), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case l := <-lines:
		if l != "worker ready" {
			t.Fatalf("worker said %q", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not start")
	}
	return cmd, lines
}

func setup(t *testing.T) (string, *store.Store, *domain.Repository, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	url := testdb.URL(t)
	st := testdb.Open(t, url, store.Options{})
	return url, st, domain.NewRepository(st, 0), ctx
}

func registerCustomers(t *testing.T, ctx context.Context, repo *domain.Repository, n int, limit int64) []string {
	t.Helper()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("c%03d", i)
		c := domain.NewCustomer(id)
		evs, _ := c.Register("Customer "+id, limit)
		if _, err := repo.Save(ctx, domain.CustomerType, domain.CustomerStream(id), c, -1, domain.Record(evs, domain.Meta{}, nil)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func placeOrder(ctx context.Context, repo *domain.Repository, id, customer string, total int64) error {
	o := domain.NewOrder(id)
	evs, err := o.Place(customer, []domain.OrderLine{{SKU: "SKU-1", Qty: 1, Price: total}})
	if err != nil {
		return err
	}
	cmd := domain.NameID("test/" + id)
	_, err = repo.Save(ctx, domain.OrderType, domain.OrderStream(id), o, -1,
		domain.Record(evs, domain.Meta{CorrelationID: cmd.String(), CausationID: cmd.String(), Source: "test"}, nil))
	return err
}

// TestWorkerKilledAndRestarted: a worker process is SIGKILLed while orders
// stream in, and a new one started: every order still ends approved or
// rejected exactly once, no customer is over-reserved, and the read model
// (exactly-once) counts every order once. The second worker then stops
// cleanly on SIGTERM.
func TestWorkerKilledAndRestarted(t *testing.T) {
	t.Parallel()
	workerKilledAndRestarted(t, nil)
}

// TestWorkerGroupKilledAndRestarted is TestWorkerKilledAndRestarted with
// the domain's subscriptions as groups of competing consumers: a worker of
// one member runs throughout beside the worker of two members that is
// killed, and the one that joins after it; the same outcome is required.
func TestWorkerGroupKilledAndRestarted(t *testing.T) {
	t.Parallel()
	workerKilledAndRestarted(t, []string{"ES_TEST_WORKER_PARTITIONS=6"})
}

func workerKilledAndRestarted(t *testing.T, env []string) {
	url, st, repo, ctx := setup(t)
	customers := registerCustomers(t, ctx, repo, 10, 20_000)
	if env != nil {
		w0, _ := startWorker(t, url, env...) // a member throughout
		t.Cleanup(func() { _ = w0.Process.Signal(syscall.SIGTERM); _ = w0.Wait() })
	}
	env1 := env
	if env != nil {
		env1 = append(env1, "ES_TEST_WORKER_MEMBERS=2")
	}
	w1, _ := startWorker(t, url, env1...)

	const orders = 400
	placed := make(chan struct{})
	var placeErr error
	go func() {
		defer close(placed)
		rng := rand.New(rand.NewPCG(9, 9))
		tick := time.NewTicker(5 * time.Millisecond) // ~200 orders/s
		defer tick.Stop()
		for i := range orders {
			<-tick.C
			if err := placeOrder(ctx, repo, fmt.Sprintf("k%04d", i), customers[rng.IntN(len(customers))], 500+rng.Int64N(3000)); err != nil {
				placeErr = err
				return
			}
		}
	}()
	time.Sleep(700 * time.Millisecond)
	if err := w1.Process.Kill(); err != nil { // SIGKILL: no clean-up at all
		t.Fatal(err)
	}
	_ = w1.Wait()
	time.Sleep(300 * time.Millisecond)
	w2, lines := startWorker(t, url, env...)
	<-placed
	if placeErr != nil {
		t.Fatal(placeErr)
	}

	// wait until every order is decided (and the read model has them all)
	deadline := time.Now().Add(90 * time.Second)
	for {
		decided := map[string]bool{}
		for after := store.Start; ; {
			p, err := st.ReadAll(ctx, after, store.ReadAllOptions{Categories: []string{"order"}, Types: []string{domain.OrderApprovedType, domain.OrderRejectedType}})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range p.Events {
				decided[e.StreamID] = true
			}
			if after = p.Next; !p.More {
				break
			}
		}
		undecided := orders - len(decided)
		var summarised int
		if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM eventscope.order_summary WHERE status <> 'pending'`).Scan(&summarised); err != nil {
			t.Fatal(err)
		}
		if undecided == 0 && summarised == orders {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart: %d orders undecided, %d of %d decided in the read model", undecided, summarised, orders)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rows, err := st.Pool().Query(ctx, `SELECT order_id, status FROM eventscope.order_summary`)
	if err != nil {
		t.Fatal(err)
	}
	summary := map[string]string{}
	for rows.Next() {
		var id, status string
		if err := rows.Scan(&id, &status); err != nil {
			t.Fatal(err)
		}
		summary[id] = status
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for i := range orders {
		evs, err := st.ReadStream(ctx, fmt.Sprintf("order-k%04d", i), store.ReadStreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		decisions := 0
		for _, e := range evs {
			if e.Type == domain.OrderApprovedType || e.Type == domain.OrderRejectedType {
				decisions++
			}
		}
		if decisions != 1 || len(evs) != 2 {
			t.Fatalf("order k%04d: %d events, %d decisions; want exactly one", i, len(evs), decisions)
		}
		want := "approved"
		if evs[1].Type == domain.OrderRejectedType {
			want = "rejected"
		}
		if got := summary[fmt.Sprintf("k%04d", i)]; got != want {
			t.Fatalf("read model says order k%04d is %q, its stream %q", i, got, want)
		}
	}
	var totalOrders, pending int64
	if err := st.Pool().QueryRow(ctx, `SELECT sum(orders), sum(pending) FROM eventscope.customer_totals`).Scan(&totalOrders, &pending); err != nil {
		t.Fatal(err)
	}
	if totalOrders != orders || pending != 0 {
		t.Fatalf("read model counts %d orders (%d pending), want %d (0)", totalOrders, pending, orders)
	}
	// nothing parked by the sagas or the read model: a killed worker (or a
	// terminated connection) must never make them skip an event
	// (notifications may park: its handler is the user's, at least once).
	var parked []string
	rows, err = st.Pool().Query(ctx, `SELECT subscription || ': ' || last_error FROM eventscope.parked_events WHERE subscription = ANY($1)`,
		[]string{domain.CustomerServiceName, domain.OrderServiceName, domain.OrderSummaryName})
	if err == nil {
		parked, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil || len(parked) != 0 {
		t.Fatalf("parked events of the sagas and the read model: %q (%v)", parked, err)
	}
	for _, id := range customers {
		c := domain.NewCustomer(id)
		evs, _ := st.ReadStream(ctx, domain.CustomerStream(id), store.ReadStreamOptions{Limit: 10_000})
		seen := map[string]bool{}
		for _, e := range evs {
			_ = domain.ApplyStored(c, e)
			if c.Reserved > c.CreditLimit {
				t.Fatalf("%s over-reserved at version %d", id, e.Version)
			}
			if e.Type == domain.CreditReservedType || e.Type == domain.CreditLimitExceededType {
				m := domain.MetaOf(e)
				if seen[m.CausationID] {
					t.Fatalf("%s decided order event %s twice", id, m.CausationID)
				}
				seen[m.CausationID] = true
			}
		}
	}
	// clean shutdown
	if err := w2.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w2.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("worker exited with %v after SIGTERM", err)
		}
	case <-time.After(20 * time.Second):
		_ = w2.Process.Kill()
		t.Fatal("worker did not stop within 20s of SIGTERM")
	}
	var said []string
	for l := range lines {
		said = append(said, l)
	}
	if !strings.Contains(strings.Join(said, "\n"), "worker stopped") {
		t.Fatalf("worker output %q", said)
	}
}

// TestSagaLatencyFigure measures OrderPlaced commit -> OrderApproved /
// OrderRejected commit at 50 orders/s while the worker runs all its
// subscriptions (order-summary and notifications included). It prints the
// figure; it asserts nothing about time. Run it with
//
//	EVENTSCOPE_FIGURES=1 go test ./domain/worker -run SagaLatency -v
//
// (ES_LATENCY_SECONDS sets the duration, default 20).
func TestSagaLatencyFigure(t *testing.T) {
	if os.Getenv("EVENTSCOPE_FIGURES") == "" {
		t.Skip("set EVENTSCOPE_FIGURES=1 to measure the saga latency")
	}
	_, st, repo, ctx := setup(t)
	customers := registerCustomers(t, ctx, repo, 200, 1_000_000)
	seconds := 20
	if s := os.Getenv("ES_LATENCY_SECONDS"); s != "" {
		fmt.Sscan(s, &seconds)
	}
	var (
		mu       sync.Mutex
		placedAt = map[string]time.Time{}
		lat      []time.Duration
	)
	saga := domain.NewSaga(repo)
	notes := domain.NewNotifications(domain.NotificationsOptions{})
	subs := Subscriptions(saga, notes, Options{})
	for i := range subs {
		if subs[i].Name == domain.OrderServiceName {
			subs[i].Handler = func(ctx context.Context, e store.Event) error {
				err := saga.OrderService(ctx, e)
				done := time.Now() // the decision's append has committed
				var d struct {
					OrderID string `json:"orderId"`
				}
				_ = jsonUnmarshal(e.Data, &d)
				mu.Lock()
				if t0, ok := placedAt[d.OrderID]; ok {
					lat = append(lat, done.Sub(t0))
					delete(placedAt, d.OrderID)
				}
				mu.Unlock()
				return err
			}
		}
	}
	r := subscriptions.NewRunner(st, subscriptions.RunnerOptions{})
	for _, s := range subs {
		if err := r.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	go r.Run(rctx)              //nolint:errcheck
	time.Sleep(2 * time.Second) // leases taken, subscriptions live

	rng := rand.New(rand.NewPCG(5, 5))
	tick := time.NewTicker(20 * time.Millisecond) // 50 orders/s
	n := seconds * 50
	for i := range n {
		<-tick.C
		id := fmt.Sprintf("l%05d", i)
		// the append commits when Save returns; the worker may decide
		// before we note the time, so note it first and fix it after
		mu.Lock()
		placedAt[id] = time.Now()
		mu.Unlock()
		if err := placeOrder(ctx, repo, id, customers[rng.IntN(len(customers))], 500+rng.Int64N(3000)); err != nil {
			t.Fatal(err)
		}
	}
	tick.Stop()
	time.Sleep(2 * time.Second)
	stop()
	mu.Lock()
	defer mu.Unlock()
	if len(lat) < n*9/10 {
		t.Fatalf("only %d of %d orders decided", len(lat), n)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	t.Logf("saga latency, OrderPlaced append start -> decision committed, %d orders at 50/s over %ds: p50 %v  p90 %v  p99 %v  max %v",
		len(lat), seconds, q(0.50).Round(100*time.Microsecond), q(0.90).Round(100*time.Microsecond), q(0.99).Round(100*time.Microsecond), lat[len(lat)-1].Round(100*time.Microsecond))
}
