package domain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"eventscope/internal/testdb"
	"eventscope/store"
)

func setup(t testing.TB) (*store.Store, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return testdb.Store(t), ctx
}

// loadCustomerHistory bulk-loads a customer stream of n events: registered,
// then reservations and releases, recorded one minute apart from base.
func loadCustomerHistory(t testing.TB, ctx context.Context, st *store.Store, stream string, n int, base time.Time) {
	t.Helper()
	var evs []store.BulkEvent
	add := func(e Event) {
		data, _ := json.Marshal(e)
		evs = append(evs, store.BulkEvent{ID: NameID(fmt.Sprintf("%s/%d", stream, len(evs))), Type: e.EventType(), Data: data,
			RecordedAt: base.Add(time.Duration(len(evs)) * time.Minute)})
	}
	// like a key account: every reservation is released (shipped or
	// cancelled) about 30 orders later, so a few dozen are open at a time
	add(CustomerRegistered{Name: "Big Corp", CreditLimit: 1_000_000})
	for i := 0; len(evs) < n; i++ {
		o := fmt.Sprintf("o%d", i)
		if i%10 == 9 {
			add(CreditLimitExceeded{OrderID: o, Amount: 2_000_000, Available: 900_000})
		} else {
			add(CreditReserved{OrderID: o, Amount: int64(100 + i%50)})
		}
		if j := i - 30; j >= 0 && j%10 != 9 && len(evs) < n {
			add(CreditReleased{OrderID: fmt.Sprintf("o%d", j), Amount: int64(100 + j%50)})
		}
	}
	if _, err := st.BulkLoad(ctx, []store.BulkStream{{StreamID: stream, Events: evs}}, store.BulkOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestTimeTravelSnapshotsAgree: every version's state is the same with
// snapshots off, with lazily written snapshots, and read back from them;
// the producing event is the one at that version.
func TestTimeTravelSnapshotsAgree(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	const n = 1234
	base := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	loadCustomerHistory(t, ctx, st, "customer-big", n, base)

	plain := NewTimeTravel(st, nil, TimeTravelOptions{SnapshotEvery: -1})
	snap := NewTimeTravel(st, nil, TimeTravelOptions{SnapshotEvery: 50})
	// first visit of the last version folds everything and writes the snapshots it passed
	last, err := snap.StateAt(ctx, "customer-big", n-1)
	if err != nil {
		t.Fatal(err)
	}
	if last.FromSnapshot || last.EventsFolded != n {
		t.Fatalf("first visit: from snapshot %v, folded %d", last.FromSnapshot, last.EventsFolded)
	}
	var count int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM eventscope.snapshots WHERE stream_id = 'customer-big'`).Scan(&count); err != nil || count != n/50 {
		t.Fatalf("lazy snapshots = %d, %v; want %d", count, err, n/50)
	}
	for v := int64(0); v < n; v += 7 {
		a, err := plain.StateAt(ctx, "customer-big", v)
		if err != nil {
			t.Fatal(err)
		}
		b, err := snap.StateAt(ctx, "customer-big", v)
		if err != nil {
			t.Fatal(err)
		}
		if string(a.State) != string(b.State) || a.Event.EventID != b.Event.EventID || a.Event.Version != v {
			t.Fatalf("version %d differs:\nplain    %s (event %d)\nsnapshot %s (event %d)", v, a.State, a.Event.Version, b.State, b.Event.Version)
		}
		if a.FromSnapshot || a.EventsFolded != int(v+1) {
			t.Fatalf("plain fold at %d: snapshot %v, folded %d", v, a.FromSnapshot, a.EventsFolded)
		}
		if v >= 49 && (!b.FromSnapshot || b.EventsFolded >= 50) {
			t.Fatalf("snapshot fold at %d: snapshot %v at %d, folded %d", v, b.FromSnapshot, b.SnapshotVersion, b.EventsFolded)
		}
		if a.Aggregate != "Customer" || a.Generic || a.LastVersion != n-1 {
			t.Fatalf("labels: %+v", a)
		}
	}
	// A transition equals the diff of the two states around it.
	for _, v := range []int64{0, 1, 49, 50, 51, 100, n - 1} {
		tr, err := snap.TransitionAt(ctx, "customer-big", v)
		if err != nil {
			t.Fatal(err)
		}
		var before json.RawMessage
		if v == 0 {
			before, _ = json.Marshal(NewCustomer("big"))
		} else {
			p, err := plain.StateAt(ctx, "customer-big", v-1)
			if err != nil {
				t.Fatal(err)
			}
			before = p.State
		}
		after, _ := plain.StateAt(ctx, "customer-big", v)
		if string(tr.Before) != string(before) || string(tr.After.State) != string(after.State) {
			t.Fatalf("transition %d: before %s / %s", v, tr.Before, before)
		}
		if len(tr.Changes) == 0 {
			t.Fatalf("transition %d changed nothing", v)
		}
	}
	// by time: the event recorded at base+10m is version 10
	s, err := snap.StateAtTime(ctx, "customer-big", base.Add(10*time.Minute+30*time.Second))
	if err != nil || s.Version != 10 {
		t.Fatalf("StateAtTime = version %d, %v; want 10", s.Version, err)
	}
}

// TestSnapshotSchemaVersionChange: snapshots of another schema version are
// ignored (even when they hold garbage) and rebuilt.
func TestSnapshotSchemaVersionChange(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	loadCustomerHistory(t, ctx, st, "customer-x", 300, time.Now().Add(-time.Hour))
	v1 := NewTimeTravel(st, nil, TimeTravelOptions{})
	want, err := v1.StateAt(ctx, "customer-x", 250)
	if err != nil {
		t.Fatal(err)
	}
	// poison the schema-1 snapshots: anyone still reading them gets wrong state
	if _, err := st.Pool().Exec(ctx, `UPDATE eventscope.snapshots SET state = '{"id":"x","creditLimit":-1}' WHERE stream_id = 'customer-x'`); err != nil {
		t.Fatal(err)
	}
	poisoned, _ := v1.StateAt(ctx, "customer-x", 250)
	if !poisoned.FromSnapshot || !strings.Contains(string(poisoned.State), `"creditLimit":-1`) {
		t.Fatalf("schema 1 did not use its snapshot: %s", poisoned.State)
	}
	reg := NewRegistry()
	bumped := CustomerType
	bumped.SchemaVersion = 2
	if err := reg.Register(bumped); err != nil {
		t.Fatal(err)
	}
	v2 := NewTimeTravel(st, reg, TimeTravelOptions{})
	got, err := v2.StateAt(ctx, "customer-x", 250)
	if err != nil {
		t.Fatal(err)
	}
	if got.FromSnapshot || string(got.State) != string(want.State) {
		t.Fatalf("schema 2 used a schema-1 snapshot: from snapshot %v, %s", got.FromSnapshot, got.State)
	}
	again, _ := v2.StateAt(ctx, "customer-x", 250)
	if !again.FromSnapshot || again.SnapshotVersion != 199 || string(again.State) != string(want.State) {
		t.Fatalf("schema 2 snapshots were not rebuilt: %+v", again)
	}
	// the repository ignores them the same way
	a, v, err := NewRepository(st, 0).Load(ctx, bumped, "customer-x")
	if err != nil || v != 299 || a.(*Customer).CreditLimit != 1_000_000 {
		t.Fatalf("repository load with schema 2: %+v, %d, %v", a, v, err)
	}
}

// TestTimeTravelGenericAndErrors: an unregistered category gets the labelled
// merge-patch fold; bad versions, times and streams give clear errors.
func TestTimeTravelGenericAndErrors(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	for _, d := range []string{`{"name":"x","plan":"free","tags":["a"]}`, `{"plan":"pro","tags":null}`, `{"seats":3}`} {
		if _, err := st.Append(ctx, "account-1", store.Any, store.NewEvent{Type: "AccountChanged", Data: json.RawMessage(d)}); err != nil {
			t.Fatal(err)
		}
	}
	tt := NewTimeTravel(st, nil, TimeTravelOptions{})
	s, err := tt.StateAt(ctx, "account-1", 2)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Generic || s.Aggregate != "generic" || string(s.State) != `{"name":"x","plan":"pro","seats":3}` {
		t.Fatalf("generic fold: %+v %s", s, s.State)
	}
	tr, err := tt.TransitionAt(ctx, "account-1", 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"plan changed", "tags removed"}
	if len(tr.Changes) != 2 || tr.Changes[0].Path+" "+string(tr.Changes[0].Kind) != want[0] || tr.Changes[1].Path+" "+string(tr.Changes[1].Kind) != want[1] {
		t.Fatalf("changes %+v", tr.Changes)
	}
	if _, err := tt.StateAt(ctx, "account-1", 3); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "last version is 2") {
		t.Fatalf("past the end: %v", err)
	}
	if _, err := tt.StateAt(ctx, "account-1", -1); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("negative: %v", err)
	}
	if _, err := tt.StateAt(ctx, "nope-1", 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown stream: %v", err)
	}
	if _, err := tt.StateAtTime(ctx, "account-1", time.Now().Add(-time.Hour)); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "first event was recorded") {
		t.Fatalf("before the first event: %v", err)
	}
	if _, err := tt.StateAtTime(ctx, "nope-1", time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown stream by time: %v", err)
	}
}
