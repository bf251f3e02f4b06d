package store_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// TestNoSkip: 16 writers append concurrently, some transactions roll back and
// some are held open for over a second, while a reader resumes ReadAll from
// its last checkpoint in a loop. The reader must see every committed event
// exactly once, no rolled-back event, each stream's events in version order,
// and strictly increasing checkpoints.
func TestNoSkip(t *testing.T) {
	t.Parallel()
	st, ctx := setupPrivate(t)
	const writers = 16
	// Writers run for 3 s and then on until there is enough traffic to
	// mean something (a loaded machine commits far fewer), up to a minute.
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
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for i := 0; going(); i++ {
				// Half the writers share 4 streams, so stream order is
				// tested across transactions too.
				stream := fmt.Sprintf("order-w%d", w)
				if w%2 == 0 {
					stream = fmt.Sprintf("shared-%d", rng.IntN(4))
				}
				n := 1 + rng.IntN(3)
				batch := make([]store.NewEvent, n)
				for j := range batch {
					batch[j] = store.NewEvent{ID: uuid.New(), Type: "Tick", Data: json.RawMessage(fmt.Sprintf(`{"w":%d,"i":%d}`, w, i))}
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
				case roll < 10: // roll back
					tx.Rollback(ctx)
					mu.Lock()
					for _, e := range batch {
						rolledBack[e.ID] = true
					}
					mu.Unlock()
					continue
				case roll < 13: // hold the transaction open past a second
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
		}(w)
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
		if p.Next != cp {
			t.Fatalf("page next %s, last event %s", p.Next, cp)
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
	if len(committed) < 500 || len(rolledBack) == 0 {
		t.Fatalf("too little traffic to mean anything: %d committed, %d rolled back", len(committed), len(rolledBack))
	}
	t.Logf("%d committed events delivered exactly once in order; %d rolled back never delivered", len(committed), len(rolledBack))
}

// TestConcurrentExactVersions: writers race for each version of one stream
// with exact expected versions. Exactly one wins each version; the others get
// a conflict that carries the actual version; nothing deadlocks.
func TestConcurrentExactVersions(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const writers, target = 8, 200
	var (
		mu        sync.Mutex
		wins      = map[int64]int{}
		conflicts int
		wg        sync.WaitGroup
		fail      = make(chan error, writers)
	)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				exp := store.NoStream
				if info, err := st.StreamInfo(ctx, "race-1"); err == nil {
					if info.Version >= target-1 {
						return
					}
					exp = store.Exact(info.Version)
				} else if !errors.Is(err, store.ErrNotFound) {
					fail <- err
					return
				}
				v, err := st.Append(ctx, "race-1", exp, ev("Step", fmt.Sprintf(`{"w":%d}`, w)))
				var ce *store.ConflictError
				switch {
				case err == nil:
					mu.Lock()
					wins[v]++
					mu.Unlock()
				case errors.As(err, &ce):
					if int64(ce.Actual) <= int64(exp) && exp != store.NoStream {
						fail <- fmt.Errorf("conflict for expected %s reports actual %d", exp, ce.Actual)
						return
					}
					mu.Lock()
					conflicts++
					mu.Unlock()
				default:
					fail <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(fail)
	for err := range fail {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("writers did not finish: deadlock?")
	}
	for v := int64(0); v < target; v++ {
		if wins[v] != 1 {
			t.Fatalf("version %d won %d times", v, wins[v])
		}
	}
	evs, err := st.ReadStream(ctx, "race-1", store.ReadStreamOptions{Limit: 1000})
	if err != nil || len(evs) < target {
		t.Fatalf("stream has %d events: %v", len(evs), err)
	}
	t.Logf("%d versions, each won once; %d conflicts reported", target, conflicts)
}

// TestKilledWriterLeavesNothing: a process killed (SIGKILL) in the middle of
// a transaction that appended a batch leaves no event and no stream behind.
func TestKilledWriterLeavesNothing(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	mustAppend(t, st, "order-keep", store.Any, ev("OrderPlaced", `{}`))

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperKilledWriter$")
	cmd.Env = append(os.Environ(), "ES_HELPER_KILLED_WRITER="+st.Pool().Config().ConnConfig.ConnString())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "appended" {
				ready <- sc.Text()
			}
		}
		close(ready)
	}()
	select {
	case _, ok := <-ready:
		if !ok {
			t.Fatal("helper exited before appending")
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("helper did not append")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	// Once the server notices, the lock is free and nothing is left: a
	// no-stream append succeeds (it would block or conflict otherwise).
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := st.Append(actx, "order-killed", store.NoStream, ev("Fresh", `{}`)); err != nil {
		t.Fatalf("append after the kill: %v", err)
	}
	evs, _ := st.ReadStream(ctx, "order-killed", store.ReadStreamOptions{})
	if len(evs) != 1 || evs[0].Type != "Fresh" {
		t.Fatalf("the killed writer left events: %+v", evs)
	}
	visible(t, st, 2)
}

// TestHelperKilledWriter is the subprocess of TestKilledWriterLeavesNothing.
func TestHelperKilledWriter(t *testing.T) {
	url := os.Getenv("ES_HELPER_KILLED_WRITER")
	if url == "" {
		t.Skip("subprocess helper")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, url, store.Options{NoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	batch := make([]store.NewEvent, 100)
	for i := range batch {
		batch[i] = ev("Partial", fmt.Sprintf(`{"i":%d}`, i))
	}
	if _, err := st.AppendTx(ctx, tx, "order-killed", store.NoStream, batch...); err != nil {
		t.Fatal(err)
	}
	fmt.Println("appended")
	time.Sleep(time.Minute) // killed here
}

// TestWakeUpAfterCommit: an append through the Go client wakes a listener,
// with the category as payload, after it commits.
func TestWakeUpAfterCommit(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	conn, err := pgx.Connect(ctx, st.Pool().Config().ConnConfig.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "LISTEN "+store.NotifyChannel); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, st, "order-1", store.Any, ev("OrderPlaced", `{}`))
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n, err := conn.WaitForNotification(wctx)
	if err != nil {
		t.Fatal(err)
	}
	if n.Channel != store.NotifyChannel || n.Payload != "order" {
		t.Fatalf("notification %+v", n)
	}
	// A plain SQL append notifies in its transaction only when the session
	// opts in (TestSQLAppendDoesNotNotify covers the default).
	if _, err := conn.Exec(ctx, `SET eventscope.notify = 'on'`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SELECT eventscope.append('invoice-1', NULL, '[{"type":"A","data":{}}]')`); err != nil {
		t.Fatal(err)
	}
	n, err = conn.WaitForNotification(wctx)
	if err != nil || n.Payload != "invoice" {
		t.Fatalf("SQL append notification %+v %v", n, err)
	}
}
