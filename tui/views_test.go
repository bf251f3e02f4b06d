package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"eventscope/store"
	"eventscope/tui/common"
	"eventscope/tui/palette"
	"eventscope/tui/tuitest"
)

func TestParseRegisteredCommands(t *testing.T) {
	t.Parallel()
	cmds := newViews().cmds
	now := tuitest.Now
	cases := []struct {
		in   string
		want tea.Msg
	}{
		{"streams", common.SwitchTabMsg{View: "streams"}},
		{":overview", common.SwitchTabMsg{View: "overview"}},
		{"tail", common.SwitchTabMsg{View: "tail"}},
		{"subs", common.SwitchTabMsg{View: "subs"}},
		{"types", common.SwitchTabMsg{View: "types"}},
		{"types OrderPlaced", common.OpenViewMsg{View: "types", Arg: "OrderPlaced"}},
		{"stream order-42", common.OpenStreamMsg{Stream: "order-42", Version: -1}},
		{"stream order-42@7", common.OpenStreamMsg{Stream: "order-42", Version: 7}},
		{"state order-42@17", common.OpenTimeTravelMsg{Stream: "order-42", Version: 17}},
		{"state order-42", common.OpenTimeTravelMsg{Stream: "order-42", Version: -1}},
		{"state order-42@2024-05-01T10:00:00Z", common.OpenTimeTravelMsg{Stream: "order-42", Version: -1, At: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)}},
		{"state order-42@2024-05-01T10:00", common.OpenTimeTravelMsg{Stream: "order-42", Version: -1, At: time.Date(2024, 5, 1, 10, 0, 0, 0, time.Local)}},
		{"state order-42@90m", common.OpenTimeTravelMsg{Stream: "order-42", Version: -1, At: tuitest.Now.Add(-90 * time.Minute)}},
		{"state", common.SwitchTabMsg{View: "timetravel"}},
		{"sub order-summary", common.OpenSubMsg{Name: "order-summary"}},
		{"trace order-42@3", common.OpenViewMsg{View: "trace", Arg: "order-42@3"}},
		{"trace 0b6f7a8e-27f5-4a4e-9a0c-3a7f4c1c2d10", common.OpenViewMsg{View: "trace", Arg: "0b6f7a8e-27f5-4a4e-9a0c-3a7f4c1c2d10"}},
		{"query type:OrderPlaced data.total > 1000", common.OpenViewMsg{View: "query", Arg: "type:OrderPlaced data.total > 1000"}},
		{"query", common.OpenViewMsg{View: "query"}},
		{"quit", palette.QuitMsg{}},
		{"help", palette.HelpMsg{}},
	}
	for _, c := range cases {
		got, err := palette.Parse(cmds, c.in, now)
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
	for _, bad := range []string{"", "bogus", "stream", "stream a b", "streams x", "state x@-1", "state x@yesterday", "sub",
		"stream o@x", "trace", "trace order-42", "trace nope@x", "query type:", "query data.total >", "tail now"} {
		if _, err := palette.Parse(cmds, bad, now); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

// FuzzParse: any command line parses to a message or an error; stream ids
// that parse are valid ones, and every opened view exists.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"stream order-42", "state a@17", "state a@2024-05-01", "sub x", ":q", "stream @", "state @@", "trace a@1", "query data.x ~ \"(\"", "types X"} {
		f.Add(s)
	}
	v := newViews()
	f.Fuzz(func(t *testing.T, s string) {
		msg, err := palette.Parse(v.cmds, s, tuitest.Now)
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
		case common.OpenViewMsg:
			if x, ok := v.byName(m.View); !ok || x.open == nil {
				t.Fatalf("%q opens unknown view %q", s, m.View)
			}
		case common.SwitchTabMsg:
			if v.tabIndex(m.View) < 0 {
				t.Fatalf("%q switches to unknown tab %q", s, m.View)
			}
		}
	})
}

// TestRegistryIsConsistent: names are unique, every tab has a root page,
// every home is a tab, no two commands share a name or alias.
func TestRegistryIsConsistent(t *testing.T) {
	t.Parallel()
	v := newViews()
	names := map[string]bool{}
	for _, x := range v.all {
		if names[x.name] {
			t.Errorf("view %q registered twice", x.name)
		}
		names[x.name] = true
		if x.tab != "" && x.root == nil {
			t.Errorf("tab %q has no root page", x.name)
		}
		if x.tab == "" && x.open == nil {
			t.Errorf("view %q is neither a tab nor opened by anything", x.name)
		}
		if x.home != "" && v.tabIndex(x.home) < 0 {
			t.Errorf("view %q: home %q is not a tab", x.name, x.home)
		}
	}
	seen := map[string]bool{}
	for _, c := range v.cmds {
		for _, n := range append([]string{c.Name}, c.Aliases...) {
			n = strings.ToLower(n)
			if seen[n] {
				t.Errorf("command or alias %q declared twice", n)
			}
			seen[n] = true
		}
	}
	if len(v.tabs) > 9 {
		t.Errorf("%d tabs: the number keys reach 9", len(v.tabs))
	}
}

// recorder is a page that records the messages it is given.
type recorder struct {
	id  int64
	got []tea.Msg
}

func (r *recorder) ID() int64                  { return r.id }
func (r *recorder) Init() tea.Cmd              { return nil }
func (r *recorder) Update(msg tea.Msg) tea.Cmd { r.got = append(r.got, msg); return nil }
func (r *recorder) View() string               { return "" }
func (r *recorder) SetSize(int, int)           {}
func (r *recorder) Title() string              { return "recorder" }
func (r *recorder) ShortHelp() []key.Binding   { return nil }
func (r *recorder) FullHelp() [][]key.Binding  { return nil }

type addressed struct{ to int64 }

func (a addressed) PageID() int64 { return a.to }

// TestResultsGoToThePageThatAsked: an addressed result reaches its page
// alone, even under another page; feeds reach only the pages on top.
func TestResultsGoToThePageThatAsked(t *testing.T) {
	t.Parallel()
	w, d := setup(t)
	m := newApp(t, w, d)
	under, top, other := &recorder{id: common.NewID()}, &recorder{id: common.NewID()}, &recorder{id: common.NewID()}
	m.tabs[1] = append(m.tabs[1], under, top)
	m.tabs[3] = append(m.tabs[3], other)
	m.update(addressed{to: under.id})
	if len(under.got) != 1 || len(top.got) != 0 || len(other.got) != 0 {
		t.Fatalf("addressed: under %d, top %d, other %d", len(under.got), len(top.got), len(other.got))
	}
	m.update(addressed{to: 999999999}) // a page that is gone: dropped
	m.update(common.StatsMsg{})
	if len(under.got) != 1 || len(top.got) != 1 || len(other.got) != 1 {
		t.Fatalf("feed: under %d, top %d, other %d", len(under.got), len(top.got), len(other.got))
	}
}

// TestNewViewsAreReachable: :types switches to the Types tab, T on an
// event opens its trace over it, :query opens the query view; each by the
// registry, none by a literal.
func TestNewViewsAreReachable(t *testing.T) {
	t.Parallel()
	w, d := setup(t)
	m := newApp(t, w, d)
	m.update(tea.WindowSizeMsg{Width: goldenW, Height: goldenH})
	palette := func(line string) {
		msg, err := palette.Parse(m.views.cmds, line, tuitest.Now)
		if err != nil {
			t.Fatal(err)
		}
		m.update(msg)
	}
	palette("types")
	if m.views.tabTitle(m.tab) != "Types" || m.page().Title() != "types" {
		t.Fatalf("tab %d %q page %q", m.tab, m.views.tabTitle(m.tab), m.page().Title())
	}
	m.update(common.OpenEventMsg{Event: w.streams["order-42"][1]})
	for _, msg := range tuitest.Drain(m.page().Update(tuitest.Key("T"))) {
		m.update(msg)
	}
	if got := m.page().Title(); !strings.HasPrefix(got, "trace "+w.streams["order-42"][1].EventID.String()[:8]) {
		t.Fatalf("T on an event opened %q", got)
	}
	palette("query type:OrderPlaced data.total > 1000")
	if got := m.page().Title(); !strings.HasPrefix(got, "query type:OrderPlaced") {
		t.Fatalf(":query opened %q", got)
	}
	if n := len(m.tabs[m.tab]); n != 4 {
		t.Fatalf("the Types tab's stack has %d pages, want types › event › trace › query", n)
	}
}

// TestBeatGoesToThePageShown (issue 14 item 6): the refresh beat reaches
// the page shown and no other (hidden pages poll nothing); a page shown
// again (a tab switched to, a page gone back to) gets one at once, so it
// never shows stale data until the next beat.
func TestBeatGoesToThePageShown(t *testing.T) {
	t.Parallel()
	w, d := setup(t)
	m := newApp(t, w, d)
	beats := func(r *recorder) int {
		n := 0
		for _, msg := range r.got {
			if _, ok := msg.(common.BeatMsg); ok {
				n++
			}
		}
		return n
	}
	streams, under, top := &recorder{id: common.NewID()}, &recorder{id: common.NewID()}, &recorder{id: common.NewID()}
	m.tabs[1] = []common.Page{streams}
	m.tabs[4] = append(m.tabs[4], under, top)
	m.inited[1], m.inited[4] = true, true
	m.update(common.SwitchTabMsg{View: "subs"})
	m.update(beatMsg{})
	if beats(top) != 2 || beats(under) != 0 || beats(streams) != 0 {
		t.Fatalf("beats: top %d (want the switch's and the beat's), under %d, streams %d", beats(top), beats(under), beats(streams))
	}
	m.update(common.BackMsg{})
	if beats(under) != 1 {
		t.Fatalf("the page gone back to got %d beats", beats(under))
	}
	m.update(common.SwitchTabMsg{View: "streams"})
	if beats(streams) != 1 || beats(top) != 2 {
		t.Fatalf("streams %d, top %d", beats(streams), beats(top))
	}
}
