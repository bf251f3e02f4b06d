package subscriptions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// rebalanceDeadline is the promise: partitions move within 5 s of
// a join, a leave or a death.
const rebalanceDeadline = 5 * time.Second

// groupLog records a group's deliveries across members: per stream, the
// versions in delivery order, and whether two members ever handled one
// stream at the same moment.
type groupLog struct {
	mu       sync.Mutex
	versions map[string][]int64
	byWho    map[string]int
	inFlight map[string]string // stream -> member handling it now
	overlap  []string
	total    atomic.Int64
}

func newGroupLog() *groupLog {
	return &groupLog{versions: map[string][]int64{}, byWho: map[string]int{}, inFlight: map[string]string{}}
}

func (g *groupLog) handler(who string, work time.Duration) Handler {
	return func(_ context.Context, e store.Event) error {
		g.mu.Lock()
		if other, busy := g.inFlight[e.StreamID]; busy {
			g.overlap = append(g.overlap, fmt.Sprintf("%s@%d by %s while %s handles it", e.StreamID, e.Version, who, other))
		}
		g.inFlight[e.StreamID] = who
		g.mu.Unlock()
		if work > 0 {
			time.Sleep(work)
		}
		g.mu.Lock()
		delete(g.inFlight, e.StreamID)
		g.versions[e.StreamID] = append(g.versions[e.StreamID], e.Version)
		g.byWho[who]++
		g.mu.Unlock()
		g.total.Add(1)
		return nil
	}
}

// check asserts that every stream's events were delivered in order and
// none skipped: each delivery is the next version or a redelivery of an
// earlier one (at least once), and every version up to want[stream] came.
func (g *groupLog) check(t *testing.T, want map[string]int64) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, o := range g.overlap {
		t.Errorf("two members at once: %s", o)
	}
	redelivered := 0
	for stream, last := range want {
		vs := g.versions[stream]
		high := int64(-1)
		for _, v := range vs {
			if v > high+1 {
				t.Fatalf("%s: version %d delivered after %d: skipped (deliveries %v)", stream, v, high, vs)
			}
			if v <= high {
				redelivered++
			}
			high = max(high, v)
		}
		if high != last {
			t.Fatalf("%s: delivered up to %d, want %d", stream, high, last)
		}
	}
	t.Logf("deliveries by member %v; %d redelivered (at least once)", g.byWho, redelivered)
}

// groupHolders maps each partition to its holder's instance ("" none).
func groupHolders(t *testing.T, b *bundle, name string) (map[int]string, Status) {
	t.Helper()
	h := map[int]string{}
	s, err := b.adm.Get(context.Background(), name)
	if errors.Is(err, store.ErrNotFound) {
		return h, s // its rows are not created yet
	}
	if err != nil {
		t.Fatalf("Get %s: %v", name, err)
	}
	for _, p := range s.Partitions {
		if p.Holder != nil && p.State != StateUnresponsive {
			h[p.Partition] = p.Holder.Instance
		} else {
			h[p.Partition] = ""
		}
	}
	return h, s
}

// balanced: every partition is held, by exactly the members in want, each
// holding its share (the counts differ by at most one).
func balanced(h map[int]string, partitions int, want ...string) bool {
	if len(h) != partitions {
		return false
	}
	n := map[string]int{}
	for _, w := range h {
		n[w]++
	}
	if len(n) != len(want) {
		return false
	}
	for _, w := range want {
		if n[w] < partitions/len(want) || n[w] > (partitions+len(want)-1)/len(want) {
			return false
		}
	}
	return true
}

// waitBalanced polls until the group is balanced over want, up to the
// rebalancing deadline, and reports how long it took.
func waitBalanced(t *testing.T, b *bundle, name string, partitions int, what string, want ...string) time.Duration {
	t.Helper()
	start := time.Now()
	var h map[int]string
	for {
		h, _ = groupHolders(t, b, name)
		if balanced(h, partitions, want...) {
			d := time.Since(start)
			t.Logf("%s: balanced over %v after %s", what, want, d.Round(time.Millisecond))
			return d
		}
		if time.Since(start) > rebalanceDeadline {
			t.Fatalf("%s: not balanced over %v within %s: holders %v", what, want, rebalanceDeadline, h)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeStreams appends to streams cat-0..cat-(n-1) in turn until stop is
// closed, and returns the last version of each.
func writeStreams(t *testing.T, st *store.Store, cat string, n int, stop <-chan struct{}) <-chan map[string]int64 {
	out := make(chan map[string]int64, 1)
	go func() {
		last := map[string]int64{}
		for i := 0; ; i++ {
			select {
			case <-stop:
				out <- last
				return
			default:
			}
			stream := fmt.Sprintf("%s-%d", cat, i%n)
			v, err := st.Append(context.Background(), stream, store.Any, ev("Tested", i))
			if err != nil {
				t.Errorf("append: %v", err)
				out <- last
				return
			}
			last[stream] = v
			if i%50 == 49 {
				time.Sleep(2 * time.Millisecond)
			}
		}
	}()
	return out
}

// TestGroupMembers: three members share a group's partitions while events
// arrive; one leaves (its context cancelled), one joins; every move is
// balanced again within 5 s, and no stream's event is lost, reordered or
// handled by two members at once.
func TestGroupMembers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const parts = 8
	log := newGroupLog()
	member := func(inst string) (*Runner, func()) {
		r := NewRunner(b.st, RunnerOptions{Instance: inst, PollInterval: 100 * time.Millisecond, Logf: testLogf(t)})
		must(t, r.Add(Subscription{Name: "g", Categories: []string{"grp"}, Partitions: parts, BatchSize: 20,
			Handler: log.handler(inst, 200*time.Microsecond)}))
		return r, run(t, r)
	}
	stop := make(chan struct{})
	last := writeStreams(t, b.st, "grp", 40, stop)

	_, stopA := member("a")
	_, stopB := member("b")
	_, _ = member("c")
	waitBalanced(t, b, "g", parts, "three members start", "a", "b", "c")
	if _, s := groupHolders(t, b, "g"); len(s.Members) != 3 || len(s.Partitions) != parts {
		t.Fatalf("status: %d members, %d partitions; want 3 and %d: %+v", len(s.Members), len(s.Partitions), parts, s)
	}

	stopB() // leaves: its partitions are flushed and handed over
	waitBalanced(t, b, "g", parts, "b leaves", "a", "c")

	member("d")
	waitBalanced(t, b, "g", parts, "d joins", "a", "c", "d")

	stopA()
	waitBalanced(t, b, "g", parts, "a leaves", "c", "d")

	close(stop)
	want := <-last
	var total int64
	for _, v := range want {
		total += v + 1
	}
	waitFor(t, "every event to be delivered", time.Minute, func() bool {
		log.mu.Lock()
		defer log.mu.Unlock()
		for s, v := range want {
			vs := log.versions[s]
			if len(vs) == 0 || slicesMax(vs) < v {
				return false
			}
		}
		return true
	})
	log.check(t, want)
	s, err := b.adm.Get(context.Background(), "g")
	must(t, err)
	waitFor(t, "the lag to drain", time.Minute, func() bool {
		s, err = b.adm.Get(context.Background(), "g")
		must(t, err)
		return s.Lag == 0
	})
	for _, m := range s.Members {
		if m.Live && len(m.Partitions) == 0 {
			t.Errorf("live member %s holds nothing", m.Instance)
		}
	}
	t.Logf("%d events over %d streams; status %s lag %d, members %+v", total, len(want), s.State, s.Lag, s.Members)
}

func slicesMax(vs []int64) int64 {
	m := vs[0]
	for _, v := range vs {
		m = max(m, v)
	}
	return m
}

// TestPartitionOf: streams spread over every partition, stably.
func TestPartitionOf(t *testing.T) {
	n := map[int]int{}
	for i := range 1000 {
		k := PartitionOf(fmt.Sprintf("order-%d", i), 16)
		if k != PartitionOf(fmt.Sprintf("order-%d", i), 16) || k < 0 || k >= 16 {
			t.Fatalf("partition %d", k)
		}
		n[k]++
	}
	keys := make([]int, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	if len(keys) != 16 {
		t.Fatalf("1000 streams reach %d of 16 partitions", len(keys))
	}
	for _, k := range keys {
		if n[k] < 30 {
			t.Errorf("partition %d has %d of 1000 streams", k, n[k])
		}
	}
	if PartitionOf("x", 0) != 0 || PartitionOf("x", 1) != 0 {
		t.Error("one partition or none is partition 0")
	}
}

// The group crash test runs members in real subprocesses (this test binary
// re-executed with groupHelperEnv set), SIGKILLs one and SIGSTOPs another,
// and checks that their partitions move to the member in the test process
// within 5 s, and that every event is handled exactly once (a TxHandler's
// writes commit with the partition's fenced checkpoint), in order per
// stream.
const (
	groupHelperEnv   = "EVENTSCOPE_SUBS_GROUP_HELPER" // the database URL
	groupInstanceEnv = "EVENTSCOPE_SUBS_GROUP_INSTANCE"
	groupParts       = 6
	groupDeliveries  = `CREATE TABLE deliveries (stream text NOT NULL, version bigint NOT NULL, who text NOT NULL,
	                        seq bigserial PRIMARY KEY)`
)

func groupTxSubscription(who string) Subscription {
	return Subscription{Name: "procs", Categories: []string{"proc"}, Partitions: groupParts, BatchSize: 10,
		TxHandler: func(ctx context.Context, tx pgx.Tx, e store.Event) error {
			time.Sleep(25 * time.Millisecond) // work: keeps a backlog while members come and go
			_, err := tx.Exec(ctx, `INSERT INTO deliveries (stream, version, who) VALUES ($1, $2, $3)`, e.StreamID, e.Version, who)
			return err
		}}
}

// TestGroupHelper is the subprocess member. It does nothing in a normal run.
func TestGroupHelper(t *testing.T) {
	url := os.Getenv(groupHelperEnv)
	if url == "" {
		t.Skip("helper process for TestGroupMemberDies; runs only when re-executed by it")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inst := os.Getenv(groupInstanceEnv)
	r := NewRunner(st, RunnerOptions{Instance: inst, LeaseTimeout: 2 * time.Second, TxIdleTimeout: 2 * time.Second})
	if err := r.Add(groupTxSubscription(inst)); err != nil {
		t.Fatal(err)
	}
	_ = r.Run(ctx) // until killed
}

func TestGroupMemberDies(t *testing.T) {
	t.Parallel()
	b := setupPrivate(t) // a frozen member leaves a transaction open
	ctx := context.Background()
	_, err := b.st.Pool().Exec(ctx, groupDeliveries)
	must(t, err)
	const streams, events = 24, 1200
	appendN(t, b.st, "proc", streams, events)

	helper := func(inst string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestGroupHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), groupHelperEnv+"="+b.url, groupInstanceEnv+"="+inst)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		must(t, cmd.Start())
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGCONT)
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		return cmd
	}
	delivered := func() (total, distinct int) {
		must(t, b.st.Pool().QueryRow(ctx, `SELECT count(*), count(DISTINCT (stream, version)) FROM deliveries`).Scan(&total, &distinct))
		return
	}

	killed := helper("p-killed")
	waitFor(t, "the first member to hold the partitions", time.Minute, func() bool {
		h, _ := groupHolders(t, b, "procs")
		return balanced(h, groupParts, "p-killed")
	})
	local := NewRunner(b.st, RunnerOptions{Instance: "p-local", Logf: testLogf(t)})
	must(t, local.Add(groupTxSubscription("p-local")))
	run(t, local)
	waitFor(t, "both members to hold partitions", time.Minute, func() bool {
		h, _ := groupHolders(t, b, "procs")
		return balanced(h, groupParts, "p-killed", "p-local")
	})
	if n, _ := delivered(); n >= events {
		t.Fatalf("all %d events delivered before the kill: the test needs a backlog", n)
	}
	must(t, killed.Process.Signal(syscall.SIGKILL))
	waitBalanced(t, b, "procs", groupParts, "after SIGKILL", "p-local")

	frozen := helper("p-frozen")
	waitBalanced(t, b, "procs", groupParts, "a process joins", "p-frozen", "p-local")
	must(t, frozen.Process.Signal(syscall.SIGSTOP))
	// Frozen, it keeps its leases until the server ends its idle lease
	// connection (its LeaseTimeout, 2 s): then they move.
	waitBalanced(t, b, "procs", groupParts, "after SIGSTOP", "p-local")
	appendN(t, b.st, "proc", streams, 120)
	must(t, frozen.Process.Signal(syscall.SIGCONT)) // it finds its leases fenced, and joins again

	waitFor(t, "every event to be handled", 2*time.Minute, func() bool {
		_, d := delivered()
		return d == events+120
	})
	total, distinct := delivered()
	if total != distinct {
		t.Fatalf("%d deliveries of %d events: a TxHandler's writes must commit once", total, distinct)
	}
	// In order per stream, none skipped: by commit order (seq), each
	// stream's versions are 0, 1, 2, ...
	rows, err := b.st.Pool().Query(ctx, `SELECT stream, version, who FROM deliveries ORDER BY seq`)
	must(t, err)
	next := map[string]int64{}
	who := map[string]int{}
	for rows.Next() {
		var s, w string
		var v int64
		must(t, rows.Scan(&s, &v, &w))
		if v != next[s] {
			t.Fatalf("%s: version %d committed when %d was next", s, v, next[s])
		}
		next[s]++
		who[w]++
	}
	must(t, rows.Err())
	t.Logf("deliveries by member: %v", who)
	if who["p-killed"] == 0 || who["p-local"] == 0 {
		t.Fatalf("deliveries by member %v: want the killed and the local member to have delivered", who)
	}
}
