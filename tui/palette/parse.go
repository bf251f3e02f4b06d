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

// QuitMsg asks the root to quit.
type QuitMsg struct{}

// HelpMsg asks the root to show the full help.
type HelpMsg struct{}

// Completion is what a command's argument completes from.
type Completion int

const (
	// CompleteNothing: the argument is typed as is.
	CompleteNothing Completion = iota
	// CompleteStreams: stream ids, narrowed on the server (an "@…" suffix is kept).
	CompleteStreams
	// CompleteSubs: the known subscription names.
	CompleteSubs
)

// Command is one ":" command. Views declare theirs in the root's registry
// (tui/views.go); the palette only parses and completes them.
type Command struct {
	Name    string
	Aliases []string
	// Arg is the argument's shape for the palette and the help
	// ("ID[@VERSION]", "[EXPR]"); "" means the command takes none.
	Arg      string
	Desc     string
	Complete Completion
	// Run turns the (trimmed) argument into the message that performs the
	// command, or says what is wrong with it.
	Run func(arg string, now time.Time) (tea.Msg, error)
}

// Send is a Run for a command without argument: it sends msg.
func Send(msg tea.Msg) func(string, time.Time) (tea.Msg, error) {
	return func(string, time.Time) (tea.Msg, error) { return msg, nil }
}

func (c Command) is(name string) bool {
	if strings.EqualFold(c.Name, name) {
		return true
	}
	for _, a := range c.Aliases {
		if strings.EqualFold(a, name) {
			return true
		}
	}
	return false
}

// Names lists the commands as the help shows them: "stream ID[@VERSION]".
func Names(cmds []Command) string {
	parts := make([]string, len(cmds))
	for i, c := range cmds {
		parts[i] = strings.TrimSpace(c.Name + " " + c.Arg)
	}
	return strings.Join(parts, ", ")
}

func find(cmds []Command, name string) (Command, bool) {
	for _, c := range cmds {
		if c.is(name) {
			return c, true
		}
	}
	return Command{}, false
}

// Parse turns a command line (with or without the ":") into the message
// that performs it.
func Parse(cmds []Command, line string, now time.Time) (tea.Msg, error) {
	line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), ":"))
	if line == "" {
		return nil, fmt.Errorf("type a command: %s", Names(cmds))
	}
	name, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	c, ok := find(cmds, name)
	if !ok {
		names := make([]string, len(cmds))
		for i, c := range cmds {
			names[i] = c.Name
		}
		return nil, fmt.Errorf("unknown command %q: try %s", name, strings.Join(names, ", "))
	}
	if c.Arg == "" && arg != "" {
		return nil, fmt.Errorf(":%s takes no argument (got %q)", c.Name, arg)
	}
	return c.Run(arg, now)
}

// StreamAt parses "ID[@VERSION]" (the argument of :stream); version is -1
// without "@".
func StreamAt(cmd, arg string) (common.OpenStreamMsg, error) {
	if arg == "" {
		return common.OpenStreamMsg{}, fmt.Errorf(":%s needs a stream id, e.g. :%s order-42", cmd, cmd)
	}
	id, ver, hasVer := strings.Cut(arg, "@")
	if err := store.ValidateStreamID(id); err != nil {
		return common.OpenStreamMsg{}, err
	}
	v := int64(-1)
	if hasVer {
		n, err := strconv.ParseInt(ver, 10, 64)
		if err != nil || n < 0 {
			return common.OpenStreamMsg{}, fmt.Errorf(":%s %s: %q is not a version", cmd, id, ver)
		}
		v = n
	}
	return common.OpenStreamMsg{Stream: id, Version: v}, nil
}

// StateAt parses "ID[@VERSION|@TIME]" (the argument of :state).
func StateAt(arg string, now time.Time) (common.OpenTimeTravelMsg, error) {
	id, at, hasAt := strings.Cut(arg, "@")
	if err := store.ValidateStreamID(id); err != nil {
		return common.OpenTimeTravelMsg{}, err
	}
	if !hasAt || at == "" {
		return common.OpenTimeTravelMsg{Stream: id, Version: -1}, nil
	}
	if n, err := strconv.ParseInt(at, 10, 64); err == nil {
		if n < 0 {
			return common.OpenTimeTravelMsg{}, fmt.Errorf(":state %s: versions start at 0", id)
		}
		return common.OpenTimeTravelMsg{Stream: id, Version: n}, nil
	}
	t, err := store.ParseTime(at, now)
	if err != nil {
		return common.OpenTimeTravelMsg{}, fmt.Errorf(":state %s@%s: %v", id, at, err)
	}
	return common.OpenTimeTravelMsg{Stream: id, Version: -1, At: t}, nil
}
