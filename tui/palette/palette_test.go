package palette

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"eventscope/store"
	"eventscope/tui/common"
	"eventscope/tui/tuitest"
)

// testCommands are commands like the root's (tui/views.go registers the
// real ones and tests their parsing).
func testCommands() []Command {
	return []Command{
		{Name: "streams", Desc: "browse", Run: Send(common.SwitchTabMsg{View: "streams"})},
		{Name: "stream", Aliases: []string{"s"}, Arg: "ID[@VERSION]", Complete: CompleteStreams,
			Run: func(arg string, _ time.Time) (tea.Msg, error) { return StreamAt("stream", arg) }},
		{Name: "sub", Arg: "NAME", Complete: CompleteSubs,
			Run: func(arg string, _ time.Time) (tea.Msg, error) { return common.OpenSubMsg{Name: arg}, nil }},
		{Name: "quit", Run: Send(QuitMsg{})},
	}
}

func TestParseChecksArguments(t *testing.T) {
	t.Parallel()
	cmds := testCommands()
	if got, err := Parse(cmds, ":S order-42@7", tuitest.Now); err != nil || got != (common.OpenStreamMsg{Stream: "order-42", Version: 7}) {
		t.Fatalf("%#v %v", got, err)
	}
	for _, bad := range []string{"", "bogus", "streams x", "quit now", "stream", "stream o@x"} {
		if _, err := Parse(cmds, bad, tuitest.Now); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

type fakeIDs []string

func (f fakeIDs) ListStreams(_ context.Context, o store.ListStreamsOptions) (store.StreamList, error) {
	var out []store.StreamInfo
	for _, id := range f {
		if (o.Prefix == "" || strings.HasPrefix(id, o.Prefix)) && strings.Contains(id, o.Match) {
			out = append(out, store.StreamInfo{StreamID: id})
		}
	}
	return store.StreamList{Streams: out}, nil
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	m := New(context.Background(), tuitest.Common(100, 20), fakeIDs{"order-1", "order-42", "customer-7"}, testCommands(), []string{"order-summary", "notifications"})
	typ := func(s string) tea.Cmd {
		var last tea.Cmd
		for _, r := range s {
			last, _ = m.Update(tuitest.Key(string(r)))
		}
		return last
	}
	typ("stre")
	if len(m.sugg) == 0 || !strings.HasPrefix(m.sugg[0].value, "stream") {
		t.Fatalf("%+v", m.sugg)
	}
	m.Update(tuitest.Key("tab"))
	if m.input.Value() != "streams" && m.input.Value() != "stream " {
		t.Fatalf("tab completed %q", m.input.Value())
	}
	m.input.SetValue("")
	typ("stream ord")
	// The server completion runs after a debounce; deliver it by hand.
	msgs := tuitest.Drain(m.complete())
	for _, msg := range msgs {
		m.Update(msg)
	}
	var labels []string
	for _, s := range m.sugg {
		labels = append(labels, s.value)
	}
	if strings.Join(labels, ",") != "stream order-1,stream order-42" {
		t.Fatalf("%v", labels)
	}
	m.Update(tuitest.Key("down"))
	cmd, done := m.Update(tuitest.Key("enter"))
	if !done {
		t.Fatal("enter closes")
	}
	if o := cmd().(common.OpenStreamMsg); o.Stream != "order-42" {
		t.Fatalf("%+v", o)
	}
	// A version typed after the id stays on the completed line.
	m.input.SetValue("")
	typ("stream order-4@1")
	for _, msg := range tuitest.Drain(m.complete()) {
		m.Update(msg)
	}
	cmd, _ = m.Update(tuitest.Key("enter"))
	if o := cmd().(common.OpenStreamMsg); o.Stream != "order-42" || o.Version != 1 {
		t.Fatalf("stream order-4@1 opened %+v", o)
	}
	m2 := New(context.Background(), tuitest.Common(100, 20), nil, testCommands(), []string{"order-summary", "notifications"})
	m = m2
	typ("sub noti")
	if len(m.sugg) != 1 || m.sugg[0].value != "sub notifications" {
		t.Fatalf("%+v", m.sugg)
	}
	m.Update(tuitest.Key("tab"))
	cmd, _ = m.Update(tuitest.Key("enter"))
	if o := cmd().(common.OpenSubMsg); o.Name != "notifications" {
		t.Fatalf("%+v", o)
	}
	m3 := New(context.Background(), tuitest.Common(100, 20), nil, testCommands(), nil)
	m = m3
	typ("bogus thing")
	_, done = m.Update(tuitest.Key("enter"))
	if done || !strings.Contains(tuitest.Plain(m.View(100)), "unknown command") {
		t.Fatalf("a bad command stays open with the error:\n%s", m.View(100))
	}
	_, done = m.Update(tuitest.Key("esc"))
	if !done {
		t.Fatal("esc closes")
	}
}

// TestHistory (issue 14, item 9): the palette keeps the commands that ran;
// ↑ on an empty line recalls them, newest first, ↓ goes back; a recalled
// command runs as it was.
func TestHistory(t *testing.T) {
	t.Parallel()
	var h History
	open := func() *Model {
		return New(context.Background(), tuitest.Common(100, 20), fakeIDs{"order-1", "order-42"}, testCommands(), []string{"notifications"}).WithHistory(&h)
	}
	run := func(m *Model, line string) tea.Msg {
		t.Helper()
		for _, r := range line {
			m.Update(tuitest.Key(string(r)))
		}
		cmd, done := m.Update(tuitest.Key("enter"))
		if !done || cmd == nil {
			t.Fatalf("%q did not run: %q", line, m.err)
		}
		return cmd()
	}
	run(open(), "sub notifications")
	run(open(), "stream order-42@3")
	run(open(), "sub notifications") // a repeat moves to the newest place
	if h.Len() != 2 {
		t.Fatalf("history holds %d commands, want 2", h.Len())
	}
	m := open()
	m.Update(tuitest.Key("up"))
	if v := m.input.Value(); v != "sub notifications" {
		t.Fatalf("↑ = %q", v)
	}
	m.Update(tuitest.Key("up"))
	if v := m.input.Value(); v != "stream order-42@3" {
		t.Fatalf("↑↑ = %q", v)
	}
	m.Update(tuitest.Key("up")) // the oldest: stays
	m.Update(tuitest.Key("down"))
	if v := m.input.Value(); v != "sub notifications" {
		t.Fatalf("↑↑↑↓ = %q", v)
	}
	m.Update(tuitest.Key("up"))
	cmd, done := m.Update(tuitest.Key("enter"))
	if !done || cmd == nil {
		t.Fatal("the recalled command did not run")
	}
	if got := cmd(); got != (common.OpenStreamMsg{Stream: "order-42", Version: 3}) {
		t.Fatalf("the recalled command ran as %#v", got)
	}
	// With text typed, ↑/↓ move through the suggestions, not the history.
	m = open()
	for _, r := range "s" {
		m.Update(tuitest.Key(string(r)))
	}
	m.Update(tuitest.Key("up"))
	if v := m.input.Value(); v != "s" {
		t.Fatalf("↑ after typing replaced the line with %q", v)
	}
}
