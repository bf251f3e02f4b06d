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

func TestParse(t *testing.T) {
	t.Parallel()
	now := tuitest.Now
	cases := []struct {
		in   string
		want tea.Msg
	}{
		{"streams", common.SwitchTabMsg{Tab: TabStreams}},
		{":overview", common.SwitchTabMsg{Tab: TabOverview}},
		{"tail", common.SwitchTabMsg{Tab: TabTail}},
		{"subs", common.SwitchTabMsg{Tab: TabSubs}},
		{"stream order-42", common.OpenStreamMsg{Stream: "order-42", Version: -1}},
		{"stream order-42@7", common.OpenStreamMsg{Stream: "order-42", Version: 7}},
		{"state order-42@17", common.OpenTimeTravelMsg{Stream: "order-42", Version: 17}},
		{"state order-42", common.OpenTimeTravelMsg{Stream: "order-42", Version: -1}},
		{"state order-42@2024-05-01T10:00:00Z", common.OpenTimeTravelMsg{Stream: "order-42", Version: -1, At: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)}},
		{"state order-42@2024-05-01T10:00", common.OpenTimeTravelMsg{Stream: "order-42", Version: -1, At: time.Date(2024, 5, 1, 10, 0, 0, 0, time.Local)}},
		{"state order-42@90m", common.OpenTimeTravelMsg{Stream: "order-42", Version: -1, At: tuitest.Now.Add(-90 * time.Minute)}},
		{"state", common.SwitchTabMsg{Tab: TabTimeTravel}},
		{"sub order-summary", common.OpenSubMsg{Name: "order-summary"}},
		{"quit", QuitMsg{}},
		{"help", HelpMsg{}},
	}
	for _, c := range cases {
		got, err := Parse(c.in, now)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if g, ok := got.(common.OpenTimeTravelMsg); ok {
			w := c.want.(common.OpenTimeTravelMsg)
			if g.Stream != w.Stream || g.Version != w.Version || !g.At.Equal(w.At) {
				t.Errorf("Parse(%q) = %+v, want %+v", c.in, got, c.want)
			}
			continue
		}
		if got != c.want {
			t.Errorf("Parse(%q) = %#v, want %#v", c.in, got, c.want)
		}
	}
	for _, bad := range []string{"", "bogus", "stream", "stream a b", "streams x", "state x@-1", "state x@yesterday", "sub", "stream o@x"} {
		if _, err := Parse(bad, now); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

// FuzzParse: any command line parses to a message or an error; stream ids
// that parse are valid ones.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"stream order-42", "state a@17", "state a@2024-05-01", "sub x", ":q", "stream @", "state @@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		msg, err := Parse(s, tuitest.Now)
		if err != nil {
			return
		}
		switch m := msg.(type) {
		case common.OpenStreamMsg:
			if store.ValidateStreamID(m.Stream) != nil {
				t.Fatalf("%q gave invalid stream %q", s, m.Stream)
			}
		case common.OpenTimeTravelMsg:
			if store.ValidateStreamID(m.Stream) != nil {
				t.Fatalf("%q gave invalid stream %q", s, m.Stream)
			}
		}
	})
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
	m := New(context.Background(), tuitest.Common(100, 20), fakeIDs{"order-1", "order-42", "customer-7"}, []string{"order-summary", "notifications"})
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
	m2 := New(context.Background(), tuitest.Common(100, 20), nil, []string{"order-summary", "notifications"})
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
	m3 := New(context.Background(), tuitest.Common(100, 20), nil, nil)
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
