package query_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"eventscope/internal/testdb"
	"eventscope/store"
	"eventscope/store/query"
)

func TestParseFilter(t *testing.T) {
	t.Parallel()
	f, err := query.ParseFilter("cat:order,customer type:OrderPlaced 42 ORD", now)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.String(); got != "cat:order,customer type:OrderPlaced 42 ORD" {
		t.Fatalf("String %q", got)
	}
	e := store.Event{StreamID: "order-42", Type: "OrderPlaced", Data: []byte(`{}`)}
	if !f.Match(&e) {
		t.Fatal("query terms and words all hold")
	}
	e.Type = "orderplaced"
	if f.Match(&e) {
		t.Fatal("type: is exact, as in eventscope query")
	}
	e.Type, e.StreamID = "OrderPlaced", "order-7"
	if f.Match(&e) {
		t.Fatal("a word must appear in the stream id, type or data")
	}
	e.Data = []byte(`{"sku":"X-42"}`)
	if !f.Match(&e) {
		t.Fatal("words match the data too")
	}
	f, _ = query.ParseFilter("data.total > 1000 -shipped order-4", now)
	for _, c := range []struct {
		e    store.Event
		want bool
	}{
		{store.Event{StreamID: "order-42", Type: "OrderPlaced", Data: []byte(`{"total":1500}`)}, true},
		{store.Event{StreamID: "order-42", Type: "OrderPlaced", Data: []byte(`{"total":999}`)}, false},
		{store.Event{StreamID: "order-42", Type: "OrderShipped", Data: []byte(`{"total":1500}`)}, false},
		{store.Event{StreamID: "order-7", Type: "OrderPlaced", Data: []byte(`{"total":1500}`)}, false},
	} {
		if got := f.Match(&c.e); got != c.want {
			t.Errorf("%+v: %v", c.e, got)
		}
	}
	if f, err := query.ParseFilter("  ", now); err != nil || !f.Empty() {
		t.Fatal("blank is empty")
	}
	for _, bad := range []string{"type:", "data.total >", "bogus:x", `data.x ~ "("`} {
		_, err := query.ParseFilter(bad, now)
		var se *query.SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: %v, want a syntax error", bad, err)
		}
	}
}

// FuzzParseFilter: parsing never panics, and what parses parses again
// from its text to a filter that matches alike.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"cat:order", "type:A,B x", "c: t:", "::", "cat:,", "-x y", "data.a > 1 w", "- -", "a-b -c:d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := query.ParseFilter(s, now)
		if err != nil {
			return
		}
		b, err := query.ParseFilter(a.String(), now)
		if err != nil {
			t.Fatalf("%q parsed, its text %q does not: %v", s, a.String(), err)
		}
		e := store.Event{StreamID: s, Type: s, Data: []byte(`{"a":2}`)}
		if a.Match(&e) != b.Match(&e) {
			t.Fatalf("%q and %q disagree", s, a.String())
		}
	})
}

// TestFilterInvertAndUnknownKey: a leading "!" keeps what the rest does
// not match; a key:value with an unknown key says which keys there are.
func TestFilterInvertAndUnknownKey(t *testing.T) {
	t.Parallel()
	f, err := query.ParseFilter("  !shipped", now)
	if err != nil || !f.Inverted() {
		t.Fatalf("%v %v", f, err)
	}
	if f.Match(&store.Event{StreamID: "order-1", Type: "OrderShipped", Data: []byte(`{}`)}) {
		t.Fatal("inverted: a shipped event is out")
	}
	if !f.Match(&store.Event{StreamID: "order-1", Type: "OrderPlaced", Data: []byte(`{}`)}) {
		t.Fatal("inverted: a placed event is in")
	}
	if f, err := query.ParseFilter("!", now); err != nil || !f.Empty() || f.Inverted() {
		t.Fatal("a lone ! is the empty filter (still being typed)")
	}
	_, err = query.ParseFilter("! typo:x", now)
	var se *query.SyntaxError
	if !errors.As(err, &se) || se.Column() != 3 || !strings.Contains(se.Msg, `unknown key "typo"`) || !strings.Contains(se.Msg, "type:, cat:, stream:") {
		t.Fatalf("unknown key: %v", err)
	}
}

// TestFindInStream: the server searches every version of one stream with
// the filter, agrees with Match, and pages by version. It runs on a
// private cluster: its RunFilter reads the global log, whose horizon is
// cluster-wide, so on the shared server another test's open transaction
// hid every event from it (CI: "RunFilter 0, Match 118").
func TestFindInStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testdb.PrivateStore(t)
	for i := 0; i < 60; i++ {
		typ := []string{"CustomerRegistered", "CreditReserved", "CreditReleased"}[i%3]
		d := fmt.Sprintf(`{"orderId":"%06d","amount":%d,"Note":"Big"}`, 30+i, i)
		if _, err := st.Append(ctx, "customer-0001", store.Any, store.NewEvent{Type: typ, Data: json.RawMessage(d)}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Append(ctx, "customer-0002", store.Any, store.NewEvent{Type: typ, Data: json.RawMessage(d)}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := st.ReadStream(ctx, "customer-0001", store.ReadStreamOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"000032", "credit", "!credit", "big -000040", "type:CreditReserved data.amount >= 30", "!type:CreditReserved 00004", "customer-0001 released", "-customer"} {
		f, err := query.ParseFilter(text, now)
		if err != nil {
			t.Fatal(err)
		}
		var want []int64
		for i := range evs {
			if f.Match(&evs[i]) {
				want = append(want, evs[i].Version)
			}
		}
		got, err := query.FindInStream(ctx, st, "customer-0001", f, query.FindOptions{})
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if !slices.Equal(got.Versions, want) || got.Total != int64(len(want)) {
			t.Errorf("%q: server %v (total %d), Match %v", text, got.Versions, got.Total, want)
		}
	}
	// RunFilter over the global log agrees with Match too (words and !)
	for _, text := range []string{"!credit 000032", "big -000040 customer-0002"} {
		f, _ := query.ParseFilter(text, now)
		all, err := st.ReadStream(ctx, "customer-0002", store.ReadStreamOptions{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, es := range [][]store.Event{evs, all} {
			for i := range es {
				if f.Match(&es[i]) {
					want++
				}
			}
		}
		got := 0
		if _, err := query.RunFilter(ctx, st, f, query.RunOptions{}, func(e store.Event) error {
			if !f.Match(&e) {
				t.Errorf("%q: the server returned %s@%d", text, e.StreamID, e.Version)
			}
			got++
			return nil
		}); err != nil || got != want {
			t.Fatalf("%q: RunFilter %d, Match %d, %v", text, got, want, err)
		}
	}
	f, _ := query.ParseFilter("000032", now)
	if got, _ := query.FindInStream(ctx, st, "customer-0001", f, query.FindOptions{}); !slices.Equal(got.Versions, []int64{2}) {
		t.Fatalf("000032 is in v2 only: %v", got.Versions)
	}
	// paging: From and Limit, Total counts the matches from From on
	f, _ = query.ParseFilter("credit", now)
	got, err := query.FindInStream(ctx, st, "customer-0001", f, query.FindOptions{From: 11, Limit: 3})
	if err != nil || !slices.Equal(got.Versions, []int64{11, 13, 14}) || got.Total != 33 {
		t.Fatalf("paged: %v %d %v", got.Versions, got.Total, err)
	}
	if _, err := query.FindInStream(ctx, st, "customer-9999", f, query.FindOptions{}); !errors.As(err, new(*store.NotFoundError)) {
		t.Fatalf("missing stream: %v", err)
	}
	if got, err := query.FindInStream(ctx, st, "customer-0001", query.Filter{}, query.FindOptions{Limit: 5}); err != nil || len(got.Versions) != 5 || got.Total != 60 {
		t.Fatalf("empty filter: %v %v", got, err)
	}
}
