package subdetail

import (
	"context"
	"encoding/json"
	"fmt"
	tea "github.com/charmbracelet/bubbletea"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"eventscope/store"
	"eventscope/tui/action"
	"eventscope/tui/common"
	"eventscope/tui/tuitest"
)

func setup(t *testing.T, readOnly bool) (*Model, *tuitest.Admin) {
	t.Helper()
	st := common.SubStatus{Name: "notifications", State: "live", Categories: []string{"order"}, Types: []string{"OrderShipped"}, Lag: 3, Rate: 12, Parked: 2, Holder: "vm:1", Heartbeat: tuitest.Now}
	var parked []common.ParkedEvent
	for i, id := range []string{"aaaa0000-0000-0000-0000-000000000000", "bbbb0000-0000-0000-0000-000000000000"} {
		parked = append(parked, common.ParkedEvent{Event: store.Event{StreamID: "order-" + string(rune('1'+i)), EventID: uuid.MustParse(id), Type: "OrderShipped", Data: json.RawMessage(`{}`)},
			Attempts: 5, LastError: "mailbox rejected", ParkedAt: tuitest.Now.Add(-time.Minute)})
	}
	f := tuitest.NewAdmin([]common.SubStatus{st}, parked)
	hist := common.NewSubHistory(10)
	hist.Add([]common.SubStatus{st})
	m := New(context.Background(), tuitest.Common(140, 24), f, action.New(context.Background(), f, readOnly), hist, "notifications")
	m.SetSize(140, 24)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	return m, f
}

func TestDetailView(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, false)
	v := tuitest.Plain(m.View())
	for _, want := range []string{"notifications  live  filter: categories order; types OrderShipped", "lag 3", "parked 2", "lag history", "rate history", "order-1", "mailbox rejected"} {
		if !strings.Contains(v, want) {
			t.Fatalf("view lacks %q:\n%s", want, v)
		}
	}
}

func TestRetrySkipRetryAll(t *testing.T) {
	t.Parallel()
	m, f := setup(t, false)
	msgs := tuitest.Settle(m, tuitest.Key("t"))
	if _, ok := tuitest.Find[action.DoneMsg](msgs); !ok || f.Calls()[0] != "retry notifications aaaa0000" {
		t.Fatalf("t: %v %+v", f.Calls(), msgs)
	}
	if len(m.parked) != 1 {
		t.Fatal("the list reloads after an action")
	}
	msgs = tuitest.Settle(m, tuitest.Key("x"))
	conf, ok := tuitest.Find[common.ConfirmMsg](msgs)
	if !ok || conf.Typed != "notifications" || len(f.Calls()) != 1 {
		t.Fatalf("skip discards: it must ask for the name first: %+v", msgs)
	}
	tuitest.Drain(conf.Action)
	if f.Calls()[1] != "skip notifications bbbb0000" {
		t.Fatalf("%v", f.Calls())
	}
	msgs = tuitest.Settle(m, tuitest.Key("T"))
	conf, ok = tuitest.Find[common.ConfirmMsg](msgs)
	if !ok || conf.Typed != "" {
		t.Fatalf("retry all asks y/N: %+v", msgs)
	}
	msgs = tuitest.Settle(m, tuitest.Key("enter"))
	if _, ok := tuitest.Find[common.OpenEventMsg](msgs); ok || m.open == nil {
		t.Fatalf("enter shows the parked event's details first: %+v", msgs)
	}
	msgs = tuitest.Settle(m, tuitest.Key("enter"))
	if o, ok := tuitest.Find[common.OpenEventMsg](msgs); !ok || o.Event.StreamID != "order-2" {
		t.Fatalf("enter in the details opens the parked event: %+v", msgs)
	}
	if !m.ClaimsKey(tuitest.Key("esc")) {
		t.Fatal("esc in the details must close them, not leave the view")
	}
	tuitest.Settle(m, tuitest.Key("esc"))
	if m.open != nil {
		t.Fatal("esc did not close the details")
	}
	msgs = tuitest.Settle(m, tuitest.Key("p"))
	if f.Calls()[len(f.Calls())-1] != "pause notifications" {
		t.Fatalf("p: %v %+v", f.Calls(), msgs)
	}
}

func TestReadOnly(t *testing.T) {
	t.Parallel()
	m, f := setup(t, true)
	for _, k := range []string{"t", "T", "x", "p", "R"} {
		msgs := tuitest.Settle(m, tuitest.Key(k))
		if st, ok := tuitest.Find[common.StatusMsg](msgs); !ok || !strings.Contains(st.Text, "read-only") {
			t.Fatalf("%s: %+v", k, msgs)
		}
	}
	if len(f.Calls()) != 0 {
		t.Fatalf("%v", f.Calls())
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	f := tuitest.NewAdmin([]common.SubStatus{{Name: "x"}}, nil)
	m := New(context.Background(), tuitest.Common(100, 20), f, action.New(context.Background(), f, false), common.NewSubHistory(2), "gone")
	m.SetSize(100, 20)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	if !strings.Contains(tuitest.Plain(m.View()), `Subscription "gone" does not exist`) {
		t.Fatal(tuitest.Plain(m.View()))
	}
}

// TestGroupMembers: a group's detail shows each member with its partitions
// and lag, and the partitions no member holds; the parked table moves down
// to make room.
func TestGroupMembers(t *testing.T) {
	t.Parallel()
	f := tuitest.NewAdmin([]common.SubStatus{{Name: "team", State: "catching-up", Lag: 40, Partitions: 4, Heartbeat: tuitest.Now,
		Members: []common.SubMember{
			{Instance: "a1", Holder: "vm:10", Live: true, Partitions: []int{0, 2}, Lag: 40, Rate: 5},
			{Instance: "b2", Holder: "vm:11", Live: true, Partitions: []int{1}, Lag: 0},
			{Instance: "c3", Holder: "vm:12", Live: false, Partitions: []int{}},
		}, Unheld: []int{3}}}, nil)
	m := New(context.Background(), tuitest.Common(140, 24), f, action.New(context.Background(), f, false), common.NewSubHistory(2), "team")
	m.SetSize(140, 24)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	v := tuitest.Plain(m.View())
	for _, want := range []string{"holder 2 members (4)", "member a1 vm:10  live   partitions 0,2   lag 40",
		"member b2 vm:11  live   partitions 1   lag 0", "member c3 vm:12  gone   partitions -", "no member holds partitions 3"} {
		if !strings.Contains(v, want) {
			t.Fatalf("view lacks %q:\n%s", want, v)
		}
	}
	if m.headH != headLines+4 {
		t.Fatalf("summary height %d, want %d", m.headH, headLines+4)
	}
}

// TestWhyLine: the detail says why the subscription is behind, in one line
// under its name, and reloads it with each monitor snapshot.
func TestWhyLine(t *testing.T) {
	t.Parallel()
	m, f := setup(t, false)
	f.SetWhy("notifications", common.SubWhy{Reason: "retrying", Line: "behind 4m12s (3 events): retrying order-1@0 (attempt 3 of 5, next in 2.0s) · 2 parked"})
	if v := tuitest.Plain(m.View()); strings.Contains(v, "retrying order-1@0") {
		t.Fatalf("the line changed before a reload:\n%s", v)
	}
	cmd := m.Update(common.SubsMsg{Subs: f.Subs()})
	if cmd == nil {
		t.Fatal("a snapshot does not reload the why line")
	}
	tuitest.Settle(m, tuitest.Drain(cmd)...)
	lines := strings.Split(tuitest.Plain(m.View()), "\n")
	if !strings.HasPrefix(lines[1], "why behind 4m12s (3 events): retrying order-1@0 (attempt 3 of 5, next in 2.0s) · 2 parked") {
		t.Fatalf("line 2 = %q", lines[1])
	}
}

// TestParkedDetails: enter on a parked row shows the whole error, the first
// and last failure and every attempt; y copies all of it.
func TestParkedDetails(t *testing.T) {
	t.Parallel()
	m, f := setup(t, false)
	long := "mailbox rejected the message: " + strings.Repeat("550 5.1.1 user unknown; ", 12) + "END-OF-ERROR\nsecond line of the error"
	first := tuitest.Now.Add(-3 * time.Minute)
	parked, _ := f.Parked(context.Background(), "notifications")
	parked[0].LastError = long
	parked[0].FirstFailedAt = first
	for i := 1; i <= 5; i++ {
		parked[0].History = append(parked[0].History, common.Attempt{At: first.Add(time.Duration(i-1) * time.Second), Attempt: i, Error: fmt.Sprintf("try %d: %s", i, "mailbox rejected")})
	}
	f.SetParked(parked)
	tuitest.Settle(m, tuitest.Drain(m.Update(common.RefreshMsg{}))...)
	if _, _, ok := m.CopyText(); !ok {
		t.Fatal("nothing to copy")
	}
	tuitest.Settle(m, tuitest.Key("enter"))
	v := tuitest.Plain(m.View())
	for _, want := range []string{"Parked event order-1@0 OrderShipped of notifications", "first failure  " + first.Local().Format("2006-01-02 15:04:05.000"),
		"last failure   " + first.Add(4*time.Second).Local().Format("2006-01-02 15:04:05.000"), "attempts       5", "Last error", "Attempts (5 kept, oldest first)", "#1 "} {
		if !strings.Contains(v, want) {
			t.Fatalf("details lack %q:\n%s", want, v)
		}
	}
	// The whole error is there (wrapped, not cut), down to its end.
	for range 40 {
		tuitest.Settle(m, tuitest.Key("down"))
	}
	v = tuitest.Plain(m.View())
	if !strings.Contains(v, "END-OF-ERROR") && !strings.Contains(v, "try 5: mailbox rejected") {
		t.Fatalf("scrolled to the end, the view lacks the error's end and the last attempt:\n%s", v)
	}
	text, what, ok := m.CopyText()
	if !ok || !strings.Contains(what, "5 attempts of order-1@0") || !strings.Contains(text, long[:200]) || !strings.Contains(text, "second line of the error") ||
		!strings.Contains(text, "#5  ") || !strings.Contains(text, "try 5: mailbox rejected") {
		t.Fatalf("copy = %q (%s, %v)", text, what, ok)
	}
}

// TestRetryAllAtScaleAsksTheName (issue 14, item 8): retrying many parked
// events at once asks for the subscription's name, as a reset forward does.
func TestRetryAllAtScaleAsksTheName(t *testing.T) {
	t.Parallel()
	m, f := setup(t, false)
	parked, _ := f.Parked(context.Background(), "notifications")
	for len(parked) < retryAllAtScale {
		p := parked[0]
		p.Event.EventID = uuid.New()
		parked = append(parked, p)
	}
	f.SetParked(parked)
	tuitest.Settle(m, tuitest.Drain(m.Update(common.RefreshMsg{}))...)
	msgs := tuitest.Settle(m, tuitest.Key("T"))
	conf, ok := tuitest.Find[common.ConfirmMsg](msgs)
	if !ok || conf.Typed != "notifications" || !strings.Contains(conf.Prompt, "all 100 parked events") {
		t.Fatalf("retry all of 100: %+v", msgs)
	}
}

// TestMissingOffersNoActions (issue 14, item 7): the page of a name that
// is no subscription says so, and neither its keys nor its help offer
// actions on it (p, R, T asked to pause, reset or retry "nope").
func TestMissingOffersNoActions(t *testing.T) {
	t.Parallel()
	f := tuitest.NewAdmin(nil, nil)
	m := New(context.Background(), tuitest.Common(140, 24), f, action.New(context.Background(), f, false), common.NewSubHistory(10), "nope")
	m.SetSize(140, 24)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	if v := tuitest.Plain(m.View()); !strings.Contains(v, `Subscription "nope" does not exist`) {
		t.Fatalf("view:\n%s", v)
	}
	for _, k := range []string{"p", "R", "t", "T", "x", "enter"} {
		if msgs := tuitest.Settle(m, tuitest.Key(k)); len(msgs) > 1 {
			t.Fatalf("%s on a missing subscription did something: %+v", k, msgs)
		}
	}
	if len(f.Calls()) != 0 {
		t.Fatalf("actions on a missing subscription: %v", f.Calls())
	}
	for _, g := range m.FullHelp() {
		for _, b := range append(g, m.ShortHelp()...) {
			if k := b.Help().Key; k != "r" && k != "esc" {
				t.Fatalf("help offers %s %q on a missing subscription", k, b.Help().Desc)
			}
		}
	}
}

// TestClickOnSelectedOpens (issue 14, item 9): a click on the selected
// parked row opens it, as enter does and as in every list.
func TestClickOnSelectedOpens(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, false)
	y := -1
	for i, l := range strings.Split(tuitest.Plain(m.View()), "\n") {
		if strings.Contains(l, "order-1") {
			y = i
			break
		}
	}
	if y < 0 {
		t.Fatal("no parked row on screen")
	}
	tuitest.Settle(m, tea.MouseMsg{X: 3, Y: y, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress})
	if m.open == nil {
		t.Fatalf("a click on the selected row (line %d) opened nothing", y)
	}
}

// TestRetryOutcomeShowsByItself (issue 14 item 6): after t or T the
// parked list refreshes on the beat, without r: an event the holder
// delivered leaves the list, one that failed again comes back with its
// new attempts and error, and when none waits any more the outcome
// flashes. The selection follows its event meanwhile.
func TestRetryOutcomeShowsByItself(t *testing.T) {
	t.Parallel()
	m, f := setup(t, false)
	f.QueueRetries()
	tuitest.Settle(m, tuitest.Key("j")) // bbbb…, the second
	msgs := tuitest.Settle(m, tuitest.Key("T"))
	conf, ok := tuitest.Find[common.ConfirmMsg](msgs)
	if !ok {
		t.Fatalf("T asks first: %+v", msgs)
	}
	msgs = tuitest.Settle(m, tuitest.Drain(conf.Action)...)
	if d, ok := tuitest.Find[action.DoneMsg](msgs); !ok || d.Text != "queued 2 parked events of notifications for retry" {
		t.Fatalf("%+v", msgs)
	}
	v := tuitest.Plain(m.View())
	if !strings.Contains(v, "retry queued · mailbox rejected") || !strings.Contains(v, "retrying 2…") {
		t.Fatalf("want the queued retries shown:\n%s", v)
	}
	// The holder delivers aaaa… and fails bbbb… again, three more times.
	p := f.ParkedNow()
	f.SetParked([]common.ParkedEvent{{Event: p[1].Event, Attempts: 8, LastError: "mailbox full", ParkedAt: tuitest.Now}})
	msgs = tuitest.Settle(m, common.BeatMsg{})
	st, ok := tuitest.Find[common.StatusMsg](msgs)
	if !ok || st.Kind != common.Failure || st.Text != "retried 2 parked events of notifications: 1 delivered, 1 parked again: mailbox full" {
		t.Fatalf("outcome %+v, ok %v", st, ok)
	}
	if len(m.parked) != 1 || m.Retrying() != 0 {
		t.Fatalf("parked %d, retrying %d", len(m.parked), m.Retrying())
	}
	v = tuitest.Plain(m.View())
	if !strings.Contains(v, "mailbox full") || strings.Contains(v, "retry queued") || !strings.Contains(v, "updated just now") {
		t.Fatalf("want the new error, not queued:\n%s", v)
	}
	if sel, _ := m.selected(); sel.Event.EventID != p[1].Event.EventID {
		t.Fatal("the selection follows its event")
	}
	// One retry, delivered: it leaves and the flash says so.
	tuitest.Settle(m, tuitest.Drain(m.Update(tuitest.Key("t")))...)
	f.SetParked(nil)
	msgs = tuitest.Settle(m, common.BeatMsg{})
	if st, ok := tuitest.Find[common.StatusMsg](msgs); !ok || st.Kind != common.Success || st.Text != "retried the parked event of notifications: delivered" {
		t.Fatalf("outcome %+v", st)
	}
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "no parked events") {
		t.Fatalf("want the list empty:\n%s", v)
	}
}

// TestParkedFilter: "/" filters the parked events as you type (text in
// the stream, type or error; type:, cat:, stream:; "!" inverts); t then
// retries the row shown; an unknown key names the keys; esc clears for
// good (a reload does not bring it back).
func TestParkedFilter(t *testing.T) {
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
		_, table, _ := strings.Cut(v, "tries error")
		for _, s := range []string{"order-1", "order-2"} {
			if strings.Contains(table, s) != slices.Contains(want, s) {
				t.Fatalf("want %v:\n%s", want, v)
			}
		}
	}
	typeIn("stream:order-2")
	shows("order-2")
	if !strings.Contains(tuitest.Plain(m.View()), "1 of 2") {
		t.Fatalf("count:\n%s", tuitest.Plain(m.View()))
	}
	tuitest.Settle(m, tuitest.Key("enter"))
	tuitest.Settle(m, tuitest.Key("t"))
	if c := f.Calls(); len(c) == 0 || c[0] != "retry notifications bbbb0000" {
		t.Fatalf("t retries the row shown: %v", c)
	}
	tuitest.Settle(m, tuitest.Key("esc"))
	shows("order-1")
	typeIn("!order-1")
	shows()
	tuitest.Settle(m, tuitest.Key("esc"))
	typeIn("mailbox")
	shows("order-1")
	tuitest.Settle(m, tuitest.Key("esc"))
	typeIn("kind:x")
	if v := tuitest.Plain(m.View()); !strings.Contains(v, `unknown key "kind"`) || !strings.Contains(v, "cat:, stream:, type:") {
		t.Fatalf("unknown key:\n%s", v)
	}
	tuitest.Settle(m, tuitest.Key("esc"))
	tuitest.Settle(m, common.RefreshMsg{})
	if v := tuitest.Plain(m.View()); strings.Contains(v, "kind") || !strings.Contains(v, "order-1") {
		t.Fatalf("esc cleared for good:\n%s", v)
	}
}
