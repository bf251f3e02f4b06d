package tui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/google/uuid"
	"github.com/muesli/termenv"

	"eventscope/domain"
	"eventscope/internal/testdb"
	"eventscope/store"
	"eventscope/subscriptions"
	"eventscope/tui/common"
	"eventscope/tui/tail"
	"eventscope/tui/tuitest"
)

// Tests of tui.Run's adapters against a real database: the store, the
// subscriptions admin, monitor and Follow, and the domain's time-travel.

func openStore(t *testing.T) *store.Store {
	t.Helper()
	return testdb.Store(t)
}

func appendOne(t *testing.T, st *store.Store, stream, typ, data, meta string) store.Event {
	t.Helper()
	ctx := context.Background()
	id := uuid.New()
	v, err := st.Append(ctx, stream, store.Any, store.NewEvent{ID: id, Type: typ, Data: json.RawMessage(data), Metadata: json.RawMessage(meta)})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := st.ReadStream(ctx, stream, store.ReadStreamOptions{From: v, Limit: 1})
	if err != nil || len(evs) != 1 {
		t.Fatalf("read back: %v %d", err, len(evs))
	}
	return evs[0]
}

func TestAdaptersOnPostgres(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := openStore(t)
	placed := appendOne(t, st, "order-1", "OrderPlaced", `{"customerId":"1","lines":[{"sku":"A","qty":1,"price":100}],"total":100}`, `{"correlationId":"c1","causationId":"c1"}`)
	reserved := appendOne(t, st, "customer-1", "CustomerRegistered", `{"name":"Ann","creditLimit":1000}`, fmt.Sprintf(`{"correlationId":"c1","causationId":%q}`, placed.EventID))
	appendOne(t, st, "thing-1", "Set", `{"a":1}`, `{}`)
	appendOne(t, st, "thing-1", "Set", `{"b":2}`, `{}`)

	cfg := Config{Store: st, Admin: subscriptions.NewAdmin(st), Monitor: subscriptions.NewMonitor(st, 100*time.Millisecond),
		TimeTravel: domain.NewTimeTravel(st, domain.DefaultRegistry(), domain.TimeTravelOptions{})}
	d := DepsFor(ctx, cfg)

	t.Run("event by id", func(t *testing.T) {
		e, err := d.Events.EventByID(ctx, reserved.EventID)
		if err != nil || e.StreamID != "customer-1" || e.Version != 0 {
			t.Fatalf("%+v %v", e, err)
		}
		if _, err := d.Events.EventByID(ctx, uuid.New()); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing: %v", err)
		}
	})
	t.Run("correlated", func(t *testing.T) {
		evs, err := d.Related.Correlated(ctx, "c1", 10)
		if err != nil || len(evs) != 2 || evs[0].EventID != placed.EventID || evs[1].EventID != reserved.EventID {
			t.Fatalf("%v %+v", err, evs)
		}
		if evs[0].Checkpoint != placed.Checkpoint || string(evs[1].Data) == "" {
			t.Fatalf("events not fully read: %+v", evs[0])
		}
	})
	t.Run("time-travel", func(t *testing.T) {
		tr, err := d.TimeTravel.TransitionAt(ctx, "thing-1", -1)
		if err != nil || tr.After.Version != 1 || tr.After.LastVersion != 1 || !tr.After.Generic {
			t.Fatalf("%+v %v", tr.After, err)
		}
		var s map[string]any
		_ = json.Unmarshal(tr.After.State, &s)
		if s["a"] != float64(1) || s["b"] != float64(2) {
			t.Fatalf("state %s", tr.After.State)
		}
		if len(tr.Changes) != 1 || tr.Changes[0].Path != "b" || tr.Changes[0].Kind != "added" {
			t.Fatalf("changes %+v", tr.Changes)
		}
		tr, err = d.TimeTravel.TransitionAt(ctx, "order-1", 0)
		if err != nil || tr.After.Generic || tr.After.Aggregate != "Order" {
			t.Fatalf("%+v %v", tr.After, err)
		}
		if _, err := d.TimeTravel.TransitionAt(ctx, "nope-1", -1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing stream: %v", err)
		}
	})
	t.Run("tail follows new events", func(t *testing.T) {
		tctx, tcancel := context.WithCancel(ctx)
		defer tcancel()
		f := tail.NewFeed(100, tctx.Done())
		f.SetWindow(0)
		d.Tail.StartTail(tctx, f)
		batches := make(chan []store.Event, 100)
		go func() {
			for {
				b, ok := f.Next(1)().(tail.BatchMsg)
				if !ok {
					return
				}
				batches <- b.Events
			}
		}()
		// The tail starts at the head once its reader is up: append until
		// an appended event arrives. (Events that were not deliverable yet
		// when it started, because a transaction somewhere on the cluster
		// was running, may come first: the no-skip guarantee.)
		deadline := time.After(20 * time.Second)
		want := map[uuid.UUID]bool{}
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				want[appendOne(t, st, "order-2", "OrderPlaced", `{"total":1}`, `{}`).EventID] = true
			case evs := <-batches:
				for _, e := range evs {
					if want[e.EventID] {
						return
					}
				}
			case <-deadline:
				t.Fatal("the tail saw none of the appended events")
			}
		}
	})
	t.Run("subscriptions admin and monitor", func(t *testing.T) {
		r := subscriptions.NewRunner(st, subscriptions.RunnerOptions{PollInterval: 100 * time.Millisecond})
		if err := r.Add(subscriptions.Subscription{Name: "s1", Handler: func(context.Context, store.Event) error { return nil }}); err != nil {
			t.Fatal(err)
		}
		rctx, rcancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- r.Run(rctx) }()
		defer func() { rcancel(); <-done }()
		snapshot := func(want func(common.SubStatus) bool) common.SubStatus {
			t.Helper()
			deadline := time.Now().Add(15 * time.Second)
			for time.Now().Before(deadline) {
				msg := d.SubsFeed.Next()().(common.SubsMsg)
				for _, s := range msg.Subs {
					if s.Name == "s1" && want(s) {
						return s
					}
				}
			}
			t.Fatal("no matching snapshot")
			return common.SubStatus{}
		}
		live := snapshot(func(s common.SubStatus) bool { return s.State == "live" })
		if live.Holder == "" || live.Checkpoint.IsZero() {
			t.Fatalf("%+v", live)
		}
		if err := d.Admin.Pause(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
		snapshot(func(s common.SubStatus) bool { return s.State == "paused" })
		if err := d.Admin.Pause(ctx, "nope"); !common.IsNotFound(err) {
			t.Fatalf("unknown subscription: %v", err)
		}
		p, err := d.SubDetail.Parked(ctx, "s1")
		if err != nil || len(p) != 0 {
			t.Fatalf("%v %v", p, err)
		}
	})
}

// TestConsoleOnPostgres drives the whole console on a real database.
func TestConsoleOnPostgres(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := openStore(t)
	for i := 0; i < 30; i++ {
		appendOne(t, st, fmt.Sprintf("order-%d", i), "OrderPlaced", `{"customerId":"1","lines":[],"total":0}`, `{}`)
	}
	cfg := Config{Store: st, Admin: subscriptions.NewAdmin(st), Monitor: subscriptions.NewMonitor(st, 0),
		TimeTravel: domain.NewTimeTravel(st, nil, domain.TimeTravelOptions{}), DatabaseURL: "postgres://u:secret@x/db"}
	d := DepsFor(ctx, cfg)
	m := New(ctx, testCommon(), d)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 36))
	waitFor(t, tm, "Events 30", "OrderPlaced")
	keys(tm, "2")
	waitFor(t, tm, "order-0")
	keys(tm, "/", "2", "9")
	waitFor(t, tm, `1 matches for "29"`)
	keys(tm, "enter")
	waitFor(t, tm, "showing v0–v0")
	keys(tm, "t")
	waitFor(t, tm, "Order aggregate")
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	v := tuitest.Plain(tm.FinalModel(t).(*Model).View())
	if !strings.Contains(v, "order-29  Order aggregate  ·  version 0 of 0") || strings.Contains(v, "secret") {
		t.Fatalf("final view:\n%s", v)
	}
}

// TestConsoleOnStandby: with the log read from a real hot standby
// (--read-db), the console browses the standby's events and its header
// says it reads a replica and how far behind the primary it is, refreshed
// every second: caught up, then behind (in the warning style past
// header.LagWarn) while the standby's replay is paused and the primary
// takes appends, then caught up again once it replays (and only then does
// the overview count the new events: it reads the standby).
func TestConsoleOnStandby(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	primaryURL, standbyURL := testdb.Replica(t)
	primary, err := store.Open(ctx, primaryURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Close()
	standby, err := store.Open(ctx, standbyURL, store.Options{NoMigrate: true, NoNotify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer standby.Close()
	for i := 0; i < 5; i++ {
		appendOne(t, primary, fmt.Sprintf("order-%d", i), "OrderPlaced", `{"customerId":"1","lines":[],"total":0}`, `{}`)
	}
	cfg := Config{Store: standby, Primary: primary, Admin: subscriptions.NewAdmin(primary), Monitor: subscriptions.NewMonitor(primary, 0),
		TimeTravel: domain.NewTimeTravel(standby, nil, domain.TimeTravelOptions{NoLazySnapshots: true}), DatabaseURL: standbyURL}
	d := DepsFor(ctx, cfg)
	c := testCommon()
	c.Tick = func(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd { return tea.Tick(d, fn) } // refresh for real
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.ANSI)
	c.Styles.Warning = r.NewStyle().Bold(true) // visible in the plain output
	m := New(ctx, c, d)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(160, 36))
	waitFor(t, tm, "Events 5", "replica · caught up")

	// Pause the standby's replay: the primary moves on, the standby does not.
	if _, err := standby.Pool().Exec(ctx, `SELECT pg_wal_replay_pause()`); err != nil {
		t.Fatal(err)
	}
	for i := 5; i < 8; i++ {
		appendOne(t, primary, fmt.Sprintf("order-%d", i), "OrderPlaced", `{"customerId":"1","lines":[],"total":0}`, `{}`)
	}
	waitFor(t, tm, "s behind")
	// Past LagWarn the header warns (the replay timestamp ages while paused).
	warn := c.Styles.Warning.Render("replica")
	warned := regexp.MustCompile(regexp.QuoteMeta(warn[:strings.Index(warn, "replica")]) + `replica · \d+\.\d s behind`)
	teatest.WaitFor(t, tm.Output(), warned.Match, teatest.WithDuration(time.Minute), teatest.WithCheckInterval(10*time.Millisecond))
	if _, err := standby.Pool().Exec(ctx, `SELECT pg_wal_replay_resume()`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, tm, "Events 8", "replica · caught up")
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	v := tuitest.Plain(tm.FinalModel(t, teatest.WithFinalTimeout(20*time.Second)).(*Model).View())
	if !strings.Contains(v, "replica") {
		t.Fatalf("final view:\n%s", v)
	}
}
