package tui

import (
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"eventscope/store"
	"eventscope/store/query"
	"eventscope/tui/common"
	"eventscope/tui/event"
	"eventscope/tui/overview"
	"eventscope/tui/palette"
	qview "eventscope/tui/query"
	"eventscope/tui/related"
	"eventscope/tui/stream"
	"eventscope/tui/streams"
	"eventscope/tui/subdetail"
	"eventscope/tui/subs"
	"eventscope/tui/tail"
	"eventscope/tui/timetravel"
	"eventscope/tui/trace"
	"eventscope/tui/types"
)

// view is what a view of the console declares, once: its name, its tab
// when it is a top-level one, the ":" commands that open it, and how its
// pages are built. The tab bar, the number keys, the palette, the full
// help and the routing of "open" messages are all derived from the
// registry below; adding a view is its package and one entry here (plus a
// field in Deps when it reads a new source).
type view struct {
	// name is the view's id: SwitchTabMsg and OpenViewMsg name it.
	name string
	// tab is the title of its tab when the view is a top-level one. Tabs
	// are numbered in the registry's order (the keys 1…N).
	tab string
	// browse: drill-downs (a stream, an event) opened from this tab stay
	// in it; from other tabs they open in Streams.
	browse bool
	// home is the tab a page of this view opens in; "" means where the
	// user is browsing (a drill-down).
	home string
	// replace: opening replaces the home tab's stack instead of pushing
	// (a new time-travel is a fresh start).
	replace bool
	// cmds are the palette commands that open (or switch to) the view.
	cmds []palette.Command
	// root builds the tab's first page (tabs only).
	root func(m *Model) common.Page
	// open builds the page msg asks for, or returns nil when msg is not
	// for this view. OpenViewMsg{View: name} is routed here by name.
	open func(m *Model, msg tea.Msg) common.Page
}

// registry is the console's views, tabs first in the order of their keys.
func registry() []view {
	return []view{
		{name: "overview", tab: "Overview",
			cmds: []palette.Command{{Name: "overview", Aliases: []string{"o"}, Desc: "counts, rates and warnings", Run: switchTo("overview")}},
			root: func(m *Model) common.Page { return overview.New(m.ctx, m.c, m.d.Overview) }},
		{name: "streams", tab: "Streams", browse: true,
			cmds: []palette.Command{{Name: "streams", Aliases: []string{"ss"}, Desc: "browse and filter streams", Run: switchTo("streams")}},
			root: func(m *Model) common.Page { return streams.New(m.ctx, m.c, m.d.Streams) }},
		{name: "timetravel", tab: "Time-travel", home: "timetravel", replace: true,
			cmds: []palette.Command{{Name: "state", Aliases: []string{"tt", "timetravel"}, Arg: "[ID[@VERSION|@TIME]]", Desc: "time-travel an aggregate", Complete: palette.CompleteStreams,
				Run: func(arg string, now time.Time) (tea.Msg, error) {
					if arg == "" {
						return common.SwitchTabMsg{View: "timetravel"}, nil
					}
					return palette.StateAt(arg, now)
				}}},
			root: func(m *Model) common.Page {
				return timetravel.New(m.ctx, m.c, m.d.TimeTravel, "", -1, time.Time{})
			},
			open: func(m *Model, msg tea.Msg) common.Page {
				if o, ok := msg.(common.OpenTimeTravelMsg); ok {
					return timetravel.New(m.ctx, m.c, m.d.TimeTravel, o.Stream, o.Version, o.At)
				}
				return nil
			}},
		{name: "tail", tab: "Tail", browse: true,
			cmds: []palette.Command{{Name: "tail", Aliases: []string{"t"}, Desc: "the live global log", Run: switchTo("tail")}},
			root: func(m *Model) common.Page { return tail.New(m.ctx, m.c, m.d.Tail, 0) }},
		{name: "subs", tab: "Subscriptions", browse: true,
			cmds: []palette.Command{{Name: "subs", Aliases: []string{"subscriptions"}, Desc: "subscriptions", Run: switchTo("subs")}},
			root: func(m *Model) common.Page { return subs.New(m.ctx, m.c, m.d.Subs, m.act, m.hist) }},
		{name: "types", tab: "Types", browse: true,
			cmds: []palette.Command{{Name: "types", Arg: "[TYPE]", Desc: "the event-type catalog: fields, drift",
				Run: func(arg string, _ time.Time) (tea.Msg, error) {
					if arg == "" {
						return common.SwitchTabMsg{View: "types"}, nil
					}
					return common.OpenViewMsg{View: "types", Arg: arg}, nil
				}}},
			home: "types", replace: true,
			root: func(m *Model) common.Page { return types.New(m.ctx, m.c, m.d.Types, "") },
			open: func(m *Model, msg tea.Msg) common.Page {
				if o, ok := msg.(common.OpenViewMsg); ok {
					return types.New(m.ctx, m.c, m.d.Types, o.Arg)
				}
				return nil
			}},

		// Pages opened over the tabs.
		{name: "stream",
			cmds: []palette.Command{{Name: "stream", Aliases: []string{"s"}, Arg: "ID[@VERSION]", Desc: "a stream's events", Complete: palette.CompleteStreams,
				Run: func(arg string, _ time.Time) (tea.Msg, error) { return palette.StreamAt("stream", arg) }}},
			open: func(m *Model, msg tea.Msg) common.Page {
				if o, ok := msg.(common.OpenStreamMsg); ok {
					return stream.New(m.ctx, m.c, m.d.Stream, o.Stream, o.Version)
				}
				return nil
			}},
		{name: "event",
			open: func(m *Model, msg tea.Msg) common.Page {
				if o, ok := msg.(common.OpenEventMsg); ok {
					return event.New(m.ctx, m.c, m.d.Event, o.Event).WithActions(m.act)
				}
				return nil
			}},
		{name: "related",
			open: func(m *Model, msg tea.Msg) common.Page {
				if o, ok := msg.(common.OpenCorrelatedMsg); ok {
					return related.New(m.ctx, m.c, m.d.Related, o.ID, o.From)
				}
				return nil
			}},
		{name: "trace",
			cmds: []palette.Command{{Name: "trace", Arg: "EVENT_ID|STREAM@VERSION", Desc: "an event's correlation as a causation tree", Complete: palette.CompleteStreams,
				Run: func(arg string, _ time.Time) (tea.Msg, error) {
					if arg == "" {
						return nil, fmt.Errorf(":trace needs an event: an event id, or STREAM@VERSION (e.g. :trace order-42@0)")
					}
					if _, err := store.ParseEventRef(arg); err != nil {
						return nil, fmt.Errorf(":trace %s: %v", arg, err)
					}
					return common.OpenViewMsg{View: "trace", Arg: arg}, nil
				}}},
			open: func(m *Model, msg tea.Msg) common.Page {
				if o, ok := msg.(common.OpenViewMsg); ok {
					return trace.New(m.ctx, m.c, m.d.Trace, o.Arg)
				}
				return nil
			}},
		{name: "query",
			cmds: []palette.Command{{Name: "query", Arg: "[EXPR]", Desc: "events matching a query (type: cat: stream: after: before: data.PATH OP VALUE)",
				Run: func(arg string, now time.Time) (tea.Msg, error) {
					if arg != "" {
						if _, err := query.ParseFilter(arg, now); err != nil {
							return nil, fmt.Errorf(":query: %v", err)
						}
					}
					return common.OpenViewMsg{View: "query", Arg: arg}, nil
				}}},
			open: func(m *Model, msg tea.Msg) common.Page {
				if o, ok := msg.(common.OpenViewMsg); ok {
					return qview.New(m.ctx, m.c, m.d.Query, o.Arg)
				}
				return nil
			}},
		{name: "subdetail", home: "subs",
			cmds: []palette.Command{{Name: "sub", Aliases: []string{"subscription"}, Arg: "NAME", Desc: "a subscription's detail", Complete: palette.CompleteSubs,
				Run: func(arg string, _ time.Time) (tea.Msg, error) {
					if arg == "" {
						return nil, fmt.Errorf(":sub needs a subscription name")
					}
					return common.OpenSubMsg{Name: arg}, nil
				}}},
			open: func(m *Model, msg tea.Msg) common.Page {
				if o, ok := msg.(common.OpenSubMsg); ok {
					return subdetail.New(m.ctx, m.c, m.d.SubDetail, m.act, m.hist, o.Name)
				}
				return nil
			}},
	}
}

// rootCommands are the palette's commands that open no view.
func rootCommands() []palette.Command {
	return []palette.Command{
		{Name: "help", Aliases: []string{"h"}, Desc: "all key bindings", Run: palette.Send(palette.HelpMsg{})},
		{Name: "quit", Aliases: []string{"q", "exit"}, Desc: "leave the console", Run: palette.Send(palette.QuitMsg{})},
	}
}

func switchTo(name string) func(string, time.Time) (tea.Msg, error) {
	return palette.Send(common.SwitchTabMsg{View: name})
}

// views is the registry as the root uses it: the views, the indexes of the
// tabs, and every command.
type views struct {
	all  []view
	tabs []int // indexes into all, in tab order
	cmds []palette.Command
}

func newViews() views {
	v := views{all: registry()}
	for i, x := range v.all {
		if x.tab != "" {
			v.tabs = append(v.tabs, i)
		}
		v.cmds = append(v.cmds, x.cmds...)
	}
	v.cmds = append(v.cmds, rootCommands()...)
	return v
}

// tabIndex is the tab number (0-based) of the view named name, -1 if it
// is not a tab.
func (v views) tabIndex(name string) int {
	for t, i := range v.tabs {
		if v.all[i].name == name {
			return t
		}
	}
	return -1
}

// tabTitle is the title of tab t.
func (v views) tabTitle(t int) string { return v.all[v.tabs[t]].tab }

// byName finds a view.
func (v views) byName(name string) (view, bool) {
	for _, x := range v.all {
		if x.name == name {
			return x, true
		}
	}
	return view{}, false
}

// opener finds the view that opens msg and builds its page.
func (v views) opener(m *Model, msg tea.Msg) (view, common.Page) {
	if o, ok := msg.(common.OpenViewMsg); ok {
		if x, ok := v.byName(o.View); ok && x.open != nil {
			return x, x.open(m, msg)
		}
		return view{}, nil
	}
	for _, x := range v.all {
		if x.open == nil {
			continue
		}
		if p := x.open(m, msg); p != nil {
			return x, p
		}
	}
	return view{}, nil
}

// commandHelp is the full help's list of commands, wrapped at w columns.
func (v views) commandHelp(w int) string {
	var lines []string
	line := "Commands (:):"
	for i, c := range v.cmds {
		item := " " + strings.TrimSpace(c.Name+" "+c.Arg)
		if i < len(v.cmds)-1 {
			item += ","
		} else {
			item += "."
		}
		if len(line)+len(item) > w && line != "" {
			lines = append(lines, line)
			line = " "
		}
		line += item
	}
	return strings.Join(append(lines, line), "\n")
}
