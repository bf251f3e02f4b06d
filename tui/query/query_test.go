package query

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"eventscope/store"
	q "eventscope/store/query"
	"eventscope/tui/common"
	"eventscope/tui/tuitest"
)

// fake evaluates queries with Match over a fixed log, in pages.
type fake struct {
	evs  []store.Event
	runs *int
}

func (f fake) Query(_ context.Context, qu q.Filter, o q.RunOptions) ([]store.Event, q.Result, error) {
	*f.runs++
	res := q.Result{Next: o.After}
	var out []store.Event
	for _, e := range f.evs {
		if !o.After.Less(e.Checkpoint) || !qu.Match(&e) {
			continue
		}
		if len(out) == o.Limit {
			res.More = true
			break
		}
		out = append(out, e)
		res.Next = e.Checkpoint
	}
	res.Events = len(out)
	if len(out) == o.Limit {
		res.More = true
	}
	return out, res, nil
}

func log(n int) []store.Event {
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.Local)
	var evs []store.Event
	for i := 1; i <= n; i++ {
		evs = append(evs, store.Event{StreamID: fmt.Sprintf("order-%d", i), Type: "OrderPlaced", Checkpoint: store.Checkpoint{Tx: 100, Pos: int64(i)},
			RecordedAt: at.Add(time.Duration(i) * time.Minute), Data: []byte(fmt.Sprintf(`{"total":%d}`, i*1000)), Metadata: []byte(`{}`)})
	}
	return evs
}

func TestGoldenQuery(t *testing.T) {
	t.Parallel()
	runs := 0
	m := New(context.Background(), tuitest.Common(100, 8), fake{log(5), &runs}, "type:OrderPlaced data.total >= 3000")
	m.SetSize(100, 8)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	v := tuitest.Plain(m.View())
	if !strings.Contains(v, "3 events in global order") {
		t.Fatalf("view:\n%s", v)
	}
	// the run's duration varies: golden the table
	golden.RequireEqual(t, []byte(strings.SplitN(v, "\n", 3)[2]))
	msgs := tuitest.Settle(m, tuitest.Key("enter"))
	if o, ok := tuitest.Find[common.OpenEventMsg](msgs); !ok || o.Event.StreamID != "order-3" {
		t.Fatalf("enter: %v", msgs)
	}
}

func TestQueryEditAndPages(t *testing.T) {
	t.Parallel()
	runs := 0
	m := New(context.Background(), tuitest.Common(100, 8), fake{log(PageSize + 10), &runs}, "")
	m.SetSize(100, 8)
	if cmd := m.Init(); cmd != nil || !m.ClaimsKey(tuitest.Key("q")) {
		t.Fatal("an empty query opens the editor and runs nothing")
	}
	for _, r := range "data.total >" {
		tuitest.Settle(m, tuitest.Key(string(r)))
	}
	tuitest.Settle(m, tuitest.Key("enter"))
	v := tuitest.Plain(m.View())
	if runs != 0 || !strings.Contains(v, "             ^ expected a value after >") {
		t.Fatalf("a malformed query ran (%d) or points wrong:\n%s", runs, v)
	}
	for _, r := range " 0" {
		tuitest.Settle(m, tuitest.Key(string(r)))
	}
	tuitest.Settle(m, tuitest.Key("enter"))
	if runs != 1 || !strings.Contains(tuitest.Plain(m.View()), fmt.Sprintf("%d events in global order", PageSize)) || !strings.Contains(tuitest.Plain(m.View()), "n more") {
		t.Fatalf("first page:\n%s", tuitest.Plain(m.View()))
	}
	tuitest.Settle(m, tuitest.Key("n"))
	if v := tuitest.Plain(m.View()); !strings.Contains(v, fmt.Sprintf("%d events in global order", PageSize+10)) || strings.Contains(v, "n more") {
		t.Fatalf("second page:\n%s", v)
	}
	if m.Title() != "query data.total > 0" {
		t.Fatalf("title %q", m.Title())
	}
}

// TestQueryAsYouType: the query runs when the typing pauses (not per
// key), plain words and "!" work as in the tail's filter, a malformed
// query runs nothing, esc goes back to the query committed.
func TestQueryAsYouType(t *testing.T) {
	t.Parallel()
	runs := 0
	m := New(context.Background(), tuitest.Common(100, 8), fake{log(20), &runs}, "type:OrderPlaced")
	m.SetSize(100, 8)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	tuitest.Settle(m, tuitest.Key("/"))
	for range "type:OrderPlaced" {
		tuitest.Settle(m, tuitest.Key("backspace"))
	}
	for _, r := range "!order-1" {
		tuitest.Settle(m, tuitest.Key(string(r)))
	}
	if runs != 1 {
		t.Fatalf("ran %d times before the pause", runs)
	}
	tuitest.Settle(m, editMsg{id: m.id, seq: m.eseq}) // the pause (ticks are stubbed)
	if v := tuitest.Plain(m.View()); runs != 2 || !m.editing || !strings.Contains(v, "9 events in global order") {
		t.Fatalf("as you type (%d runs):\n%s", runs, v)
	}
	tuitest.Settle(m, tuitest.Key(" "), tuitest.Key("t"), tuitest.Key("y"), tuitest.Key("p"), tuitest.Key("e"), tuitest.Key(":"))
	tuitest.Settle(m, editMsg{id: m.id, seq: m.eseq})
	if v := tuitest.Plain(m.View()); runs != 2 || !strings.Contains(v, "needs a value") {
		t.Fatalf("a malformed query ran (%d):\n%s", runs, v)
	}
	tuitest.Settle(m, tuitest.Key("esc"))
	if v := tuitest.Plain(m.View()); runs != 3 || !strings.Contains(v, "20 events in global order") || !strings.Contains(v, "query type:OrderPlaced") {
		t.Fatalf("esc: back to the query committed (%d runs):\n%s", runs, v)
	}
}
