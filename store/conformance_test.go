package store_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// TestReadsConformance holds the Go reads and the SQL read functions
// together: the same cases go through both (store.ReadAll with a filter,
// store.ReadStream; eventscope.read_category, read_type, read_all,
// read_stream), paged with the same limits, and both must return exactly
// what the definition says, in the same order. The definition of a
// category is store.Category (the part before the first "-"), and SQL's
// eventscope.category must agree with it on every stream id.
func TestReadsConformance(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)

	// Stream ids chosen where a category rule can go wrong: a stream named
	// just like its category, a category that has a "-" in a longer id,
	// LIKE's wildcards, an empty category, no "-" at all.
	streams := []string{"acct", "acct-1", "acct-b-1", "acct-b", "acctx-1", "acct_1-1", "acc%-2", "-lead", "order-1", "acct-1", "order-2", "acct"}
	types := []string{"Opened", "Moved", "Closed"}
	for i, s := range streams {
		mustAppend(t, st, s, store.Any, ev(types[i%len(types)], fmt.Sprintf(`{"i":%d}`, i)))
	}
	all := visible(t, st, len(streams))

	type key struct {
		Stream  string
		Version int64
	}
	keys := func(evs []store.Event) []key {
		out := make([]key, 0, len(evs))
		for _, e := range evs {
			out = append(out, key{e.StreamID, e.Version})
		}
		return out
	}
	// sqlPaged pages a SQL read function (its last three arguments after
	// the first being after_tx, after_position, max_count).
	sqlPaged := func(t *testing.T, fn, arg string, limit int) []key {
		t.Helper()
		var out []key
		after := store.Start
		for {
			rows, err := st.Pool().Query(ctx, `SELECT stream_id, version, tx_id, position FROM eventscope.`+fn+`($1, $2, $3, $4)`, arg, after.Tx, after.Pos, limit)
			if err != nil {
				t.Fatal(err)
			}
			type row struct {
				key
				Tx  uint64
				Pos int64
			}
			got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
				var x row
				err := r.Scan(&x.Stream, &x.Version, &x.Tx, &x.Pos)
				return x, err
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range got {
				out = append(out, x.key)
				after = store.Checkpoint{Tx: x.Tx, Pos: x.Pos}
			}
			if len(got) < limit {
				return out
			}
		}
	}
	goPaged := func(t *testing.T, o store.ReadAllOptions) []key {
		t.Helper()
		var out []store.Event
		after := store.Start
		for range 100 {
			p, err := st.ReadAll(ctx, after, o)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, p.Events...)
			after = p.Next
			if !p.More {
				return keys(out)
			}
		}
		t.Fatal("ReadAll never caught up")
		return nil
	}
	want := func(keep func(store.Event) bool) []key {
		var out []store.Event
		for _, e := range all {
			if keep(e) {
				out = append(out, e)
			}
		}
		return keys(out)
	}

	t.Run("category of every stream id", func(t *testing.T) {
		for _, s := range streams {
			var sqlCat string
			if err := st.Pool().QueryRow(ctx, `SELECT eventscope.category($1)`, s).Scan(&sqlCat); err != nil {
				t.Fatal(err)
			}
			if sqlCat != store.Category(s) {
				t.Errorf("stream %q: SQL category %q, Go %q", s, sqlCat, store.Category(s))
			}
		}
	})
	for _, limit := range []int{1, 2, 1000} {
		for _, c := range []string{"acct", "acct-b", "acct_1", "acc%", "acc_", "", "order", "nothing"} {
			t.Run(fmt.Sprintf("category %q limit %d", c, limit), func(t *testing.T) {
				exp := want(func(e store.Event) bool { return store.Category(e.StreamID) == c })
				g := goPaged(t, store.ReadAllOptions{Limit: limit, Categories: []string{c}})
				s := sqlPaged(t, "read_category", c, limit)
				if !slices.Equal(g, exp) || !slices.Equal(s, exp) {
					t.Fatalf("want %v\n   Go %v\n  SQL %v", exp, g, s)
				}
			})
		}
		for _, typ := range append(types, "Nothing") {
			t.Run(fmt.Sprintf("type %q limit %d", typ, limit), func(t *testing.T) {
				exp := want(func(e store.Event) bool { return e.Type == typ })
				g := goPaged(t, store.ReadAllOptions{Limit: limit, Types: []string{typ}})
				s := sqlPaged(t, "read_type", typ, limit)
				if !slices.Equal(g, exp) || !slices.Equal(s, exp) {
					t.Fatalf("want %v\n   Go %v\n  SQL %v", exp, g, s)
				}
			})
		}
		t.Run(fmt.Sprintf("all limit %d", limit), func(t *testing.T) {
			exp := keys(all)
			g := goPaged(t, store.ReadAllOptions{Limit: limit})
			var s []key
			after := store.Start
			for {
				rows, err := st.Pool().Query(ctx, `SELECT stream_id, version, tx_id, position FROM eventscope.read_all($1, $2, $3)`, after.Tx, after.Pos, limit)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for rows.Next() {
					var k key
					if err := rows.Scan(&k.Stream, &k.Version, &after.Tx, &after.Pos); err != nil {
						t.Fatal(err)
					}
					s, n = append(s, k), n+1
				}
				if rows.Err() != nil {
					t.Fatal(rows.Err())
				}
				if n < limit {
					break
				}
			}
			if !slices.Equal(g, exp) || !slices.Equal(s, exp) {
				t.Fatalf("want %v\n   Go %v\n  SQL %v", exp, g, s)
			}
		})
	}
	t.Run("filters combined and repeated", func(t *testing.T) {
		exp := want(func(e store.Event) bool {
			c := store.Category(e.StreamID)
			return (c == "acct" || c == "order") && (e.Type == "Opened" || e.Type == "Closed")
		})
		for _, limit := range []int{1, 3, 1000} {
			g := goPaged(t, store.ReadAllOptions{Limit: limit, Categories: []string{"acct", "order", "acct"}, Types: []string{"Opened", "Closed", "Opened"}})
			if !slices.Equal(g, exp) {
				t.Fatalf("limit %d: want %v\n   Go %v", limit, exp, g)
			}
		}
	})
	t.Run("stream", func(t *testing.T) {
		for _, s := range []string{"acct", "acct-1", "acct-b"} {
			for _, backward := range []bool{false, true} {
				from := int64(0)
				if backward {
					from = 1 << 40
				}
				g, err := st.ReadStream(ctx, s, store.ReadStreamOptions{From: from, Backward: backward})
				if err != nil {
					t.Fatal(err)
				}
				rows, err := st.Pool().Query(ctx, `SELECT stream_id, version FROM eventscope.read_stream($1, $2, 1000, $3)`, s, from, backward)
				if err != nil {
					t.Fatal(err)
				}
				sq, err := pgx.CollectRows(rows, pgx.RowToStructByPos[key])
				if err != nil {
					t.Fatal(err)
				}
				exp := want(func(e store.Event) bool { return e.StreamID == s })
				if backward {
					slices.Reverse(exp)
				}
				if !slices.Equal(keys(g), exp) || !slices.Equal(sq, exp) {
					t.Fatalf("%s backward %v: want %v\n   Go %v\n  SQL %v", s, backward, exp, keys(g), sq)
				}
			}
		}
	})
}

// TestFilteredReadUsesItsIndex: a filtered read of a rare category or type
// among many events is planned on its index, never as a walk of the global
// log, also as a generic plan (what a prepared statement gets after a few
// executions, where the planner cannot see the value is rare): the SQL
// functions and the Go read's statement.
func TestFilteredReadUsesItsIndex(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	b := st.NewBulkLoader(ctx, store.BulkOptions{})
	for i := range 20000 {
		if _, err := b.Add(store.BulkEvent{StreamID: fmt.Sprintf("order-%d", i/10), Type: "OrderPlaced", Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Close(); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, st, "acct-1", store.Any, ev("Opened", `{}`), ev("Closed", `{}`))
	conn, err := st.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `ANALYZE eventscope.events; SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		sql   string
		args  []any
		index string
	}{
		{`SELECT * FROM eventscope.read_category($1)`, []any{"acct"}, "events_category_idx"},
		{`SELECT * FROM eventscope.read_category($1, $2, $3, $4)`, []any{"acct", uint64(0), int64(0), 10}, "events_category_idx"},
		{`SELECT * FROM eventscope.read_type($1)`, []any{"Opened"}, "events_type_idx"},
		{store.FilteredSQL(false, false, false), []any{uint64(0), int64(0), 1000, 1 << 20, []string{"acct", "nothing"}}, "events_category_idx"},
		{store.FilteredSQL(false, false, true), []any{uint64(0), int64(0), 1000, 1 << 20, "acct"}, "events_category_idx"},
		{store.FilteredSQL(true, false, false), []any{uint64(0), int64(0), 1000, 1 << 20, []string{"Opened", "Nothing"}}, "events_type_idx"},
		{store.FilteredSQL(true, false, true), []any{uint64(0), int64(0), 1000, 1 << 20, "Opened"}, "events_type_idx"},
		{store.FilteredSQL(true, true, false), []any{uint64(0), int64(0), 1000, 1 << 20, []string{"Opened", "Closed"}, []string{"acct"}}, "_idx on events"},
		{store.FilteredSQL(true, true, true), []any{uint64(0), int64(0), 1000, 1 << 20, "Opened", []string{"acct"}}, "_idx on events"},
	} {
		// Either index serves a read filtered on both. A prepared statement, so the generic plan is what EXPLAIN shows.
		name := fmt.Sprintf("p%d", len(c.index)+len(c.sql))
		if _, err := conn.Conn().Prepare(ctx, name, `EXPLAIN `+c.sql); err != nil {
			t.Fatal(err)
		}
		rows, err := conn.Query(ctx, name, c.args...)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(plan, "\n")
		if !strings.Contains(joined, c.index) || strings.Contains(joined, "Seq Scan") || strings.Contains(joined, "Index Scan using events_global_idx") {
			t.Errorf("%s: the plan does not use %s:\n%s", c.sql, c.index, strings.Join(plan, "\n"))
		}
	}
}
