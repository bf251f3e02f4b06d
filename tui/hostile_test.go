package tui

import (
	"context"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"eventscope/domain"
	"eventscope/internal/textsafe"
	"eventscope/store/storetest"
	"eventscope/subscriptions"
	"eventscope/tui/common"
	"eventscope/tui/tuitest"
)

// Stored before the store refused them: a stream id with a bidi override
// and a zero-width space, a type with OSC and CSI sequences and a C1 CSI,
// data and metadata with C1 and format characters.
const (
	hostileStream = "evil-1\u202e\u200b"
	hostileType   = "Evil\x1b]0;owned\x07\x1b[2J\u009b31m\u2066"
	hostileData   = `{"x":"\u001b[31mred\u009b\u202e","k":"` + "\u2067\u0085\u200d\ufeff" + `"}`
	hostileMeta   = `{"m":"\u009b\u202e","correlationId":"c\u202e1"}`
	hostileErr    = "boom \x1b[2J\u009b\u202e"
	hostileSub    = "sub\u202e\x1b[1m"
)

// TestConsoleSanitisesStoredText (issue 8 item 4, console side): no view
// prints a control or format character from stored data, for data stored
// before the store refused such characters: the overview, streams, a
// stream, an event, time-travel, subscriptions, tail and types render the
// hostile values escaped.
func TestConsoleSanitisesStoredText(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := openStore(t)
	raw := storetest.RawEvent{Type: hostileType, Data: hostileData, Metadata: hostileMeta}
	if err := storetest.RawAppend(ctx, st.Pool(), hostileStream, raw, raw); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `INSERT INTO eventscope.subscriptions (name, categories, types, state, holder_host, holder_pid, heartbeat, last_error, last_error_at)
		VALUES ($1, ARRAY[$2], ARRAY[$3], 'failing', $4, 42, now(), $5, now())`,
		hostileSub, "evil\u200b", hostileType, "host\x1b]0;x\x07\u202e", hostileErr); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Store: st, Admin: subscriptions.NewAdmin(st), Monitor: subscriptions.NewMonitor(st, 100*time.Millisecond),
		TimeTravel: domain.NewTimeTravel(st, domain.DefaultRegistry(), domain.TimeTravelOptions{})}
	for _, c := range []struct {
		view  string
		open  []tea.Msg
		ready string // shown once the view is ready for keys or events
		keys  []string
		wait  string
		after func()
	}{
		{view: "overview", wait: "Evil"},
		{view: "streams", open: []tea.Msg{common.SwitchTabMsg{View: "streams"}}, wait: "evil-1"},
		{view: "stream", open: []tea.Msg{common.OpenStreamMsg{Stream: hostileStream, Version: -1}}, wait: "Evil"},
		{view: "event", open: []tea.Msg{common.OpenStreamMsg{Stream: hostileStream, Version: -1}}, ready: "showing v0", keys: []string{"enter"}, wait: "red"},
		{view: "timetravel", open: []tea.Msg{common.OpenTimeTravelMsg{Stream: hostileStream, Version: -1}}, wait: "red"},
		{view: "subs", open: []tea.Msg{common.SwitchTabMsg{View: "subs"}}, wait: "boom"},
		{view: "subdetail", open: []tea.Msg{common.OpenSubMsg{Name: hostileSub}}, wait: "boom"},
		{view: "tail", open: []tea.Msg{common.SwitchTabMsg{View: "tail"}}, ready: "following", wait: "Evil", after: func() {
			if err := storetest.RawAppend(ctx, st.Pool(), hostileStream, raw); err != nil {
				t.Error(err)
			}
			st.Wake()
		}},
		{view: "related", open: []tea.Msg{common.OpenCorrelatedMsg{ID: "c\u202e1"}}, wait: "Evil"},
		{view: "types", open: []tea.Msg{common.SwitchTabMsg{View: "types"}}, wait: "Evil"},
	} {
		t.Run(c.view, func(t *testing.T) {
			d := DepsFor(ctx, cfg)
			tm := start(t, New(ctx, testCommon(), d), goldenW, goldenH)
			if c.open == nil {
				waitFor(t, tm, "PostgreSQL", c.wait) // the header's stats and the overview's
			} else {
				waitFor(t, tm, "PostgreSQL") // the header's stats arrived
			}
			for _, m := range c.open {
				tm.Send(m)
			}
			if c.ready != "" {
				waitFor(t, tm, c.ready)
			}
			keys(tm, c.keys...)
			if c.after != nil {
				c.after()
			}
			if c.open != nil {
				waitFor(t, tm, c.wait)
			}
			if err := tm.Quit(); err != nil {
				t.Fatal(err)
			}
			m := tm.FinalModel(t, teatest.WithFinalTimeout(20*time.Second)).(*Model)
			view := m.View()
			if got := m.tabs[m.tab][len(m.tabs[m.tab])-1].Title(); c.view != "overview" && got == "overview" {
				t.Fatalf("still on the overview")
			}
			for _, r := range view {
				if r != '\n' && textsafe.Unsafe(r) {
					t.Fatalf("%s printed %U raw:\n%s", c.view, r, tuitest.Plain(view))
				}
			}
		})
	}
}
