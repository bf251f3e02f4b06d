package seed

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"eventscope/domain"
	"eventscope/domain/worker"
	"eventscope/internal/testdb"
	"eventscope/store"
	"eventscope/store/storetest"
)

func open(t *testing.T) (*store.Store, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return testdb.Store(t), ctx
}

type row struct {
	stream  string
	version int64
	id      uuid.UUID
	typ     string
	data    string
	meta    string
}

func dump(t *testing.T, ctx context.Context, st *store.Store) ([]row, map[string]int64) {
	t.Helper()
	// The whole log: every event the store holds. ReadAll delivers only
	// below the cluster-wide horizon, and other tests on the same server may
	// hold transactions open for a while, so read on until the global log
	// shows as many events as the store counts.
	total, err := st.Stats(ctx, store.StatsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []row
	deadline := time.Now().Add(2 * time.Minute)
	for after := store.Start; ; {
		p, err := st.ReadAll(ctx, after, store.ReadAllOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Events {
			out = append(out, row{stream: e.StreamID, version: e.Version, id: e.EventID, typ: e.Type, data: string(e.Data), meta: string(e.Metadata)})
		}
		after = p.Next
		if p.More {
			continue
		}
		if int64(len(out)) >= total.Events || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // held back: wait for the horizon
	}
	snaps := map[string]int64{}
	srows, err := st.Pool().Query(ctx, `SELECT stream_id || '@' || version, length(state::text) FROM eventscope.snapshots`)
	if err != nil {
		t.Fatal(err)
	}
	defer srows.Close()
	for srows.Next() {
		var k string
		var n int64
		_ = srows.Scan(&k, &n)
		snaps[k] = n
	}
	return out, snaps
}

// TestSeedDeterministicAndConsistent: two fresh databases seeded alike hold
// identical events (streams, versions, ids, types, data, metadata) in the
// same global order, except times and positions; the streams table agrees
// with the events; a second seed into the same database fails clearly; and
// the saga handlers over the seeded history append nothing (it already
// holds their events), while the read model builds from it.
func TestSeedDeterministicAndConsistent(t *testing.T) {
	t.Parallel()
	c := Config{Customers: 40, Orders: 1500, Seed: 11, LongStreamEvents: 600, SnapshotEvery: 50}
	a, ctx := open(t)
	b, _ := open(t)
	ra, err := Seed(ctx, a, c, Options{BatchEvents: 1000})
	if err != nil {
		t.Fatal(err)
	}
	c.End = time.Now().Add(-3 * time.Hour) // another day: the same history
	rb, err := Seed(ctx, b, c, Options{BatchEvents: 777})
	if err != nil {
		t.Fatal(err)
	}
	if ra.Events != rb.Events || ra.Snapshots == 0 {
		t.Fatalf("%d vs %d events, %d snapshots", ra.Events, rb.Events, ra.Snapshots)
	}
	ea, sa := dump(t, ctx, a)
	eb, sb := dump(t, ctx, b)
	if int64(len(ea)) != ra.Events || len(ea) != len(eb) {
		t.Fatalf("stored %d and %d events, seeded %d", len(ea), len(eb), ra.Events)
	}
	for i := range ea {
		if ea[i] != eb[i] {
			t.Fatalf("event %d differs:\n%+v\n%+v", i, ea[i], eb[i])
		}
	}
	if len(sa) != len(sb) || int64(len(sa)) != ra.Snapshots {
		t.Fatalf("snapshots: %d and %d, seeded %d", len(sa), len(sb), ra.Snapshots)
	}
	for k, n := range sa {
		if sb[k] != n {
			t.Fatalf("snapshot %s differs", k)
		}
	}
	// the streams table agrees with the events, versions are contiguous
	evs, _ := dump(t, ctx, a)
	type agg struct{ n, lo, hi int64 }
	per := map[string]*agg{}
	for _, e := range evs {
		g := per[e.stream]
		if g == nil {
			g = &agg{lo: e.version, hi: e.version}
			per[e.stream] = g
		}
		g.n, g.lo, g.hi = g.n+1, min(g.lo, e.version), max(g.hi, e.version)
	}
	listed := 0
	for after := ""; ; {
		l, err := a.ListStreams(ctx, store.ListStreamsOptions{After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range l.Streams {
			g := per[s.StreamID]
			if g == nil || s.EventCount != g.n || s.Version != g.hi || g.lo != 0 || g.hi+1 != g.n {
				t.Fatalf("stream %+v disagrees with its events %+v", s, g)
			}
			listed++
		}
		if after = l.Next; after == "" {
			break
		}
	}
	if listed != len(per) {
		t.Fatalf("%d streams listed, %d have events", listed, len(per))
	}
	// snapshots are what a fold gives
	tt := domain.NewTimeTravel(a, nil, domain.TimeTravelOptions{SnapshotEvery: -1})
	tts := domain.NewTimeTravel(a, nil, domain.TimeTravelOptions{})
	for _, s := range ra.LongStreams {
		for _, v := range []int64{49, 149, 301} {
			x, err1 := tt.StateAt(ctx, s, v)
			y, err2 := tts.StateAt(ctx, s, v)
			if err1 != nil || err2 != nil || string(x.State) != string(y.State) || !y.FromSnapshot {
				t.Fatalf("%s@%d: fold %s vs snapshot %s (%v %v)", s, v, x.State, y.State, err1, err2)
			}
		}
	}
	if _, err := Seed(ctx, a, c, Options{}); !errors.Is(err, ErrSeeded) {
		t.Fatalf("second seed: %v, want ErrSeeded", err)
	}

	// the saga over the seeded history: nothing to add
	saga := domain.NewSaga(domain.NewRepository(a, 0))
	after := store.Start
	// Read until every seeded event went through the saga: a transaction
	// open anywhere on the cluster can hold the log back for a moment, so a
	// short page does not mean the end.
	deadline := time.Now().Add(time.Minute)
	for seen := 0; seen < len(ea); {
		if time.Now().After(deadline) {
			t.Fatalf("read %d of %d seeded events from the global log", seen, len(ea))
		}
		p, err := a.ReadAll(ctx, after, store.ReadAllOptions{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Events {
			var err error
			switch store.Category(e.StreamID) {
			case domain.OrderCategory:
				err = saga.CustomerService(ctx, e)
			case domain.CustomerCategory:
				err = saga.OrderService(ctx, e)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		after = p.Next
		seen += len(p.Events)
		if p.Scanned < 1000 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if now, _ := dump(t, ctx, a); len(now) != len(ea) {
		t.Fatalf("the saga appended %d events to seeded history", len(now)-len(ea))
	}
	// and through the real worker: the read model matches the seeded counts
	w, err := worker.New(a, worker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(wctx) }()
	deadline = time.Now().Add(60 * time.Second)
	for {
		var orders, rejected, shipped, cancelled int
		err := a.Pool().QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status = 'rejected'),
			count(*) FILTER (WHERE status = 'shipped'), count(*) FILTER (WHERE status = 'cancelled') FROM eventscope.order_summary`).
			Scan(&orders, &rejected, &shipped, &cancelled)
		if err != nil {
			t.Fatal(err)
		}
		if orders == ra.Orders && rejected == ra.Rejected && shipped == ra.Shipped && cancelled == ra.Cancelled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("read model: %d orders (%d rejected, %d shipped, %d cancelled), seeded %+v", orders, rejected, shipped, cancelled, ra.Stats)
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	<-done
	if now, _ := dump(t, ctx, a); len(now) != len(ea) {
		t.Fatalf("the worker appended %d events to seeded history", len(now)-len(ea))
	}
}

// TestSeedSealsNames: the seeded customers' names (and those of the long
// streams' snapshots) are stored only encrypted, and read back plain.
func TestSeedSealsNames(t *testing.T) {
	t.Parallel()
	st, ctx := open(t)
	if _, err := Seed(ctx, st, Config{Customers: 20, Orders: 400, LongStreams: 2, SnapshotEvery: 10, Seed: 3}, Options{}); err != nil {
		t.Fatal(err)
	}
	var plain, sealed, snaps, sealedSnaps int
	stored, err := storetest.Stored(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	has := func(obj []byte, key string) bool {
		var m map[string]json.RawMessage
		_ = json.Unmarshal(obj, &m)
		_, ok := m[key]
		return ok
	}
	for _, e := range stored {
		if e.Type != "CustomerRegistered" {
			continue
		}
		if has(e.Data, "name") {
			plain++
		}
		if has(e.Personal, "sealed") {
			sealed++
		}
	}
	if err := st.Pool().QueryRow(ctx, `SELECT
		(SELECT count(*) FROM eventscope.snapshots),
		(SELECT count(*) FROM eventscope.snapshots WHERE personal ? 'sealed' AND NOT state ? 'name')`).Scan(&snaps, &sealedSnaps); err != nil {
		t.Fatal(err)
	}
	if plain != 0 || sealed != 20 || snaps == 0 || sealedSnaps != snaps {
		t.Fatalf("names in plain text: %d events; sealed %d of 20; snapshots %d, sealed %d", plain, sealed, snaps, sealedSnaps)
	}
	evs, err := st.ReadStream(ctx, domain.CustomerStream("0001"), store.ReadStreamOptions{Limit: 1})
	if err != nil || len(evs) != 1 {
		t.Fatal(err)
	}
	var c domain.CustomerRegistered
	if err := json.Unmarshal(evs[0].Data, &c); err != nil || c.Name == "" {
		t.Fatalf("registration reads %s", evs[0].Data)
	}
}
