package overview

import (
	"context"
	"strings"
	"testing"
	"time"

	"eventscope/store"
	"eventscope/tui/common"
	"eventscope/tui/tuitest"
)

type fakeStats struct{ s store.Stats }

func (f fakeStats) Stats(_ context.Context, o store.StatsOptions) (store.Stats, error) {
	s := f.s
	if !o.Types {
		s.Types = nil
	}
	return s, nil
}

func stats() store.Stats {
	return store.Stats{
		Events: 1000000, Streams: 100000, Head: store.Checkpoint{Tx: 7731, Pos: 1000000}, LastPosition: 1000000, ServerVersion: "15.20",
		Categories: []store.CategoryCount{{Category: "order", Streams: 80000, Events: 700000}, {Category: "customer", Streams: 20000, Events: 300000}},
		Types:      []store.TypeCount{{Type: "OrderPlaced", Events: 400000}, {Type: "CreditReserved", Events: 300000}},
	}
}

func TestCountsTopListsAndSummary(t *testing.T) {
	t.Parallel()
	m := New(context.Background(), tuitest.Common(140, 30), fakeStats{stats()})
	m.SetSize(140, 30)
	msgs := tuitest.Settle(m, tuitest.Drain(m.Init())...)
	if _, ok := tuitest.Find[common.StatsMsg](msgs); !ok {
		t.Fatal("the overview shares its stats with the other views")
	}
	tuitest.Settle(m, common.SubsMsg{Subs: []common.SubStatus{
		{Name: "a", State: "live"}, {Name: "b", State: "live", Lag: 5000}, {Name: "c", State: "failing", Parked: 3},
		{Name: "d", State: "paused"}, {Name: "e", State: "catching-up"}, {Name: "f", State: "no-holder"},
	}})
	for i := 0; i < 10; i++ {
		tuitest.Settle(m, common.RateMsg{Head: store.Checkpoint{Tx: 7731, Pos: 1000000}, Rate: float64(100 * i)})
	}
	v := tuitest.Plain(m.View())
	for _, want := range []string{
		"Events 1,000,000", "Streams 100,000", "Categories 2", "Head 7731:1000000", "Append rate 900/s",
		"1 live · 2 lagging · 1 failing · 1 paused · 1 stopped/no holder · 3 parked",
		"order", "80,000", "700,000", "OrderPlaced", "400,000",
	} {
		if !strings.Contains(v, want) {
			t.Fatalf("view lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "held back") {
		t.Fatal("no blocker, no warning")
	}
}

func TestHeldBackWarning(t *testing.T) {
	t.Parallel()
	s := stats()
	m := New(context.Background(), tuitest.Common(140, 30), fakeStats{s})
	m.SetSize(140, 30)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	tuitest.Settle(m, common.SubsMsg{Subs: []common.SubStatus{{Name: "a", State: "live"}, {Name: "b", State: "live"}}})
	// The warning is the header's probe (the horizon), as its badge is.
	tuitest.Settle(m, common.RateMsg{Horizon: store.Horizon{Pending: 1234,
		Blocker: &store.Blocker{PID: 4242, Age: 3*time.Minute + 12*time.Second, State: "idle in transaction", Query: "UPDATE accounts\n   SET x = 1", ApplicationName: "psql", Database: "shop"}}})
	v := tuitest.Plain(m.View())
	for _, want := range []string{
		"The global log is held back by pid 4242, in a transaction for 3m12s (idle in transaction).",
		"query: UPDATE accounts SET x = 1",
		`application "psql", database "shop". 1,234 committed events wait behind it`,
		"0 live · 2 held back · 0 lagging", // live at lag 0 is not up to date while held back
	} {
		if !strings.Contains(v, want) {
			t.Fatalf("view lacks %q:\n%s", want, v)
		}
	}
}

func TestRefreshKey(t *testing.T) {
	t.Parallel()
	m := New(context.Background(), tuitest.Common(100, 20), fakeStats{stats()})
	msgs := tuitest.Settle(m, tuitest.Key("r"))
	if _, ok := tuitest.Find[common.StatsMsg](msgs); !ok {
		t.Fatalf("r reloads: %+v", msgs)
	}
}

func TestShortTransactionsAreNotWarnedAbout(t *testing.T) {
	t.Parallel()
	m := New(context.Background(), tuitest.Common(140, 30), fakeStats{stats()})
	m.SetSize(140, 30)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	tuitest.Settle(m, common.RateMsg{Horizon: store.Horizon{Pending: 3, Blocker: &store.Blocker{PID: 1, Age: 40 * time.Millisecond, State: "idle in transaction"}}})
	if v := tuitest.Plain(m.View()); strings.Contains(v, "held back") {
		t.Fatalf("a 40 ms transaction is normal:\n%s", v)
	}
}

type growing struct {
	events int64
	types  int
}

func (g *growing) Stats(_ context.Context, o store.StatsOptions) (store.Stats, error) {
	if o.Types {
		g.types++
	}
	return store.Stats{Events: g.events}, nil
}

func TestTypesRecountedWhenTheLogGrows(t *testing.T) {
	t.Parallel()
	g := &growing{events: 1000}
	m := New(context.Background(), tuitest.Common(100, 20), g)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	if g.types != 1 {
		t.Fatalf("types counted %d times after the first frame", g.types)
	}
	tuitest.Settle(m, statsMsg{id: m.id, stats: store.Stats{Events: 1050}})
	if g.types != 1 {
		t.Fatal("5% growth is not worth a scan")
	}
	g.events = 5000
	tuitest.Settle(m, statsMsg{id: m.id, stats: store.Stats{Events: 5000}})
	if g.types != 2 {
		t.Fatalf("a grown log is recounted: %d", g.types)
	}
	// A stale poll tick does nothing.
	tuitest.Settle(m, tickMsg{id: m.id, gen: m.countsGen - 1})
	if g.types != 2 {
		t.Fatal("stale tick")
	}
}

// TestHeadIsTheHeadersAndAgesShow (issue 14 item 6): the overview's head
// is the header's probe (RateMsg), never its own slower read of the
// stats, so the two agree; it says how old its counts are, and its counts
// refresh by themselves as often as every live view does.
func TestHeadIsTheHeadersAndAgesShow(t *testing.T) {
	t.Parallel()
	s := stats()
	s.Head = store.Checkpoint{Tx: 7000, Pos: 900000} // read a moment before the probe
	c := tuitest.Common(140, 30)
	now := tuitest.Now
	c.Now = func() time.Time { return now }
	m := New(context.Background(), c, fakeStats{s})
	m.SetSize(140, 30)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	tuitest.Settle(m, common.RateMsg{Head: store.Checkpoint{Tx: 7731, Pos: 1000000}, Rate: 5})
	now = now.Add(3 * time.Second)
	v := tuitest.Plain(m.View())
	if !strings.Contains(v, "Head 7731:1000000") || strings.Contains(v, "7000:900000") {
		t.Fatalf("want the header's head:\n%s", v)
	}
	if !strings.Contains(v, "updated 3s ago") {
		t.Fatalf("want the counts' age:\n%s", v)
	}
	if StatsInterval > common.RefreshEvery {
		t.Fatalf("counts refresh every %s, more than %s", StatsInterval, common.RefreshEvery)
	}
}
