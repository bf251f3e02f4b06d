package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"eventscope/internal/testdb"
	"eventscope/store"
)

// TestGroupCommitOutcomes: concurrent Appends share batches, and each keeps
// its own outcome: a conflict, a closed stream or a duplicate id (which only
// the server spots, so its batch raises and is appended one by one) fails
// only its own call.
func TestGroupCommitOutcomes(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	mustAppend(t, st, "closed-1", store.Any, ev("A", `{}`))
	if err := st.CloseStream(ctx, "closed-1"); err != nil {
		t.Fatal(err)
	}
	dupID := uuid.New()
	mustAppend(t, st, "dup-1", store.Any, store.NewEvent{ID: dupID, Type: "A", Data: json.RawMessage(`{"a":1}`)})

	const writers, rounds = 16, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("gc-%d", w)
			next := store.NoStream
			for i := range rounds {
				var err error
				switch (w + i) % 8 {
				case 1: // a stale expected version: fails alone
					_, err = st.Append(ctx, stream, store.Exact(1_000_000), ev("Stale", `{}`))
					if !errors.Is(err, store.ErrConflict) {
						errs <- fmt.Errorf("stale append: %v, want a conflict", err)
						return
					}
					var ce *store.ConflictError
					if !errors.As(err, &ce) || ce.Stream != stream || ce.Actual != int64(next) {
						errs <- fmt.Errorf("conflict %+v, want stream %s actual %d", ce, stream, next)
						return
					}
				case 3:
					if _, err = st.Append(ctx, "closed-1", store.Any, ev("A", `{}`)); !errors.Is(err, store.ErrStreamClosed) {
						errs <- fmt.Errorf("closed append: %v", err)
						return
					}
				case 5:
					_, err = st.Append(ctx, "dup-1", store.Any, store.NewEvent{ID: dupID, Type: "A", Data: json.RawMessage(`{"a":2}`)})
					if !errors.Is(err, store.ErrDuplicateEvent) {
						errs <- fmt.Errorf("duplicate append: %v", err)
						return
					}
				}
				v, err := st.Append(ctx, stream, next, ev("Tick", fmt.Sprintf(`{"i":%d}`, i)))
				if err != nil {
					errs <- fmt.Errorf("writer %d round %d: %w", w, i, err)
					return
				}
				next = store.Exact(v)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := range writers {
		info, err := st.StreamInfo(ctx, fmt.Sprintf("gc-%d", w))
		if err != nil {
			t.Fatal(err)
		}
		if info.Version != rounds-1 {
			t.Fatalf("gc-%d at version %d, want %d", w, info.Version, rounds-1)
		}
	}
	batches, calls := st.GroupCommits()
	t.Logf("%d group commits carried %d calls", batches, calls)
	if batches == 0 || calls < 2*batches {
		t.Fatalf("no grouping happened: %d batches, %d calls", batches, calls)
	}
}

// TestGroupCommitNoSkip is TestNoSkip with half the writers appending
// through group commit (to their own streams and to streams shared with
// the transactional writers, whose rollbacks and transactions held open
// past a second make the batches meet busy streams): the reader sees every
// committed event exactly once, in stream order, no rolled-back one.
func TestGroupCommitNoSkip(t *testing.T) {
	t.Parallel()
	st, ctx := setupPrivate(t)
	const writers = 16
	// 3 s, then on until there is enough traffic (a loaded machine commits
	// far fewer), up to a minute: load changes the length, not the verdict.
	deadline, hardDeadline := time.Now().Add(3*time.Second), time.Now().Add(time.Minute)

	var (
		mu         sync.Mutex
		committed  = map[uuid.UUID]bool{}
		rolledBack = map[uuid.UUID]bool{}
		wg         sync.WaitGroup
		writerErr  = make(chan error, writers)
	)
	going := func() bool {
		now := time.Now()
		if now.Before(deadline) {
			return true
		}
		mu.Lock()
		defer mu.Unlock()
		return now.Before(hardDeadline) && (len(committed) < 600 || len(rolledBack) == 0)
	}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; going(); i++ {
				stream := fmt.Sprintf("own-w%d", w)
				if rng.IntN(2) == 0 {
					stream = fmt.Sprintf("shared-%d", rng.IntN(4))
				}
				batch := make([]store.NewEvent, 1+rng.IntN(3))
				for j := range batch {
					batch[j] = store.NewEvent{ID: uuid.New(), Type: "Tick", Data: json.RawMessage(fmt.Sprintf(`{"w":%d,"i":%d}`, w, i))}
				}
				if w%2 == 0 { // group commit
					if _, err := st.Append(ctx, stream, store.Any, batch...); err != nil {
						writerErr <- fmt.Errorf("writer %d: %w", w, err)
						return
					}
					mu.Lock()
					for _, e := range batch {
						committed[e.ID] = true
					}
					mu.Unlock()
					continue
				}
				tx, err := st.Pool().Begin(ctx)
				if err != nil {
					writerErr <- err
					return
				}
				if _, err := st.AppendTx(ctx, tx, stream, store.Any, batch...); err != nil {
					tx.Rollback(ctx)
					writerErr <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				roll := rng.IntN(100)
				switch {
				case roll < 10:
					tx.Rollback(ctx)
					mu.Lock()
					for _, e := range batch {
						rolledBack[e.ID] = true
					}
					mu.Unlock()
					continue
				case roll < 13:
					time.Sleep(time.Second + time.Duration(rng.IntN(300))*time.Millisecond)
				}
				if err := tx.Commit(ctx); err != nil {
					writerErr <- err
					return
				}
				mu.Lock()
				for _, e := range batch {
					committed[e.ID] = true
				}
				mu.Unlock()
			}
		}()
	}
	writersDone := make(chan struct{})
	go func() { wg.Wait(); close(writersDone) }()

	seen := map[uuid.UUID]bool{}
	lastVersion := map[string]int64{}
	cp := store.Start
	read := func() int {
		p, err := st.ReadAll(ctx, cp, store.ReadAllOptions{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Events {
			if !cp.Less(e.Checkpoint) {
				t.Fatalf("checkpoint %s not after %s", e.Checkpoint, cp)
			}
			cp = e.Checkpoint
			if seen[e.EventID] {
				t.Fatalf("event %s delivered twice", e.EventID)
			}
			seen[e.EventID] = true
			want, ok := lastVersion[e.StreamID]
			if !ok {
				want = -1
			}
			if e.Version != want+1 {
				t.Fatalf("%s: version %d after %d", e.StreamID, e.Version, want)
			}
			lastVersion[e.StreamID] = e.Version
		}
		return len(p.Events)
	}
	for done := false; !done; {
		select {
		case <-writersDone:
			done = true
		default:
		}
		if read() == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	close(writerErr)
	for err := range writerErr {
		t.Fatal(err)
	}
	for read() > 0 {
	}
	mu.Lock()
	defer mu.Unlock()
	for id := range rolledBack {
		if seen[id] {
			t.Fatalf("rolled-back event %s was delivered", id)
		}
	}
	missing := 0
	for id := range committed {
		if !seen[id] {
			missing++
		}
	}
	if missing > 0 || len(seen) != len(committed) {
		t.Fatalf("committed %d, delivered %d, missing %d", len(committed), len(seen), missing)
	}
	batches, calls := st.GroupCommits()
	if len(committed) < 500 || len(rolledBack) == 0 || batches == 0 {
		t.Fatalf("too little traffic to mean anything: %d committed, %d rolled back, %d group commits", len(committed), len(rolledBack), batches)
	}
	t.Logf("%d committed delivered exactly once in order; %d rolled back; %d group commits carried %d calls", len(committed), len(rolledBack), batches, calls)
}

// TestGroupCommitHeldStream: a transaction holding a stream's lock (it
// appended with AppendTx and stays open) does not hold back group-committed
// appends to other streams, even ones sent in the same batch as an append
// to the held stream; that append waits, then commits after the holder.
func TestGroupCommitHeldStream(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	tx, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := st.AppendTx(ctx, tx, "held-1", store.Any, ev("A", `{}`)); err != nil {
		t.Fatal(err)
	}
	heldDone := make(chan error, 1)
	go func() {
		_, err := st.Append(ctx, "held-1", store.Any, ev("B", `{}`))
		heldDone <- err
	}()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if _, err := st.Append(ctx, fmt.Sprintf("free-%d", w), store.Any, ev("C", fmt.Sprintf(`{"i":%d}`, i))); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-heldDone:
		t.Fatalf("the append to the held stream finished before its holder: %v", err)
	default:
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-heldDone; err != nil {
		t.Fatal(err)
	}
	evs, err := st.ReadStream(ctx, "held-1", store.ReadStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Type != "A" || evs[1].Type != "B" {
		t.Fatalf("held-1 holds %v", evs)
	}
}

// TestGroupCommitOff: with NoGroupCommit every Append goes alone.
func TestGroupCommitOff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, testdb.URL(t), store.Options{NoGroupCommit: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if _, err := st.Append(ctx, fmt.Sprintf("off-%d", w), store.Any, ev("A", `{}`)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if b, _ := st.GroupCommits(); b != 0 {
		t.Fatalf("%d group commits with group commit off", b)
	}
}
