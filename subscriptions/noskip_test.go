package subscriptions

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// TestNoSkipEndToEnd runs concurrent writers (plain appends, transactions
// that roll back, transactions held open for a while) against live
// subscriptions: a plain Handler, a filtered one, and a TxHandler keeping
// a counter table. Every committed event must reach each of them exactly
// once (no faults are injected, so even the at-least-once handler must not
// see a duplicate), no rolled-back event may, each stream's events must
// arrive in version order, and the counter table must equal the committed
// events exactly.
func TestNoSkipEndToEnd(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	if _, err := b.st.Pool().Exec(ctx, `CREATE TABLE tx_counts (event_id uuid PRIMARY KEY, n int NOT NULL)`); err != nil {
		t.Fatal(err)
	}

	plain, filtered := newRecorder(), newRecorder()
	r := NewRunner(b.st, RunnerOptions{Logf: testLogf(t)})
	must(t, r.Add(Subscription{Name: "plain", Handler: plain.handle, BatchSize: 50}))
	must(t, r.Add(Subscription{Name: "filtered", Categories: []string{"beta"}, Types: []string{"Even"}, Handler: filtered.handle, BatchSize: 20}))
	must(t, r.Add(Subscription{Name: "tx", BatchSize: 30, TxHandler: func(ctx context.Context, tx pgx.Tx, e store.Event) error {
		_, err := tx.Exec(ctx, `INSERT INTO tx_counts (event_id, n) VALUES ($1, 1) ON CONFLICT (event_id) DO UPDATE SET n = tx_counts.n + 1`, e.EventID)
		return err
	}}))
	run(t, r)

	var (
		mu        sync.Mutex
		committed = map[uuid.UUID]store.NewEvent{}
		streamOf  = map[uuid.UUID]string{}
		rolled    = map[uuid.UUID]bool{}
	)
	record := func(stream string, evs []store.NewEvent, ok bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range evs {
			if ok {
				committed[e.ID] = e
				streamOf[e.ID] = stream
			} else {
				rolled[e.ID] = true
			}
		}
	}
	newEvents := func(rng *rand.Rand, n int) []store.NewEvent {
		evs := make([]store.NewEvent, n)
		for i := range evs {
			typ := "Odd"
			if rng.IntN(2) == 0 {
				typ = "Even"
			}
			evs[i] = store.NewEvent{ID: uuid.New(), Type: typ, Data: []byte(fmt.Sprintf(`{"i":%d}`, i))}
		}
		return evs
	}

	const writers = 6
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			cats := []string{"alpha", "beta"}
			for i := 0; time.Now().Before(deadline); i++ {
				stream := fmt.Sprintf("%s-%d", cats[rng.IntN(2)], rng.IntN(8))
				evs := newEvents(rng, 1+rng.IntN(3))
				switch k := rng.IntN(10); {
				case k < 6: // a plain append
					_, err := b.st.Append(ctx, stream, store.Any, evs...)
					if err != nil {
						t.Errorf("append: %v", err)
						return
					}
					record(stream, evs, true)
				default: // in a transaction, held open, then committed or rolled back
					tx, err := b.st.Pool().Begin(ctx)
					if err != nil {
						t.Errorf("begin: %v", err)
						return
					}
					if _, err := b.st.AppendTx(ctx, tx, stream, store.Any, evs...); err != nil {
						_ = tx.Rollback(ctx)
						if isSerialization(err) {
							continue // the store refuses an out-of-order write; nothing was stored
						}
						t.Errorf("append in tx: %v", err)
						return
					}
					hold := time.Duration(rng.IntN(20)) * time.Millisecond
					if k == 9 {
						hold = 150 * time.Millisecond // a long-open transaction
					}
					time.Sleep(hold)
					if k == 8 {
						_ = tx.Rollback(ctx)
						record(stream, evs, false)
						continue
					}
					if err := tx.Commit(ctx); err != nil {
						if isSerialization(err) {
							record(stream, evs, false)
							continue
						}
						t.Errorf("commit: %v", err)
						return
					}
					b.st.Wake(store.Category(stream))
					record(stream, evs, true)
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	mu.Lock()
	total := len(committed)
	wantFiltered := 0
	for id, e := range committed {
		if store.Category(streamOf[id]) == "beta" && e.Type == "Even" {
			wantFiltered++
		}
	}
	mu.Unlock()
	t.Logf("%d events committed, %d rolled back, %d for the filtered subscription", total, len(rolled), wantFiltered)
	if len(rolled) == 0 {
		t.Fatal("no transaction rolled back: the test did not exercise rollbacks")
	}

	waitFor(t, "every committed event delivered", time.Minute, func() bool {
		var n int
		_ = b.st.Pool().QueryRow(ctx, `SELECT count(*) FROM tx_counts`).Scan(&n)
		return plain.distinct() >= total && filtered.distinct() >= wantFiltered && n >= total
	})
	// Give stragglers (duplicates, rolled-back events) a chance to show up.
	time.Sleep(300 * time.Millisecond)

	check := func(name string, rec *recorder, want func(uuid.UUID) bool, n int) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if len(rec.order) != n || len(rec.seen) != n {
			t.Errorf("%s: %d deliveries of %d distinct events, want %d of %d", name, len(rec.order), len(rec.seen), n, n)
		}
		last := map[string]int64{}
		for _, e := range rec.order {
			if _, ok := committed[e.EventID]; !ok || !want(e.EventID) {
				t.Errorf("%s: delivered %s (rolled back: %v), which it should not see", name, describeEvent(e), rolled[e.EventID])
			}
			if v, ok := last[e.StreamID]; ok && e.Version <= v {
				t.Errorf("%s: %s@%d after version %d", name, e.StreamID, e.Version, v)
			}
			last[e.StreamID] = e.Version
		}
	}
	mu.Lock()
	defer mu.Unlock()
	check("plain", plain, func(uuid.UUID) bool { return true }, total)
	check("filtered", filtered, func(id uuid.UUID) bool {
		return store.Category(streamOf[id]) == "beta" && committed[id].Type == "Even"
	}, wantFiltered)

	rows, err := b.st.Pool().Query(ctx, `SELECT event_id, n FROM tx_counts`)
	must(t, err)
	counts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
		ID uuid.UUID
		N  int
	}])
	must(t, err)
	if len(counts) != total {
		t.Errorf("tx_counts has %d rows, want %d", len(counts), total)
	}
	for _, c := range counts {
		if _, ok := committed[c.ID]; !ok || c.N != 1 {
			t.Errorf("tx_counts: event %s counted %d times (committed: %v)", c.ID, c.N, ok)
		}
	}
	s, err := b.adm.Get(ctx, "tx")
	must(t, err)
	if s.Processed != int64(total) {
		t.Errorf("tx subscription processed = %d, want %d", s.Processed, total)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
