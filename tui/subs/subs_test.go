package subs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"eventscope/store"
	"eventscope/tui/action"
	"eventscope/tui/common"
	"eventscope/tui/tuitest"
)

func sample() []common.SubStatus {
	return []common.SubStatus{
		{Name: "order-summary", State: "live", Checkpoint: store.Checkpoint{Tx: 9, Pos: 100}, Lag: 0, Rate: 120, Holder: "vm:42", Heartbeat: tuitest.Now.Add(-time.Second)},
		{Name: "notifications", State: "failing", Checkpoint: store.Checkpoint{Tx: 9, Pos: 90}, Lag: 1500, Rate: 3, Parked: 2, LastError: "mailbox rejected\nmore", LastErrorAt: tuitest.Now.Add(-2 * time.Second)},
	}
}

func setup(t *testing.T, readOnly bool) (*Model, *tuitest.Admin) {
	t.Helper()
	f := tuitest.NewAdmin(sample(), nil)
	act := action.New(context.Background(), f, readOnly)
	m := New(context.Background(), tuitest.Common(150, 20), f, act, common.NewSubHistory(10))
	m.SetSize(150, 20)
	tuitest.Settle(m, common.SubsMsg{Subs: f.Subs(), At: tuitest.Now})
	return m, f
}

func TestTableAndSnapshots(t *testing.T) {
	t.Parallel()
	m, f := setup(t, false)
	v := tuitest.Plain(m.View())
	for _, want := range []string{"2 subscriptions", "notifications", "failing", "1,500", "mailbox rejected", "order-summary", "live", "vm:42"} {
		if !strings.Contains(v, want) {
			t.Fatalf("view lacks %q:\n%s", want, v)
		}
	}
	if s, _ := m.Selected(); s.Name != "notifications" {
		t.Fatalf("sorted by name: %s first", s.Name)
	}
	// A new snapshot changes the table without a keypress, keeping the
	// selection on its subscription.
	tuitest.Settle(m, tuitest.Key("j"))
	next := sample()
	next[0].State = "paused"
	next = append(next, common.SubStatus{Name: "a-first", State: "live"})
	tuitest.Settle(m, common.SubsMsg{Subs: next, At: tuitest.Now})
	if s, _ := m.Selected(); s.Name != "order-summary" || s.State != "paused" {
		t.Fatalf("selection %+v", s)
	}
	_ = f
}

func TestPauseResumeAndReset(t *testing.T) {
	t.Parallel()
	m, f := setup(t, false)
	tuitest.Settle(m, tuitest.Key("j")) // order-summary, live
	msgs := tuitest.Settle(m, tuitest.Key("p"))
	done, ok := tuitest.Find[action.DoneMsg](msgs)
	if !ok || done.Err != nil || f.Calls()[0] != "pause order-summary" {
		t.Fatalf("p: %+v %v", msgs, f.Calls())
	}
	if s, _ := m.Selected(); s.State != "paused" {
		t.Fatalf("the action's fresh status shows at once: %+v", s)
	}
	tuitest.Settle(m, tuitest.Key("p"))
	if f.Calls()[1] != "resume order-summary" {
		t.Fatalf("p on a paused subscription resumes: %v", f.Calls())
	}
	// R opens the reset menu; "end" asks for the name to be typed.
	tuitest.Settle(m, tuitest.Key("R"))
	if !m.ClaimsKey(tuitest.Key("q")) {
		t.Fatal("the reset menu takes every key")
	}
	tuitest.Settle(m, tuitest.Key("down"))
	msgs = tuitest.Settle(m, tuitest.Key("enter"))
	conf, ok := tuitest.Find[common.ConfirmMsg](msgs)
	if !ok || conf.Typed != "order-summary" {
		t.Fatalf("reset to end must ask for the name: %+v", msgs)
	}
	if len(f.Calls()) != 2 {
		t.Fatal("nothing runs before the confirmation")
	}
	tuitest.Drain(conf.Action)
	if f.Calls()[2] != "reset order-summary end" {
		t.Fatalf("%v", f.Calls())
	}
	// Reset to start asks y/N only.
	tuitest.Settle(m, tuitest.Key("R"))
	msgs = tuitest.Settle(m, tuitest.Key("enter"))
	if conf, ok := tuitest.Find[common.ConfirmMsg](msgs); !ok || conf.Typed != "" {
		t.Fatalf("reset to start: %+v", msgs)
	}
	msgs = tuitest.Settle(m, tuitest.Key("enter"))
	if o, ok := tuitest.Find[common.OpenSubMsg](msgs); !ok || o.Name != "order-summary" {
		t.Fatalf("enter opens the detail: %+v", msgs)
	}
}

func TestResetToCheckpointValidates(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, false)
	tuitest.Settle(m, tuitest.Key("R"))
	tuitest.Settle(m, tuitest.Key("down"))
	tuitest.Settle(m, tuitest.Key("down"))
	tuitest.Settle(m, tuitest.Key("enter"))
	for _, r := range "nope" {
		tuitest.Settle(m, tuitest.Key(string(r)))
	}
	msgs := tuitest.Settle(m, tuitest.Key("enter"))
	if _, ok := tuitest.Find[common.ConfirmMsg](msgs); ok || !strings.Contains(tuitest.Plain(m.View()), "TX:POS") {
		t.Fatalf("a bad checkpoint must be refused in place:\n%s", tuitest.Plain(m.View()))
	}
	for range 4 {
		tuitest.Settle(m, tuitest.Key("backspace"))
	}
	for _, r := range "9:50" {
		tuitest.Settle(m, tuitest.Key(string(r)))
	}
	msgs = tuitest.Settle(m, tuitest.Key("enter"))
	if conf, ok := tuitest.Find[common.ConfirmMsg](msgs); !ok || !strings.Contains(conf.Prompt, "checkpoint 9:50") {
		t.Fatalf("%+v", msgs)
	}
}

func TestReadOnlySaysWhy(t *testing.T) {
	t.Parallel()
	m, f := setup(t, true)
	for _, k := range []string{"p", "R"} {
		msgs := tuitest.Settle(m, tuitest.Key(k))
		st, ok := tuitest.Find[common.StatusMsg](msgs)
		if !ok || !strings.Contains(st.Text, "read-only") {
			t.Fatalf("%s: %+v", k, msgs)
		}
	}
	if m.reset != nil || len(f.Calls()) != 0 {
		t.Fatal("read-only opened a dialog or ran an action")
	}
	if !strings.Contains(tuitest.Plain(m.View()), "read-only: actions disabled") {
		t.Fatal("the view says it is read-only")
	}
}

func TestFilterByName(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, false)
	tuitest.Settle(m, tuitest.Key("/"))
	for _, r := range "sum" {
		tuitest.Settle(m, tuitest.Key(string(r)))
	}
	if len(m.rows) != 1 || m.rows[0].s.Name != "order-summary" {
		t.Fatalf("%+v", m.rows)
	}
	tuitest.Settle(m, tuitest.Key("esc"))
	if len(m.rows) != 2 {
		t.Fatal("esc clears")
	}
	if text, what, ok := m.CopyText(); !ok || text != "9:100" || !strings.Contains(what, "checkpoint") {
		t.Fatalf("copy %q %q", text, what)
	}
}

// TestGroupRow: a group of competing consumers shows its live members and
// partition count in the holder column.
func TestGroupRow(t *testing.T) {
	t.Parallel()
	m, f := setup(t, false)
	next := append(sample(), common.SubStatus{Name: "team", State: "live", Partitions: 16, Members: []common.SubMember{
		{Instance: "a", Live: true, Partitions: []int{0, 2}}, {Instance: "b", Live: true, Partitions: []int{1, 3}}, {Instance: "c"}}})
	tuitest.Settle(m, common.SubsMsg{Subs: next, At: tuitest.Now})
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "2 members (16)") {
		t.Fatalf("view lacks the group's members:\n%s", v)
	}
	_ = f
}

// TestNarrowKeepsParkedHolderError (issue 14, item 5): on 80 columns the
// table keeps parked, holder and the last error (it drops the trend, the
// heartbeat and the checkpoint instead).
func TestNarrowKeepsParkedHolderError(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, false)
	m.SetSize(80, 20)
	v := tuitest.Plain(m.View())
	for _, want := range []string{"parked", "holder", "last error", "vm:42", "mailbox", "notifications", "order-summary"} {
		if !strings.Contains(v, want) {
			t.Fatalf("80 columns lack %q:\n%s", want, v)
		}
	}
	for _, l := range strings.Split(v, "\n") {
		if w := len([]rune(l)); w > 80 {
			t.Fatalf("line of %d cells: %q", w, l)
		}
	}
	m.SetSize(150, 20)
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "lag trend") || !strings.Contains(v, "beat") {
		t.Fatalf("150 columns lack the trend or beat:\n%s", v)
	}
}

// TestStaleErrorClears (issue 14, item 7): a failed reload shows its
// error; the next reload that succeeds takes it away.
func TestStaleErrorClears(t *testing.T) {
	t.Parallel()
	m, f := setup(t, false)
	tuitest.Settle(m, listMsg{id: m.id, err: fmt.Errorf("connection reset by peer")})
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "connection reset by peer") {
		t.Fatalf("the failure is not shown:\n%s", v)
	}
	tuitest.Settle(m, listMsg{id: m.id, subs: f.Subs()})
	if v := tuitest.Plain(m.View()); strings.Contains(v, "connection reset by peer") {
		t.Fatalf("the failure stays after a success:\n%s", v)
	}
}

// TestSaysHeldBackInsteadOfLive (issue 14 item 6): while an open
// transaction holds the log back, a live subscription at lag 0 is shown
// "held back", and the status line names the transaction; when it ends,
// live again.
func TestSaysHeldBackInsteadOfLive(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, false)
	tuitest.Settle(m, common.RateMsg{Horizon: store.Horizon{Pending: 3, Blocker: &store.Blocker{PID: 4242, Age: 75 * time.Second}}})
	v := tuitest.Plain(m.View())
	if !strings.Contains(v, "held back by pid 4242 for 1m15s · 3 committed events wait") {
		t.Fatalf("want the blocker in the status line:\n%s", v)
	}
	row := lineWith(v, "order-summary")
	if !strings.Contains(row, "held back") || strings.Contains(row, "live") {
		t.Fatalf("row %q: want held back, not live", row)
	}
	if row := lineWith(v, "notifications"); !strings.Contains(row, "failing") {
		t.Fatalf("row %q: other states stay", row)
	}
	// A transaction of a few milliseconds is normal: no warning.
	tuitest.Settle(m, common.RateMsg{Horizon: store.Horizon{Pending: 1, Blocker: &store.Blocker{PID: 1, Age: 30 * time.Millisecond}}})
	if v := tuitest.Plain(m.View()); strings.Contains(v, "held back") || !strings.Contains(lineWith(v, "order-summary"), "live") {
		t.Fatalf("want live:\n%s", v)
	}
}

func lineWith(v, s string) string {
	for _, l := range strings.Split(v, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// TestFilterKeysInvertAndClear: state: and the other keys, "!" inverts,
// an unknown key names the keys there are, esc clears for good (a new
// snapshot does not bring the filter back).
func TestFilterKeysInvertAndClear(t *testing.T) {
	t.Parallel()
	m, f := setup(t, false)
	typeIn := func(s string) {
		tuitest.Settle(m, tuitest.Key("/"))
		for _, r := range s {
			tuitest.Settle(m, tuitest.Key(string(r)))
		}
	}
	shows := func(want ...string) {
		t.Helper()
		v := tuitest.Plain(m.View())
		_, table, _ := strings.Cut(v, "name")
		for _, name := range []string{"notifications", "order-summary"} {
			if strings.Contains(table, name) != slices.Contains(want, name) {
				t.Fatalf("want %v:\n%s", want, v)
			}
		}
	}
	typeIn("state:fail")
	shows("notifications")
	tuitest.Settle(m, tuitest.Key("esc"))
	shows("notifications", "order-summary")
	typeIn("!sum")
	shows("notifications")
	tuitest.Settle(m, tuitest.Key("esc"))
	typeIn("holder:vm")
	shows("order-summary")
	tuitest.Settle(m, tuitest.Key("esc"))
	typeIn("kind:x")
	if v := tuitest.Plain(m.View()); !strings.Contains(v, `unknown key "kind"`) || !strings.Contains(v, "cat:, holder:, state:, type:") {
		t.Fatalf("unknown key:\n%s", v)
	}
	tuitest.Settle(m, tuitest.Key("esc"))
	tuitest.Settle(m, common.SubsMsg{Subs: f.Subs(), At: tuitest.Now})
	shows("notifications", "order-summary")
	if v := tuitest.Plain(m.View()); strings.Contains(v, "kind") {
		t.Fatalf("esc cleared for good:\n%s", v)
	}
}
