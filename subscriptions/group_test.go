package subscriptions

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
