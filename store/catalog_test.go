package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"eventscope/store"
)

func typeInfo(t *testing.T, types []store.TypeInfo, name string) store.TypeInfo {
	t.Helper()
	i := slices.IndexFunc(types, func(ti store.TypeInfo) bool { return ti.Type == name })
	if i < 0 {
		t.Fatalf("type %s not in the catalog", name)
	}
	return types[i]
}

// catalogSees advances the catalog until it has folded n events (the global
// log may be held back briefly by other tests' transactions).
func catalogSees(t *testing.T, st *store.Store, n int64) []store.TypeInfo {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		types, state, err := st.CatalogTypes(context.Background(), store.CatalogOptions{BatchEvents: 7})
		if err != nil {
			t.Fatal(err)
		}
		if state.Events >= n || time.Now().After(deadline) {
			if state.Events != n {
				t.Fatalf("the catalog folded %d events, want %d", state.Events, n)
			}
			return types
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCatalogShapeAndDrift(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	app := func(stream, typ, data string) {
		t.Helper()
		if _, err := st.Append(ctx, stream, store.Any, store.NewEvent{Type: typ, Data: json.RawMessage(data)}); err != nil {
			t.Fatal(err)
		}
	}
	app("order-1", "OrderPlaced", `{"total": 10, "lines": [{"sku": "A", "qty": 1}, {"sku": "B"}], "note": "x"}`)
	app("order-2", "OrderPlaced", `{"total": 20, "lines": [{"sku": "C", "qty": 2}], "note": "y"}`)
	app("order-3", "OrderPlaced", `{"total": "30", "lines": [], "channel": "web"}`) // total changes type, note disappears, channel appears
	app("order-4", "OrderPlaced", `{"total": 40, "lines": [{"sku": "D", "qty": 1}], "channel": "app", "a b": {"c.d": true}}`)
	app("audit-1", "Odd", `{"v": 1}`)
	types := catalogSees(t, st, 5)
	op := typeInfo(t, types, "OrderPlaced")
	if op.Count != 4 || len(op.Categories) != 1 || op.Categories[0] != (store.CategoryShare{Category: "order", Count: 4}) {
		t.Fatalf("OrderPlaced: %+v", op)
	}
	fields := map[string]store.FieldInfo{}
	var paths []string
	for _, f := range op.Fields {
		fields[f.Path] = f
		paths = append(paths, f.Path)
	}
	want := []string{`"a b"`, `"a b"."c.d"`, "channel", "lines", "lines[]", "lines[].qty", "lines[].sku", "note", "total"}
	if !slices.Equal(paths, want) {
		t.Fatalf("paths %q, want %q", paths, want)
	}
	if f := fields["total"]; f.Presence != 1 || f.Types["number"] != 0.75 || f.Types["string"] != 0.25 || len(f.Examples) != 3 {
		t.Fatalf("total: %+v", f)
	}
	if f := fields["lines[].qty"]; f.Presence != 0.75 || f.Types["number"] != 1 {
		t.Fatalf("lines[].qty: %+v", f)
	}
	if f := fields["note"]; f.Presence != 0.5 || string(f.Examples[0].Value) != `"x"` || f.Examples[0].Event.StreamID != "order-1" {
		t.Fatalf("note: %+v", f)
	}
	var drift []string
	for _, d := range op.Drift {
		drift = append(drift, fmt.Sprintf("%s %s %s>%s %s@%d after %d", d.Path, d.Change, d.From, d.To, d.Event.StreamID, d.Event.Version, d.After))
	}
	wantDrift := []string{
		"total type_changed number>string order-3@0 after 2",
		"channel appeared >string order-3@0 after 2",
		"lines[] disappeared object> order-3@0 after 2",
		"lines[].qty disappeared number> order-3@0 after 2",
		"lines[].sku disappeared string> order-3@0 after 2",
		"note disappeared string> order-3@0 after 2",
		`"a b" appeared >object order-4@0 after 3`,
		`"a b"."c.d" appeared >boolean order-4@0 after 3`,
	}
	if !slices.Equal(drift, wantDrift) {
		t.Fatalf("drift:\n%q\nwant\n%q", drift, wantDrift)
	}
	// lines[] came back in order-4: the disappearance says where it ended
	for _, d := range op.Drift {
		if d.Path == "lines[]" && (d.Over == nil || d.Over.StreamID != "order-4") {
			t.Fatalf("lines[] drift %+v", d)
		}
		if d.Path == "note" && d.Over != nil {
			t.Fatalf("note came back? %+v", d)
		}
	}
	// a new type shows on the next call
	app("order-1", "OrderShipped", `{}`)
	types = catalogSees(t, st, 6)
	if s := typeInfo(t, types, "OrderShipped"); s.Count != 1 || len(s.Fields) != 0 {
		t.Fatalf("OrderShipped %+v", s)
	}
	// a rebuild gives the same catalog
	if err := st.ResetCatalog(ctx); err != nil {
		t.Fatal(err)
	}
	again := catalogSees(t, st, 6)
	a, _ := json.Marshal(typeInfo(t, again, "OrderPlaced"))
	b, _ := json.Marshal(typeInfo(t, types, "OrderPlaced"))
	if string(a) != string(b) {
		t.Fatalf("rebuilt catalog differs:\n%s\n%s", a, b)
	}
}

// TestCatalogConcurrentAdvance: several processes advancing at once, while
// writers append, fold every event exactly once.
func TestCatalogConcurrentAdvance(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	const writers, per = 4, 60
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if _, err := st.Append(ctx, fmt.Sprintf("w%d-%d", w, i%3), store.Any, store.NewEvent{Type: fmt.Sprintf("T%d", i%4), Data: json.RawMessage(`{"i":1}`)}); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	var adv sync.WaitGroup
	for a := 0; a < 3; a++ {
		adv.Add(1)
		go func() {
			defer adv.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := st.AdvanceCatalog(ctx, store.CatalogOptions{BatchEvents: 5}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	types := catalogSees(t, st, writers*per)
	close(done)
	adv.Wait()
	var sum int64
	for _, ti := range types {
		sum += ti.Count
		if ti.Count != writers*per/4 {
			t.Errorf("%s: %d events, want %d", ti.Type, ti.Count, writers*per/4)
		}
		if f := ti.Fields[0]; f.Count != ti.Count || f.Presence != 1 {
			t.Errorf("%s field %+v", ti.Type, f)
		}
	}
	if sum != writers*per {
		t.Fatalf("catalog counts %d events, %d were appended", sum, writers*per)
	}
}

// TestCatalogNoSkip: an event that commits late (after later positions are
// visible) is still folded in.
func TestCatalogNoSkip(t *testing.T) {
	t.Parallel()
	st, ctx := setupPrivate(t)
	tx, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendTx(ctx, tx, "late-1", store.Any, store.NewEvent{Type: "Late", Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Append(ctx, "early-1", store.Any, store.NewEvent{Type: "Early", Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	// the open transaction holds the log back: nothing can be folded yet
	if _, state, err := st.CatalogTypes(ctx, store.CatalogOptions{}); err != nil || state.Events != 0 {
		t.Fatalf("folded %d events past an open transaction: %v", state.Events, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	types := catalogSees(t, st, 2)
	typeInfo(t, types, "Late")
	typeInfo(t, types, "Early")
}
