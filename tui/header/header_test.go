package header

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"eventscope/store"
	"eventscope/tui/common"
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
