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

func (f *fakeHead) Head(context.Context) (store.Checkpoint, error) { return f.h, f.err }

func TestRateRedactionBadgesAndConnState(t *testing.T) {
	t.Parallel()
	f := &fakeHead{h: store.Checkpoint{Tx: 9, Pos: 1000}}
	m := New(context.Background(), tuitest.Common(160, 10), f, "postgres://app:hunter2@db:5432/shop", true)
	m.Update(headMsg{id: m.id, head: f.h, at: tuitest.Now})
	m.Update(headMsg{id: m.id, head: store.Checkpoint{Tx: 10, Pos: 3000}, at: tuitest.Now.Add(time.Second)})
	m.Update(common.StatsMsg{Stats: store.Stats{ServerVersion: "15.20 (Debian 15.20-0+deb12u1)", Blocker: &store.Blocker{PID: 77, Age: time.Minute}}})
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
	msgs = tuitest.Drain(m.Update(headMsg{id: m.id, head: store.Checkpoint{Tx: 10, Pos: 3000}, at: tuitest.Now.Add(3 * time.Second)}))
	if c, ok := tuitest.Find[common.ConnStateMsg](msgs); !ok || !c.Up {
		t.Fatalf("%+v", msgs)
	}
	// Narrow terminals shorten the database, never the badges.
	if v := tuitest.Plain(m.View(80)); !strings.Contains(v, "READ-ONLY") || len([]rune(v)) > 80 {
		t.Fatalf("%q", v)
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
