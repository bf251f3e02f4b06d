package domain

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"eventscope/store"
	"eventscope/store/storetest"
)

// TestForgetCustomer: a customer's name is personal data. It never reaches
// the events or snapshots tables in plain text, time travel shows it while
// the key exists; after Forget the snapshots that held it are rebuilt, every
// version's state and event shows it as null (erased), the rest of the
// state is unchanged, and other customers keep theirs.
func TestForgetCustomer(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	repo := NewRepository(st, 3)
	tt := NewTimeTravel(st, DefaultRegistry(), TimeTravelOptions{SnapshotEvery: 3})
	for _, c := range []struct{ id, name string }{{"c1", "Ann Example"}, {"c2", "Bob Sample"}} {
		stream := CustomerStream(c.id)
		if _, _, err := repo.Update(ctx, CustomerType, stream, func(a Aggregate, _ int64) ([]Recorded, error) {
			evs, err := a.(*Customer).Register(c.name, 1000)
			return Record(evs, Meta{}, nil), err
		}); err != nil {
			t.Fatal(err)
		}
		for i := range 7 {
			if _, _, err := repo.Update(ctx, CustomerType, stream, func(a Aggregate, _ int64) ([]Recorded, error) {
				evs, err := a.(*Customer).ReserveCredit(fmt.Sprintf("o%d", i), 10)
				return Record(evs, Meta{}, nil), err
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	plain := func(where string) {
		t.Helper()
		var dump string
		if err := st.Pool().QueryRow(ctx, `SELECT coalesce((SELECT string_agg(state::text || coalesce(personal::text, ''), ' ') FROM eventscope.snapshots), '')`).Scan(&dump); err != nil {
			t.Fatal(err)
		}
		stored, err := storetest.Stored(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range stored {
			dump += " " + string(e.Data) + string(e.Personal)
		}
		if strings.Contains(dump, "Ann Example") || strings.Contains(dump, "Bob Sample") {
			t.Fatalf("%s: a name is stored in plain text", where)
		}
	}
	snapshots := func() (sealed, all int) {
		if err := st.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE personal IS NOT NULL), count(*) FROM eventscope.snapshots`).Scan(&sealed, &all); err != nil {
			t.Fatal(err)
		}
		return sealed, all
	}
	plain("after the appends")
	if sealed, all := snapshots(); sealed != 4 || all != 4 {
		t.Fatalf("%d snapshots, %d sealed; want 4, 4", all, sealed)
	}
	name := func(stream string, v int64) (any, State) {
		t.Helper()
		s, err := tt.StateAt(ctx, stream, v)
		if err != nil {
			t.Fatal(err)
		}
		var c map[string]any
		if err := json.Unmarshal(s.State, &c); err != nil {
			t.Fatal(err)
		}
		return c["name"], s
	}
	if n, s := name("customer-c1", 7); n != "Ann Example" || !s.FromSnapshot {
		t.Fatalf("before: name %v, from snapshot %v", n, s.FromSnapshot)
	}

	res, err := Forget(ctx, tt, "customer-c1")
	if err != nil {
		t.Fatal(err)
	}
	if !res.HadKey || res.Events != 1 || res.SnapshotsRebuilt != 1 {
		t.Fatalf("forget: %+v", res)
	}
	// rebuilt: as many as before, the forgotten customer's without a name to seal
	if sealed, all := snapshots(); sealed != 2 || all != 4 {
		t.Fatalf("after forget %d snapshots, %d sealed; want 4, 2", all, sealed)
	}
	for v := int64(0); v <= 7; v++ {
		n, s := name("customer-c1", v)
		if n != nil {
			t.Fatalf("version %d: name %v after forget", v, n)
		}
		var c Customer
		_ = json.Unmarshal(s.State, &c)
		if c.CreditLimit != 1000 || c.Reserved != 10*v {
			t.Fatalf("version %d: state %s", v, s.State)
		}
		if v == 0 {
			if p, ok := s.Event.Personal(); !ok || !p.Erased || p.Subject != "customer-c1" {
				t.Fatalf("event marker %s", s.Event.Metadata)
			}
		}
	}
	if n, _ := name("customer-c2", 7); n != "Bob Sample" {
		t.Fatalf("other customer: %v", n)
	}
	// the repository loads the erased customer too (from the rebuilt snapshot)
	c, _, err := repo.LoadCustomer(ctx, "c1")
	if err != nil || c.Name != "" || !c.Registered || c.Reserved != 70 {
		t.Fatalf("load: %+v %v", c, err)
	}
	plain("after forget")
	audit, err := st.ReadStream(ctx, store.ErasureStream, store.ReadStreamOptions{})
	if err != nil || len(audit) != 1 || strings.Contains(string(audit[0].Data), "Ann") {
		t.Fatalf("audit %v %v", audit, err)
	}
}
