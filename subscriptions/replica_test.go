package subscriptions

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"eventscope/internal/testdb"
	"eventscope/store"
)

// standbyPair is a primary and a hot standby of it (a real streaming
// replica), with a store on each.
func standbyPair(t *testing.T) (primary, standby *store.Store) {
	t.Helper()
	pURL, sURL := testdb.Replica(t)
	return testdb.Open(t, pURL, store.Options{}), testdb.Open(t, sURL, store.Options{NoMigrate: true, NoNotify: true})
}

// TestStandbyReads runs a subscription that reads the log from a hot
// standby while 8 writers append on the primary, some of them in
// transactions held open while later ones commit (so their events commit
// "late", below positions already visible): every event is delivered
// exactly once, each stream in order; checkpoints are on the primary; the
// replica lag is reported.
func TestStandbyReads(t *testing.T) {
	t.Parallel()
	primary, standby := standbyPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var (
		mu   sync.Mutex
		got  = map[uuid.UUID]int{}
		last = map[string]int64{}
		bad  []string
	)
	r := NewRunner(primary, RunnerOptions{ReadStore: standby, Logf: t.Logf})
	if err := r.Add(Subscription{Name: "from-standby", Handler: func(_ context.Context, e store.Event) error {
		mu.Lock()
		defer mu.Unlock()
		got[e.EventID]++
		if v, ok := last[e.StreamID]; ok && e.Version != v+1 {
			bad = append(bad, fmt.Sprintf("%s@%d after %d", e.StreamID, e.Version, v))
		}
		last[e.StreamID] = e.Version
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	const writers, each = 8, 150
	var (
		wg  sync.WaitGroup
		ids = make([][]uuid.UUID, writers)
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := uuid.New()
				ev := store.NewEvent{ID: id, Type: "Appended", Data: json.RawMessage(`{}`)}
				stream := fmt.Sprintf("order-%d", w)
				if i%25 == 0 { // a late commit: open, append, let others commit, then commit
					tx, err := primary.Pool().Begin(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					if _, err := primary.AppendTx(ctx, tx, stream, store.Any, ev); err != nil {
						t.Error(err)
						return
					}
					time.Sleep(30 * time.Millisecond)
					if err := tx.Commit(ctx); err != nil {
						t.Error(err)
						return
					}
				} else if _, err := primary.Append(ctx, stream, store.Any, ev); err != nil {
					t.Error(err)
					return
				}
				ids[w] = append(ids[w], id)
			}
		}()
	}
	wg.Wait()
	total := writers * each
	deadline := time.Now().Add(2 * time.Minute)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events delivered from the standby", n, total)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, ws := range ids {
		for _, id := range ws {
			if got[id] != 1 {
				t.Fatalf("event %s delivered %d times", id, got[id])
			}
		}
	}
	if len(bad) > 0 {
		t.Fatalf("out of order: %v", bad)
	}
	lag, err := ReplicaLag(ctx, primary, standby)
	if err != nil || !lag.InRecovery || lag.ReplayLSN == "" || lag.LagBytes < 0 {
		t.Fatalf("ReplicaLag: %+v, %v", lag, err)
	}
	t.Logf("replica: %s", lag)
	// The checkpoint lives on the primary (the standby is read-only).
	s, err := NewAdmin(primary).Get(ctx, "from-standby")
	if err != nil || s.Checkpoint.IsZero() {
		t.Fatalf("checkpoint on the primary: %+v, %v", s, err)
	}
}

// TestFollowStandby: Follow on a standby with the primary for wake-ups
// delivers events appended on the primary; without it, it polls and never
// tries LISTEN on the standby (which refuses it during recovery, an error
// that used to be logged every few seconds).
func TestFollowStandby(t *testing.T) {
	t.Parallel()
	primary, standby := standbyPair(t)
	for _, withPrimary := range []bool{true, false} {
		t.Run(fmt.Sprintf("primary=%v", withPrimary), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			from, err := primary.Head(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var logMu sync.Mutex
			var logs []string
			o := FollowOptions{PollInterval: 200 * time.Millisecond, Logf: func(f string, a ...any) {
				logMu.Lock()
				logs = append(logs, fmt.Sprintf(f, a...))
				logMu.Unlock()
			}}
			if withPrimary {
				o.Primary = primary
			}
			const n = 30
			want := map[uuid.UUID]bool{}
			go func() {
				for i := range n {
					id := uuid.New()
					if _, err := primary.Append(ctx, fmt.Sprintf("order-%d", i%3), store.Any, store.NewEvent{ID: id, Type: "Followed", Data: json.RawMessage(`{}`)}); err != nil {
						t.Error(err)
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}()
			seen := 0
			errDone := fmt.Errorf("done")
			err = Follow(ctx, standby, from, o, func(evs []store.Event) error {
				for _, e := range evs {
					if e.Type == "Followed" && !want[e.EventID] {
						want[e.EventID] = true
						seen++
					}
				}
				if seen >= n {
					return errDone
				}
				return nil
			})
			if err != errDone {
				t.Fatalf("Follow: %v after %d events", err, seen)
			}
			logMu.Lock()
			defer logMu.Unlock()
			for _, l := range logs {
				if strings.Contains(l, "LISTEN") && strings.Contains(l, "recovery") {
					t.Fatalf("tried LISTEN on the standby: %q", l)
				}
			}
			t.Logf("logs: %q", logs)
		})
	}
}
