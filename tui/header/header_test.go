package header

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"eventscope/store"
	"eventscope/tui/common"
	"eventscope/tui/styles"
	"eventscope/tui/tuitest"
)

type fakeHead struct {
	h   store.Checkpoint
	err error
}

func (f *fakeHead) Horizon(context.Context) (store.Horizon, error) {
	return store.Horizon{Head: f.h}, f.err
}

func hz(cp store.Checkpoint) store.Horizon { return store.Horizon{Head: cp} }

func TestRateRedactionBadgesAndConnState(t *testing.T) {
	t.Parallel()
	f := &fakeHead{h: store.Checkpoint{Tx: 9, Pos: 1000}}
	m := New(context.Background(), tuitest.Common(160, 10), f, "postgres://app:hunter2@db:5432/shop", true)
	m.Update(headMsg{id: m.id, head: hz(f.h), at: tuitest.Now})
	m.Update(headMsg{id: m.id, head: store.Horizon{Head: store.Checkpoint{Tx: 10, Pos: 3000}, Pending: 4, Blocker: &store.Blocker{PID: 77, Age: time.Minute}}, at: tuitest.Now.Add(time.Second)})
	m.Update(common.StatsMsg{Stats: store.Stats{ServerVersion: "15.20 (Debian 15.20-0+deb12u1)", Head: store.Checkpoint{Tx: 3, Pos: 5}}})
	v := tuitest.Plain(m.View(160))
	for _, want := range []string{"postgres://app:xxxxx@db:5432/shop", "PostgreSQL 15.20 ·", "head 10:3000", "2,000/s", "HELD BACK pid 77 1m00s", "READ-ONLY"} {
		if !strings.Contains(v, want) {
			t.Fatalf("header lacks %q: %s", want, v)
		}
	}
	if strings.Contains(v, "hunter2") {
		t.Fatal("password shown")
	}
	// A failed probe reports the connection down; the next success, up.
	msgs := tuitest.Drain(m.Update(headMsg{id: m.id, err: errors.New("dial tcp: connection refused"), at: tuitest.Now.Add(2 * time.Second)}))
	if c, ok := tuitest.Find[common.ConnStateMsg](msgs); !ok || c.Up {
		t.Fatalf("%+v", msgs)
	}
	msgs = tuitest.Drain(m.Update(headMsg{id: m.id, head: hz(store.Checkpoint{Tx: 10, Pos: 3000}), at: tuitest.Now.Add(3 * time.Second)}))
	if c, ok := tuitest.Find[common.ConnStateMsg](msgs); !ok || !c.Up {
		t.Fatalf("%+v", msgs)
	}
	// Narrow terminals shorten the database, never the badges.
	if v := tuitest.Plain(m.View(80)); !strings.Contains(v, "READ-ONLY") || len([]rune(v)) > 80 {
		t.Fatalf("%q", v)
	}
}

// TestOneHeadForEveryView (issue 14 item 6): the probe's result goes to
// every view with the horizon (RateMsg): the head the header shows, and
// the transaction holding it back. The overview's slower stats change
// neither (they used to set the badge from an older read).
func TestOneHeadForEveryView(t *testing.T) {
	t.Parallel()
	h := store.Horizon{Head: store.Checkpoint{Tx: 12, Pos: 40}, Pending: 3, Blocker: &store.Blocker{PID: 9, Age: 5 * time.Second}}
	m := New(context.Background(), tuitest.Common(160, 10), &fakeHead{}, "", false)
	msgs := tuitest.Drain(m.Update(headMsg{id: m.id, head: h, at: tuitest.Now}))
	rm, ok := tuitest.Find[common.RateMsg](msgs)
	if !ok || rm.Head != h.Head || rm.Horizon.Blocker == nil || rm.Horizon.Blocker.PID != 9 || rm.Horizon.Pending != 3 {
		t.Fatalf("shared %+v, want the probe's horizon %+v", rm, h)
	}
	m.Update(common.StatsMsg{Stats: store.Stats{Head: store.Checkpoint{Tx: 11, Pos: 30}}})
	if v := tuitest.Plain(m.View(160)); !strings.Contains(v, "head 12:40") || !strings.Contains(v, "HELD BACK pid 9 5s") {
		t.Fatalf("header %q: want the probe's head and badge", v)
	}
	m.Update(headMsg{id: m.id, head: hz(h.Head), at: tuitest.Now.Add(time.Second)})
	if v := tuitest.Plain(m.View(160)); strings.Contains(v, "HELD BACK") {
		t.Fatalf("released, yet %q", v)
	}
}

type fakeReplica struct {
	lag Lag
	err error
}

func (f *fakeReplica) ReplicaLag(context.Context) (Lag, error) { return f.lag, f.err }

// TestReplicaLag: reading from a hot standby, the header says so and how
// far behind the primary it is, refreshed by every probe, in the warning
// style past LagWarn or when the lag cannot be read; without a replica it
// says nothing of one.
func TestReplicaLag(t *testing.T) {
	t.Parallel()
	r := lipgloss.NewRenderer(nil)
	r.SetColorProfile(termenv.ANSI)
	c := tuitest.Common(160, 10)
	c.Styles = styles.New(r)
	f := &fakeHead{h: store.Checkpoint{Tx: 9, Pos: 1000}}
	rep := &fakeReplica{lag: Lag{InRecovery: true, Bytes: 4096, Time: 400 * time.Millisecond}}
	m := New(context.Background(), c, f, "postgres://standby/shop", false).WithReplica(rep)
	if v := tuitest.Plain(m.View(160)); !strings.Contains(v, "replica") || strings.Contains(v, "behind") {
		t.Fatalf("before the first probe: %s", v)
	}
	probe := func() string {
		t.Helper()
		msg := m.probe()()
		m.Update(msg)
		return m.View(160)
	}
	warned := func(v, text string) bool { return strings.Contains(v, c.Styles.Warning.Render(text)) }
	if v := probe(); !strings.Contains(tuitest.Plain(v), "head 9:1000 · 0/s replica · 0.4 s behind") || warned(v, "replica · 0.4 s behind") {
		t.Fatalf("%q", v)
	}
	rep.lag = Lag{InRecovery: true, Bytes: 1 << 20, Time: 12 * time.Second}
	if v := probe(); !warned(v, "replica · 12.0 s behind") {
		t.Fatalf("past LagWarn, not warned: %q", v)
	}
	rep.lag = Lag{InRecovery: true, Bytes: 1 << 20, Time: 3 * time.Minute}
	if v := tuitest.Plain(probe()); !strings.Contains(v, "replica · 3m00s behind") {
		t.Fatalf("%q", v)
	}
	rep.lag = Lag{InRecovery: true}
	if v := probe(); !strings.Contains(tuitest.Plain(v), "replica · caught up") || warned(v, "replica · caught up") {
		t.Fatalf("%q", v)
	}
	rep.err = errors.New("connection refused")
	if v := probe(); !warned(v, "replica · lag unknown") {
		t.Fatalf("%q", v)
	}
	rep.err, rep.lag = nil, Lag{InRecovery: false}
	if v := probe(); !warned(v, "replica · not a standby") {
		t.Fatalf("%q", v)
	}
	// Narrow terminals keep it, shortening the database.
	if v := tuitest.Plain(m.View(80)); !strings.Contains(v, "replica · not a standby") || len([]rune(v)) > 80 {
		t.Fatalf("%q", v)
	}
	// Reads from the primary: no replica part.
	p := New(context.Background(), c, f, "postgres://primary/shop", false).WithReplica(nil)
	p.Update(p.probe()())
	if v := tuitest.Plain(p.View(160)); strings.Contains(v, "replica") {
		t.Fatalf("%q", v)
	}
}
