package tui

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"

	"eventscope/store"
	"eventscope/tui/common"
	"eventscope/tui/tuitest"
)

const (
	goldenW = 120
	goldenH = 36
)

func newApp(t *testing.T, w *world, d Deps) *Model {
	t.Helper()
	return New(w.ctx, testCommon(), d)
}

// testCommon is tuitest.Common where debounces (short timers) fire at once
// and polls and expiries never.
func testCommon() common.Common {
	c := tuitest.Common(goldenW, goldenH)
	c.Tick = func(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd {
		if d > 100*time.Millisecond {
			return nil
		}
		return func() tea.Msg { return fn(tuitest.Now) }
	}
	return c
}

func start(t *testing.T, m *Model, wdt, h int) *teatest.TestModel {
	t.Helper()
	return teatest.NewTestModel(t, m, teatest.WithInitialTermSize(wdt, h))
}

func waitFor(t *testing.T, tm *teatest.TestModel, text ...string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		for _, s := range text {
			if !bytes.Contains(b, []byte(s)) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(20*time.Second), teatest.WithCheckInterval(5*time.Millisecond))
}

func keys(tm *teatest.TestModel, ks ...string) {
	for _, k := range ks {
		tm.Send(tuitest.Key(k))
	}
}

// finish quits and goldens the last frame (plain text: ASCII profile).
func finish(t *testing.T, tm *teatest.TestModel) *Model {
	t.Helper()
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	m := tm.FinalModel(t, teatest.WithFinalTimeout(20*time.Second)).(*Model)
	golden.RequireEqual(t, []byte(tuitest.Plain(m.View())))
	return m
}

func setup(t *testing.T) (*world, Deps) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w := newWorld(ctx)
	return w, w.deps()
}

func TestGoldenOverview(t *testing.T) {
	t.Parallel()
	w, d := setup(t)
	w.blocker = &store.Blocker{PID: 4242, Age: 192 * time.Second, State: "idle in transaction", Query: "UPDATE accounts SET balance = 0", ApplicationName: "psql", Database: "shop"}
	d.ReadOnly = true
	tm := start(t, newApp(t, w, d), goldenW, goldenH)
	waitFor(t, tm, "OrderPlaced", "held back", "1 failing")
	finish(t, tm)
}

func TestGoldenStreamsFilter(t *testing.T) {
	t.Parallel()
	_, d := setup(t)
	w, _ := setup(t)
	tm := start(t, newApp(t, w, d), goldenW, goldenH)
	keys(tm, "2")
	waitFor(t, tm, "customer-7", "PostgreSQL 15.20") // the overview's stats reached the header
	keys(tm, "/", "o", "4", "2")
	waitFor(t, tm, `1 matches for "o42"`) // the server's answer, not "0 matches … searching…"
	finish(t, tm)
}

func TestGoldenStreamEventCausation(t *testing.T) {
	t.Parallel()
	w, d := setup(t)
	tm := start(t, newApp(t, w, d), goldenW, goldenH)
	keys(tm, ":")
	for _, r := range "stream order-42" {
		tm.Send(tuitest.Key(string(r)))
	}
	keys(tm, "enter")
	waitFor(t, tm, "showing v0–v2")
	keys(tm, "j", "enter") // OrderApproved
	waitFor(t, tm, "order-42 @ v1")
	keys(tm, "C") // -> CreditReserved on customer-7
	waitFor(t, tm, "customer-7 @ v0")
	m := finish(t, tm)
	if got := len(m.tabs[1]); got != 4 {
		t.Fatalf("stack depth %d: streams › order-42 › event › event", got)
	}
}

func TestGoldenCorrelated(t *testing.T) {
	t.Parallel()
	w, d := setup(t)
	tm := start(t, newApp(t, w, d), goldenW, goldenH)
	keys(tm, ":")
	for _, r := range "stream order-42" {
		tm.Send(tuitest.Key(string(r)))
	}
	keys(tm, "enter")
	waitFor(t, tm, "showing v0–v2")
	keys(tm, "enter")
	waitFor(t, tm, "correlation cmd-1")
	keys(tm, "O")
	waitFor(t, tm, "3 events, in global order")
	finish(t, tm)
}

func TestGoldenTimeTravel(t *testing.T) {
	t.Parallel()
	w, d := setup(t)
	tm := start(t, newApp(t, w, d), goldenW, goldenH)
	keys(tm, ":")
	for _, r := range "state order-42@0" {
		tm.Send(tuitest.Key(string(r)))
	}
	keys(tm, "enter")
	waitFor(t, tm, "version 0 of 2")
	keys(tm, "right", "right", "left") // v1
	waitFor(t, tm, "version 1 of 2")
	finish(t, tm)
}

func TestGoldenTail(t *testing.T) {
	t.Parallel()
	w, d := setup(t)
	tm := start(t, newApp(t, w, d), goldenW, goldenH)
	keys(tm, "4")
	waitFor(t, tm, "order-229")
	keys(tm, "k", "k", "k")
	waitFor(t, tm, "paused")
	finish(t, tm)
}

func TestGoldenSubscriptions(t *testing.T) {
	t.Parallel()
	w, d := setup(t)
	tm := start(t, newApp(t, w, d), goldenW+40, goldenH)
	keys(tm, "5")
	waitFor(t, tm, "order-summary")
	keys(tm, "j", "p")
	waitFor(t, tm, "paused order-summary")
	finish(t, tm)
	if strings.Join(w.Calls(), ",") != "pause order-summary" {
		t.Fatalf("calls %v", w.Calls())
	}
}

func TestGoldenSubDetail(t *testing.T) {
	t.Parallel()
	w, d := setup(t)
	tm := start(t, newApp(t, w, d), goldenW+40, goldenH)
	keys(tm, "5")
	waitFor(t, tm, "order-summary")
	keys(tm, "enter")
	waitFor(t, tm, "Parked events")
	keys(tm, "x")
	waitFor(t, tm, "Type notifications to confirm")
	finish(t, tm)
	if len(w.Calls()) != 0 {
		t.Fatalf("skip ran before confirmation: %v", w.Calls())
	}
}

func TestGoldenPalette(t *testing.T) {
	t.Parallel()
	w, d := setup(t)
	tm := start(t, newApp(t, w, d), goldenW, goldenH)
	waitFor(t, tm, "Top event types")
	keys(tm, ":", "s", "u")
	waitFor(t, tm, "a subscription's detail")
	finish(t, tm)
}

func TestGoldenHelp(t *testing.T) {
	t.Parallel()
	w, d := setup(t)
	tm := start(t, newApp(t, w, d), goldenW, goldenH)
	keys(tm, "2")
	waitFor(t, tm, "customer-7", "PostgreSQL 15.20") // the overview's stats reached the header
	keys(tm, "?")
	waitFor(t, tm, "any key closes")
	finish(t, tm)
}

func TestGoldenTooSmall(t *testing.T) {
	t.Parallel()
	w, d := setup(t)
	tm := start(t, newApp(t, w, d), 50, 12)
	waitFor(t, tm, "too small")
	finish(t, tm)
}

func TestGoldenConnectionLost(t *testing.T) {
	t.Parallel()
	w, d := setup(t)
	tm := start(t, newApp(t, w, d), goldenW, goldenH)
	waitFor(t, tm, "Top event types")
	tm.Send(common.ConnStateMsg{Up: false, Err: io.ErrUnexpectedEOF})
	waitFor(t, tm, "reconnecting in the background")
	finish(t, tm)
}

// Unit tests of the root's routing (no goldens).

func drive(m *Model, msgs ...tea.Msg) []tea.Msg {
	var out []tea.Msg
	queue := msgs
	for round := 0; len(queue) > 0 && round < 50; round++ {
		var next []tea.Msg
		for _, msg := range queue {
			out = append(out, msg)
			_, cmd := m.Update(msg)
			next = append(next, tuitest.DrainWithin(cmd, 100*time.Millisecond)...)
		}
		queue = next
	}
	return out
}

func rootModel(t *testing.T) (*Model, *world, Deps) {
	t.Helper()
	w, d := setup(t)
	m := newApp(t, w, d)
	drive(m, tea.WindowSizeMsg{Width: goldenW, Height: goldenH})
	drive(m, tuitest.DrainWithin(m.Init(), 100*time.Millisecond)...)
	return m, w, d
}

func TestTabsBackAndMouse(t *testing.T) {
	t.Parallel()
	m, _, _ := rootModel(t)
	for _, s := range []struct {
		key  string
		want int
	}{{"2", 1}, {"3", 2}, {"4", 3}, {"5", 4}, {"3", 2}, {"1", 0}} {
		drive(m, tuitest.Key(s.key))
		if m.tab != s.want {
			t.Fatalf("%s -> tab %d", s.key, m.tab)
		}
	}
	drive(m, tuitest.Key("tab"))
	if m.tab != 1 {
		t.Fatal("tab")
	}
	drive(m, tuitest.Key("shift+tab"))
	if m.tab != 0 {
		t.Fatal("shift+tab")
	}
	// A click on a tab label switches to it.
	drive(m, tea.MouseMsg{X: 44, Y: 1, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress})
	if m.tab != 3 {
		t.Fatalf("click on Tail -> tab %d", m.tab)
	}
	drive(m, tuitest.Key("2"), tuitest.Key("enter"))
	if len(m.tabs[1]) != 2 {
		t.Fatalf("enter opened nothing: %d", len(m.tabs[1]))
	}
	drive(m, tuitest.Key("esc"))
	if len(m.tabs[1]) != 1 {
		t.Fatal("esc did not go back")
	}
	// Mouse wheel reaches the page, relative to the body.
	drive(m, tea.MouseMsg{X: 5, Y: 8, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress})
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "▶ customer-7") && !strings.Contains(v, "▶ order-") {
		t.Fatalf("click selected nothing:\n%s", v)
	}
}

func TestTimeTravelJumpAndBack(t *testing.T) {
	t.Parallel()
	m, _, _ := rootModel(t)
	drive(m, common.OpenTimeTravelMsg{Stream: "order-42", Version: 0})
	drive(m, tuitest.Key("@"))
	drive(m, tuitest.Key("2"))
	drive(m, tuitest.Key("enter"))
	if m.tab != 2 || !strings.Contains(m.page().Title(), "order-42@2") {
		t.Fatalf("tab %d title %q", m.tab, m.page().Title())
	}
	drive(m, tuitest.Key("4"))
	if m.tab != 3 {
		t.Fatalf("digits switch views in time-travel too: tab %d", m.tab)
	}
	drive(m, tuitest.Key("3"), tuitest.Key("esc"))
	if m.tab != 2 {
		t.Fatalf("esc at a tab's root does nothing, but moved to tab %d", m.tab)
	}
}

// TestEscAtRootStays (issue 14, item 1): esc pops pages, clears a
// filter, and at a tab's root does nothing — it never moves to another
// tab (Streams after clearing its filter went to Overview; Tail and
// Time-travel sent each other back and forth).
func TestEscAtRootStays(t *testing.T) {
	t.Parallel()
	m, _, _ := rootModel(t)
	for _, k := range []string{"2", "/", "o", "esc", "/", "o", "enter", "esc", "esc", "esc"} {
		drive(m, tuitest.Key(k)) // the filter, a stream, back, the filter cleared, the root
	}
	if m.tab != 1 || len(m.tabs[1]) != 1 {
		t.Fatalf("esc after clearing the filter: tab %d depth %d, want Streams' root", m.tab, len(m.tabs[1]))
	}
	for _, k := range []string{"3", "o", "esc", "esc"} {
		drive(m, tuitest.Key(k))
	}
	if m.tab != 2 {
		t.Fatalf("esc in Time-travel's prompt went to tab %d", m.tab)
	}
	for _, k := range []string{"4", "esc", "esc"} {
		drive(m, tuitest.Key(k))
	}
	if m.tab != 3 {
		t.Fatalf("esc in Tail went to tab %d", m.tab)
	}
	for _, k := range []string{"2", "enter", "esc", "esc"} {
		drive(m, tuitest.Key(k))
	}
	if m.tab != 1 || len(m.tabs[1]) != 1 {
		t.Fatalf("esc from a stream: tab %d depth %d, want Streams' root", m.tab, len(m.tabs[1]))
	}
	// t on a stream opens Time-travel: esc returns to the stream, once;
	// esc there pops to Streams, and back in Time-travel esc stays.
	for _, k := range []string{"enter", "t"} {
		drive(m, tuitest.Key(k))
	}
	if m.tab != 2 {
		t.Fatalf("t on a stream: tab %d", m.tab)
	}
	drive(m, tuitest.Key("esc"))
	if m.tab != 1 || len(m.tabs[1]) != 2 {
		t.Fatalf("esc from the time-travel t opened: tab %d depth %d, want the stream", m.tab, len(m.tabs[1]))
	}
	for _, k := range []string{"esc", "3", "esc"} {
		drive(m, tuitest.Key(k))
	}
	if m.tab != 2 {
		t.Fatalf("esc in Time-travel, reached by its key, went to tab %d", m.tab)
	}
}

func TestCopyWritesOSC52(t *testing.T) {
	t.Parallel()
	m, _, d := rootModel(t)
	drive(m, tuitest.Key("2"))
	msgs := drive(m, tuitest.Key("y"))
	buf := d.Clipboard.(*bytes.Buffer)
	if buf.String() != common.OSC52("customer-7") {
		t.Fatalf("clipboard got %q", buf.String())
	}
	if st, ok := tuitest.Find[common.StatusMsg](msgs); !ok || !strings.Contains(st.Text, "copied stream id") {
		t.Fatalf("%+v", msgs)
	}
	if !strings.Contains(tuitest.Plain(m.View()), `✓ copied stream id "customer-7" (10 B) to the clipboard`) {
		t.Fatalf("the confirmation does not say what was copied:\n%s", tuitest.Plain(m.View()))
	}
}

// TestCopyUnsupportedSaysSo (issue 14, item 9): when the terminal cannot
// take OSC 52, y says it could not copy, and why, instead of a false ✓.
func TestCopyUnsupportedSaysSo(t *testing.T) {
	t.Parallel()
	w, d := setup(t)
	d.ClipboardCheck = func() error { return fmt.Errorf("macOS Terminal does not take OSC 52 clipboard writes") }
	m := newApp(t, w, d)
	drive(m, tea.WindowSizeMsg{Width: goldenW, Height: goldenH})
	drive(m, tuitest.DrainWithin(m.Init(), 100*time.Millisecond)...)
	drive(m, tuitest.Key("2"))
	drive(m, tuitest.Key("y"))
	if buf := d.Clipboard.(*bytes.Buffer); buf.Len() != 0 {
		t.Fatalf("wrote %q to a terminal that cannot take it", buf.String())
	}
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "✗ could not copy stream id: macOS Terminal does not take OSC 52") {
		t.Fatalf("no failure on screen:\n%s", v)
	}
}

func TestClipboardSupport(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	tmux := func(v string) func() (string, error) { return func() (string, error) { return v, nil } }
	for _, c := range []struct {
		env  func(string) string
		tmux string
		ok   bool
		why  string
	}{
		{env("TERM", "xterm-kitty", "KITTY_WINDOW_ID", "1"), "", true, ""},
		{env("TERM_PROGRAM", "iTerm.app"), "", true, ""},
		{env("TMUX", "/tmp/tmux-0/default,1,0"), "on\n", true, ""},
		{env("TMUX", "/tmp/tmux-0/default,1,0"), "external\n", true, ""},
		{env("TMUX", "/tmp/tmux-0/default,1,0"), "off\n", false, "set-clipboard option is off"},
		{env("TERM_PROGRAM", "Apple_Terminal"), "", false, "macOS Terminal"},
		{env("TERM", "linux"), "", false, "Linux console"},
		{env("TERM", "xterm-256color", "VTE_VERSION", "7200"), "", false, "VTE terminals"},
		{env("TERM", "screen", "STY", "123.pts-0"), "", false, "GNU screen"},
	} {
		err := common.ClipboardSupport(c.env, tmux(c.tmux))
		if (err == nil) != c.ok || (err != nil && !strings.Contains(err.Error(), c.why)) {
			t.Errorf("%v: %v", c, err)
		}
	}
}

func TestReadOnlyKeySaysWhy(t *testing.T) {
	t.Parallel()
	w, d := setup(t)
	d.ReadOnly = true
	m := newApp(t, w, d)
	drive(m, tea.WindowSizeMsg{Width: 160, Height: goldenH})
	drive(m, tuitest.Drain(m.Init())...)
	drive(m, tuitest.Key("5"))
	drive(m, tuitest.Key("p"))
	v := tuitest.Plain(m.View())
	if !strings.Contains(v, "✗ pause is disabled: the console was started with --read-only") || !strings.Contains(v, "READ-ONLY") {
		t.Fatalf("view:\n%s", v)
	}
	if len(w.Calls()) != 0 {
		t.Fatalf("%v", w.Calls())
	}
}

// TestRoleReadOnlySaysWhy: a console whose role may not administer is
// read-only as with --read-only, and says why: at start, and on an admin key.
func TestRoleReadOnlySaysWhy(t *testing.T) {
	t.Parallel()
	w, d := setup(t)
	d.ReadOnly = true
	d.ReadOnlyReason = "role app is not an eventscope_admin"
	m := newApp(t, w, d)
	drive(m, tea.WindowSizeMsg{Width: 160, Height: goldenH})
	drive(m, tuitest.Drain(m.Init())...)
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "read-only: role app is not an eventscope_admin") || !strings.Contains(v, "READ-ONLY") {
		t.Fatalf("start view:\n%s", v)
	}
	drive(m, tuitest.Key("5"))
	drive(m, tuitest.Key("p"))
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "✗ pause is disabled: role app is not an eventscope_admin") {
		t.Fatalf("view:\n%s", v)
	}
}

// panicky is a page whose Update and View panic on demand.
type panicky struct{ boom bool }

func (p *panicky) ID() int64     { return -1 }
func (p *panicky) Init() tea.Cmd { return nil }
func (p *panicky) Update(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyMsg); ok && k.String() == "!" {
		panic("kaboom")
	}
	if k, ok := msg.(tea.KeyMsg); ok && k.String() == "@" {
		return func() tea.Msg { panic("in a command") }
	}
	return nil
}
func (p *panicky) View() string {
	if p.boom {
		panic("draw")
	}
	return "fine"
}
func (p *panicky) SetSize(int, int)            {}
func (p *panicky) Title() string               { return "panicky" }
func (p *panicky) ShortHelp() []key.Binding    { return nil }
func (p *panicky) FullHelp() [][]key.Binding   { return nil }
func (p *panicky) ClaimsKey(k tea.KeyMsg) bool { return true }

func TestPanicsNeverCrash(t *testing.T) {
	t.Parallel()
	m, _, _ := rootModel(t)
	p := &panicky{}
	m.tabs[0] = append(m.tabs[0], p)
	drive(m, tuitest.Key("!"))
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "internal error (please report): kaboom") {
		t.Fatalf("view:\n%s", v)
	}
	msgs := drive(m, tuitest.Key("@"))
	if e, ok := tuitest.Find[common.ErrorMsg](msgs); !ok || !strings.Contains(e.Error(), "in a command") {
		t.Fatalf("%+v", msgs)
	}
	p.boom = true
	if v := m.View(); !strings.Contains(v, "internal error while drawing") {
		t.Fatalf("view %q", v)
	}
}

func TestConnectionBannerAndRefresh(t *testing.T) {
	t.Parallel()
	m, _, _ := rootModel(t)
	drive(m, common.ErrorMsg{Op: "list streams", Err: io.ErrUnexpectedEOF})
	if m.connErr == nil || !strings.Contains(tuitest.Plain(m.View()), "connection to the database lost") {
		t.Fatal("no banner")
	}
	drive(m, common.ConnStateMsg{Up: true})
	if m.connErr != nil || !strings.Contains(tuitest.Plain(m.View()), "reconnected") {
		t.Fatalf("view:\n%s", tuitest.Plain(m.View()))
	}
	// A query error on a live connection is a status line, not a banner.
	drive(m, common.ErrorMsg{Op: "list streams", Err: &store.ValidationError{Field: "cursor", Index: -1, Reason: "bad"}})
	if m.connErr != nil || !strings.Contains(tuitest.Plain(m.View()), "✗ list streams: invalid cursor: bad") {
		t.Fatal(tuitest.Plain(m.View()))
	}
}

func TestConfirmDialogRunsOnlyOnYes(t *testing.T) {
	t.Parallel()
	m, w, _ := rootModel(t)
	drive(m, tuitest.Key("5"))
	drive(m, tuitest.Key("R"))
	drive(m, tuitest.Key("enter")) // reset notifications to start: y/N
	if m.confirm == nil {
		t.Fatal("no dialog")
	}
	drive(m, tuitest.Key("enter"))
	if m.confirm != nil || len(w.Calls()) != 0 {
		t.Fatalf("enter is No: %v", w.Calls())
	}
	drive(m, tuitest.Key("R"))
	drive(m, tuitest.Key("enter"))
	drive(m, tuitest.Key("y"))
	if strings.Join(w.Calls(), ",") != "reset notifications start" {
		t.Fatalf("%v", w.Calls())
	}
}

func TestRunRejectsNoStore(t *testing.T) {
	t.Parallel()
	if err := Run(context.Background(), Config{}); err == nil {
		t.Fatal("Run without a store")
	}
}

// command runs a palette command as typed.
func command(m *Model, line string) {
	drive(m, tuitest.Key(":"))
	for _, r := range line {
		drive(m, tuitest.Key(string(r)))
	}
	drive(m, tuitest.Key("enter"))
}

func crumbLine(m *Model) string { return strings.Split(tuitest.Plain(m.View()), "\n")[2] }

// TestJumpsResetBreadcrumbs (issue 14, item 2): a palette command is a
// jump: its page opens over its home tab's root (a stream's in Streams),
// not on the trail of wherever the user was; at 80 columns the crumbs are
// cut from the left so the current page stays in sight.
func TestJumpsResetBreadcrumbs(t *testing.T) {
	t.Parallel()
	m, _, _ := rootModel(t)
	drive(m, tuitest.Key("5"))
	command(m, "stream customer-7")
	if got := strings.TrimSpace(crumbLine(m)); got != "Streams › customer-7" {
		t.Fatalf("5 then :stream customer-7: crumbs %q, want Streams › customer-7", got)
	}
	command(m, "sub nope")
	command(m, "sub notifications")
	if got := strings.TrimSpace(crumbLine(m)); got != "Subscriptions › notifications" {
		t.Fatalf(":sub nope then :sub notifications: crumbs %q", got)
	}
	// A drill-down still pushes: enter on a stream in Streams, then its
	// events, then the causation chain.
	command(m, "stream order-42")
	drive(m, tuitest.Key("enter"))
	if got := strings.TrimSpace(crumbLine(m)); !strings.HasPrefix(got, "Streams › order-42 › ") {
		t.Fatalf("enter on an event: crumbs %q", got)
	}
	drive(m, tea.WindowSizeMsg{Width: 80, Height: goldenH})
	for range 4 {
		drive(m, common.OpenStreamMsg{Stream: "customer-7", Version: -1})
		drive(m, common.OpenStreamMsg{Stream: "order-42", Version: -1})
	}
	drive(m, common.OpenStreamMsg{Stream: "customer-7", Version: -1})
	title := m.page().Title()
	got := crumbLine(m)
	if !strings.HasPrefix(got, " …") {
		t.Fatalf("crumbs wider than 80 columns are not cut from the left: %q", got)
	}
	if !strings.HasSuffix(strings.TrimRight(got, " "), title) {
		t.Fatalf("at 80 columns the current page %q is not at the end of the crumbs %q", title, got)
	}
}

// TestBadStateTargetLeavesYouWhereYouWere (issue 14, item 7): :state on a
// stream that does not exist flashes the error and keeps the time-travel
// shown before; a version past the last shows the last and says so; a
// stream typed in the empty tab's prompt that does not exist asks again.
func TestBadStateTargetLeavesYouWhereYouWere(t *testing.T) {
	t.Parallel()
	m, _, _ := rootModel(t)
	command(m, "state order-42@1")
	if m.tab != 2 || m.page().Title() != "time-travel order-42@1" {
		t.Fatalf("tab %d %q", m.tab, m.page().Title())
	}
	drive(m, tuitest.Key("4"))
	command(m, "state nope-1")
	if m.tab != 3 {
		t.Fatalf(":state nope-1 moved from Tail to tab %d", m.tab)
	}
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "✗ time-travel nope-1: stream nope-1 not found") {
		t.Fatalf("no error flashed:\n%s", v)
	}
	drive(m, tuitest.Key("3"))
	if m.page().Title() != "time-travel order-42@1" {
		t.Fatalf("the time-travel shown before was replaced: %q", m.page().Title())
	}
	command(m, "state order-42@99999")
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "version 2 of 2") || !strings.Contains(v, "order-42 has no version 99999: showing the last, v2") {
		t.Fatalf("@99999 not clamped, or silently:\n%s", v)
	}
	drive(m, tuitest.Key("@"))
	for _, k := range []string{"5", "0", "enter"} {
		drive(m, tuitest.Key(k))
	}
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "version 2 of 2") || !strings.Contains(v, "order-42 has no version 50: showing the last, v2") {
		t.Fatalf("@50 not clamped, or silently:\n%s", v)
	}
	// The empty tab's prompt: a missing stream asks again, its text kept.
	m2, _, _ := rootModel(t)
	drive(m2, tuitest.Key("3"))
	for _, r := range "nope-1" {
		drive(m2, tuitest.Key(string(r)))
	}
	drive(m2, tuitest.Key("enter"))
	if v := tuitest.Plain(m2.View()); !strings.Contains(v, "Which stream? ") || !strings.Contains(v, "nope-1") || !strings.Contains(v, "stream nope-1 not found") {
		t.Fatalf("the prompt is not asked again:\n%s", v)
	}
}

// TestHelpListsWhatKeysDo (issue 14, item 9): the full help of every tab
// and of a drill-down lists each key once, and no key the root would not
// act on there (y where there is nothing to copy, esc at a root, / or r
// where the page has no filter or reload).
func TestHelpListsWhatKeysDo(t *testing.T) {
	t.Parallel()
	m, _, _ := rootModel(t)
	check := func(where string) map[string]bool {
		t.Helper()
		seen := map[string]bool{}
		for _, g := range m.helpGroups() {
			for _, b := range g {
				k := b.Help().Key
				if seen[k] {
					t.Fatalf("%s: the help lists %s twice", where, k)
				}
				seen[k] = true
			}
		}
		return seen
	}
	for i := range m.tabs {
		drive(m, tuitest.Key(fmt.Sprint(i+1)))
		seen := check(m.page().Title())
		if seen["esc"] {
			t.Fatalf("%s: esc listed at a tab's root, where it does nothing", m.page().Title())
		}
		if _, ok := m.page().(common.Copier); !ok && seen["y"] {
			t.Fatalf("%s: y listed with nothing to copy", m.page().Title())
		}
	}
	drive(m, tuitest.Key("2"))
	drive(m, tuitest.Key("enter"))
	if seen := check("a stream"); !seen["esc"] || !seen["y"] {
		t.Fatalf("a stream's help lacks esc or y: %v", seen)
	}
	drive(m, tuitest.Key("1"))
	if seen := check("Overview"); seen["/"] || seen["y"] {
		t.Fatalf("Overview lists keys that do nothing there: %v", seen)
	}
}
