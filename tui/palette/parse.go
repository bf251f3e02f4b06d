package palette

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"eventscope/store"
	"eventscope/tui/common"
)

// Tabs as the root numbers them.
const (
	TabOverview = iota
	TabStreams
	TabTimeTravel
	TabTail
	TabSubs
)

// QuitMsg asks the root to quit.
type QuitMsg struct{}

// HelpMsg asks the root to show the full help.
type HelpMsg struct{}

// Commands the palette knows, with their argument and description.
var Commands = []struct{ Name, Arg, Desc string }{
	{"overview", "", "counts, rates and warnings"},
	{"streams", "", "browse and filter streams"},
	{"stream", "ID", "a stream's events"},
	{"state", "ID[@VERSION|@TIME]", "time-travel an aggregate"},
	{"tail", "", "the live global log"},
	{"subs", "", "subscriptions"},
	{"sub", "NAME", "a subscription's detail"},
	{"help", "", "all key bindings"},
	{"quit", "", "leave the console"},
}

// Parse turns a command line (without the ":") into the message that
// performs it.
func Parse(line string, now time.Time) (tea.Msg, error) {
	line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), ":"))
	if line == "" {
		return nil, fmt.Errorf("type a command: overview, streams, stream ID, state ID@V, tail, subs, sub NAME, help, quit")
	}
	name, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	noArg := func(m tea.Msg) (tea.Msg, error) {
		if arg != "" {
			return nil, fmt.Errorf(":%s takes no argument (got %q)", name, arg)
		}
		return m, nil
	}
	switch strings.ToLower(name) {
	case "overview", "o":
		return noArg(common.SwitchTabMsg{Tab: TabOverview})
	case "streams", "ss":
		return noArg(common.SwitchTabMsg{Tab: TabStreams})
	case "tail", "t":
		return noArg(common.SwitchTabMsg{Tab: TabTail})
	case "subs", "subscriptions":
		return noArg(common.SwitchTabMsg{Tab: TabSubs})
	case "help", "h":
		return noArg(HelpMsg{})
	case "quit", "q", "exit":
		return noArg(QuitMsg{})
	case "stream", "s":
		if arg == "" {
			return nil, fmt.Errorf(":stream needs a stream id, e.g. :stream order-42")
		}
		id, ver, hasVer := strings.Cut(arg, "@")
		if err := store.ValidateStreamID(id); err != nil {
			return nil, err
		}
		v := int64(-1)
		if hasVer {
			n, err := strconv.ParseInt(ver, 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf(":stream %s: %q is not a version", id, ver)
			}
			v = n
		}
		return common.OpenStreamMsg{Stream: id, Version: v}, nil
	case "state", "tt", "timetravel":
		if arg == "" {
			return common.SwitchTabMsg{Tab: TabTimeTravel}, nil
		}
		id, at, hasAt := strings.Cut(arg, "@")
		if err := store.ValidateStreamID(id); err != nil {
			return nil, err
		}
		if !hasAt || at == "" {
			return common.OpenTimeTravelMsg{Stream: id, Version: -1}, nil
		}
		if n, err := strconv.ParseInt(at, 10, 64); err == nil {
			if n < 0 {
				return nil, fmt.Errorf(":state %s: versions start at 0", id)
			}
			return common.OpenTimeTravelMsg{Stream: id, Version: n}, nil
		}
		t, err := store.ParseTime(at, now)
		if err != nil {
			return nil, fmt.Errorf(":state %s@%s: %v", id, at, err)
		}
		return common.OpenTimeTravelMsg{Stream: id, Version: -1, At: t}, nil
	case "sub", "subscription":
		if arg == "" {
			return nil, fmt.Errorf(":sub needs a subscription name")
		}
		return common.OpenSubMsg{Name: arg}, nil
	}
	return nil, fmt.Errorf("unknown command %q: try overview, streams, stream, state, tail, subs, sub, help, quit", name)
}
