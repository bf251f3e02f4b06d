package query_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"eventscope/internal/testdb"
	"eventscope/store"
	"eventscope/store/query"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		q   string
		col int
		msg string
	}{
		{"OrderPlaced", 1, "is not a term"},
		{"type:A bogus:1", 8, "unknown key"},
		{"type:", 6, "needs a value"},
		{"type:A,", 8, "needs a value"},
		{"data.total 1000", 12, "expected an operator"},
		{"data.total >", 13, "expected a value"},
		{"data", 5, "expected \".\" and a path"},
		{"data.", 6, "expected a key"},
		{"data.lines[x].sku = 1", 12, "not an array index"},
		{"data.lines[ = 1", 11, "unterminated"},
		{`data.a = "abc`, 10, "unterminated quoted"},
		{`data.a ~ "("`, 10, "bad regular expression"},
		{"data.a > true", 8, "compares numbers or strings"},
		{"after:yesterdayish", 7, "after:"},
		{"- type:A", 2, "must be followed"},
		{"type:A,B\"", 9, "quote inside a bare value"},
		{"data.x=1=2", 0, ""}, // fine: the value is the text "1=2"
		{"\xff", 1, "not valid UTF-8"},
		{"type:A (", 8, "a term starts with"},
		{"data.a = 1\"x", 11, "quote inside"},
	} {
		_, err := query.Parse(c.q, now)
		if c.col == 0 {
			if err != nil {
				t.Errorf("Parse(%q): %v", c.q, err)
			}
			continue
		}
		var se *query.SyntaxError
		if !errors.As(err, &se) || !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Parse(%q): %v, want a SyntaxError", c.q, err)
			continue
		}
		if se.Column() != c.col || !strings.Contains(se.Msg, c.msg) {
			t.Errorf("Parse(%q): column %d %q, want column %d containing %q", c.q, se.Column(), se.Msg, c.col, c.msg)
		}
		if p := se.Pointer(); !strings.HasSuffix(p, strings.Repeat(" ", c.col+1)+"^") {
			t.Errorf("Parse(%q) pointer:\n%s", c.q, p)
		}
	}
}

func TestParseTerms(t *testing.T) {
	t.Parallel()
	q, err := query.Parse(`type:OrderPlaced,OrderApproved  cat:order stream:order-1* -stream:"a b"
		after:2026-02-01 before:2h data.total>=1000 data.lines[].sku ~ "^SOCK" metadata."my key"[0] != null data.n=-1.5e3`, now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tm := range q.Terms {
		got = append(got, tm.String())
	}
	want := []string{"type:OrderPlaced,OrderApproved", "cat:order", "stream:order-1*", `-stream:"a b"`,
		"after:" + time.Date(2026, 2, 1, 0, 0, 0, 0, time.Local).Format(time.RFC3339Nano), "before:2026-03-01T10:00:00Z",
		"data.total >= 1000", `data.lines[].sku ~ "^SOCK"`, `metadata."my key"[0] != null`, "data.n = -1.5e3"}
	if !slices.Equal(got, want) {
		t.Fatalf("terms:\n got %q\nwant %q", got, want)
	}
	if q.Terms[9].Value.Kind != "number" || q.Terms[8].Value.Kind != "null" {
		t.Fatalf("value kinds %+v %+v", q.Terms[9].Value, q.Terms[8].Value)
	}
	// a rendered term parses back to itself
	for _, s := range got {
		q2, err := query.Parse(s, now)
		if err != nil || len(q2.Terms) != 1 || q2.Terms[0].String() != s {
			t.Errorf("round trip of %q: %v %v", s, q2, err)
		}
	}
}

// TestServerAgreesWithMatch runs queries on the server and in Go over the
// same events: both must select the same ones.
func TestServerAgreesWithMatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, testdb.URL(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	datas := []string{
		`{"total": 1500, "customerId": "42", "lines": [{"sku": "SOCK-1", "qty": 2}, {"sku": "HAT-3", "qty": 1}]}`,
		`{"total": 999.5, "customerId": 42, "lines": [{"sku": "HAT-9"}, {"qty": 3}]}`,
		`{"total": "1500", "paid": true, "note": null, "tags": ["a", ["b", "c"]], "nested": {"x": {"y": 7}}}`,
		`{"total": 1e3, "paid": false, "weird key": "v", "a.b": 1, "s": "Émile", "arr": [[{"k": 1}]]}`,
		`{}`,
		`{"total": [1, 2000], "customerId": "0042", "n": -3}`,
	}
	metas := []string{`{"correlationId": "c-1", "source": "api"}`, `{"correlationId": 7}`, `{}`, `{"correlationId": ["c-1"], "causationId": "c-1"}`}
	var all []store.Event
	for i, d := range datas {
		for j, m := range metas {
			stream := fmt.Sprintf("%s-%d", []string{"order", "customer", "odd_cat"}[(i+j)%3], i*10+j)
			typ := []string{"OrderPlaced", "OrderApproved", "Other"}[(i*len(metas)+j)%3]
			if _, err := st.Append(ctx, stream, store.Any, store.NewEvent{Type: typ, Data: json.RawMessage(d), Metadata: json.RawMessage(m)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(all) < len(datas)*len(metas) && time.Now().Before(deadline) {
		p, err := st.ReadAll(ctx, store.Start, store.ReadAllOptions{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		all = p.Events
	}
	queries := []string{
		"", "type:OrderPlaced", "type:OrderPlaced,Other", "cat:order", "cat:odd_cat", "stream:order-*", "stream:*-1?", "-type:Other",
		"data.total > 1000", "data.total >= 1000", "data.total = 1000", "data.total = 1500", "data.total != 1500", "data.total < 1000",
		`data.total = "1500"`, "data.customerId = 42", `data.customerId = "42"`, "data.customerId > 40", `data.customerId >= "1"`,
		"data.lines[].sku = HAT-3", "data.lines.sku = HAT-9", "data.lines[0].sku = SOCK-1", "data.lines[1].qty = 3", "data.lines[].sku ~ ^HAT",
		"data.lines[].qty != 2", "data.paid = true", "data.paid = false", "data.paid != true", "data.note = null", "data.missing = null",
		"data.tags = b", "data.tags[] = c", "data.tags[] = a", `data."weird key" = v`, `data."a.b" = 1`, "data.s > Z", "data.s ~ ^É",
		"data.nested.x.y = 7", "data.arr.k = 1", "data.arr[].k = 1", "data.arr[][].k = 1", "data.total[0] = 1000", "data.n < -2",
		"metadata.correlationId = c-1", "metadata.correlationId = 7", "metadata.correlationId != c-1", "metadata.source ~ ^a",
		"metadata.causationId = c-1", "-metadata.source = api type:OrderPlaced", "data.total > 1000 cat:order", `data.customerId = "0042"`,
		"data.customerId = 0042", "data.s ~ (?i)MILE$", "data.s ~ (?s)^.mile", "data.total ~ 15",
	}
	for _, qs := range queries {
		q, err := query.Parse(qs, now)
		if err != nil {
			t.Fatalf("Parse(%q): %v", qs, err)
		}
		var server, local []string
		if _, err := query.Run(ctx, st, q, query.RunOptions{Limit: 1000}, func(e store.Event) error {
			server = append(server, fmt.Sprintf("%s@%d", e.StreamID, e.Version))
			return nil
		}); err != nil {
			t.Fatalf("Run(%q): %v", qs, err)
		}
		for _, e := range all {
			if q.Match(e) {
				local = append(local, fmt.Sprintf("%s@%d", e.StreamID, e.Version))
			}
		}
		if !slices.Equal(server, local) {
			t.Errorf("%q: server %v, Match %v", qs, server, local)
		}
	}
}

func TestRunPagesAndBounds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, testdb.URL(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	for i := 0; i < 25; i++ {
		if _, err := st.Append(ctx, fmt.Sprintf("order-%d", i%5), store.Any, store.NewEvent{Type: "T", Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	q, _ := query.Parse("data.i >= 5", now)
	var got []int
	after := store.Start
	for {
		var page []store.Event
		var res query.Result
		deadline := time.Now().Add(30 * time.Second)
		for {
			page = nil
			res, err = query.Run(ctx, st, q, query.RunOptions{After: after, Limit: 7}, func(e store.Event) error { page = append(page, e); return nil })
			if err != nil {
				t.Fatal(err)
			}
			if len(got)+len(page) == 20 || len(page) == 7 || time.Now().After(deadline) {
				break
			}
		}
		for _, e := range page {
			var d struct{ I int }
			_ = json.Unmarshal(e.Data, &d)
			got = append(got, d.I)
		}
		after = res.Next
		if !res.More {
			break
		}
	}
	want := []int{}
	for i := 5; i < 25; i++ {
		want = append(want, i)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged %v", got)
	}
	// a statement timeout ends a slow query with ErrTimeout
	slow, _ := query.Parse(`data.i ~ "^(a+)+$"`, now)
	_, err = query.Run(ctx, st, slow, query.RunOptions{Timeout: time.Millisecond}, func(store.Event) error { time.Sleep(5 * time.Millisecond); return nil })
	if err != nil && !errors.Is(err, query.ErrTimeout) {
		t.Fatalf("timeout: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"type:A", `data.lines[].sku ~ "^S" -cat:x`, "after:2h before:now", `metadata."k"[3] != null`, "data.a=1 data.b>=2.5e3", `stream:"a,b",c*`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := query.Parse(s, now)
		if err != nil {
			var se *query.SyntaxError
			if !errors.As(err, &se) || se.Pos < 0 || se.Pos > len(s) {
				t.Fatalf("Parse(%q): %v", s, err)
			}
			_ = se.Pointer()
			return
		}
		where, args := q.Where(1)
		if strings.Count(where, "$") != len(args) {
			t.Fatalf("Parse(%q): %d placeholders, %d args", s, strings.Count(where, "$"), len(args))
		}
		// no user text in the SQL: it is made of our own fragments
		for _, tm := range q.Terms {
			for _, v := range tm.Values {
				if len(v) > 3 && strings.Contains(where, v) {
					t.Fatalf("Parse(%q): value %q in the SQL %s", s, v, where)
				}
			}
		}
		// a rendered term parses back to the same rendering
		for _, tm := range q.Terms {
			if tm.Kind == query.After || tm.Kind == query.Before {
				continue
			}
			q2, err := query.Parse(tm.String(), now)
			if err != nil || len(q2.Terms) != 1 || q2.Terms[0].String() != tm.String() {
				t.Fatalf("round trip of %q (from %q): %v", tm.String(), s, err)
			}
		}
		_ = q.Match(store.Event{StreamID: "a-1", Type: "A", Data: json.RawMessage(`{"a":[1,{"b":"x"}],"k":null}`), Metadata: json.RawMessage(`{}`)})
	})
}
