// Package keymap defines the console's key bindings in one place. Build a
// KeyMap with Default; it is a value, never a package-level mutable.
package keymap

import "github.com/charmbracelet/bubbles/key"

// KeyMap holds every binding. Views pick theirs for their help.
type KeyMap struct {
	// Global.
	Quit, ForceQuit, Help, Palette, NextTab, PrevTab, Tabs, Back, Refresh, Copy key.Binding

	// Lists.
	Up, Down, PageUp, PageDown, Top, Bottom, Open, Filter key.Binding

	// Streams.
	Sort, Category key.Binding

	// Stream and event.
	TimeTravel, Causation, Correlation, OpenStream, PrevEvent, NextEvent, Forget key.Binding

	// Time-travel.
	StepBack, StepForward, BigBack, BigForward, First, Last, Jump key.Binding

	// Tail.
	Follow, TailFilter key.Binding

	// Event: the trace of its correlation.
	Trace key.Binding

	// Query: the next page.
	More key.Binding

	// Matches (a stream's search) and references (an event's data).
	NextMatch, PrevMatch key.Binding

	// Long content: wrap, and scroll sideways (the event, tables, the tail).
	Wrap, ScrollLeft, ScrollRight key.Binding

	// Subscriptions.
	PauseResume, Reset, Retry, RetryAll, Skip key.Binding

	// Dialogs.
	Confirm, Cancel, Complete key.Binding
}

// Default returns the default bindings.
func Default() *KeyMap {
	b := func(keys []string, k, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, desc))
	}
	return &KeyMap{
		Quit:      b([]string{"q"}, "q", "quit"),
		ForceQuit: b([]string{"ctrl+c"}, "ctrl+c", "quit"),
		Help:      b([]string{"?"}, "?", "help"),
		Palette:   b([]string{":"}, ":", "command"),
		NextTab:   b([]string{"tab"}, "tab", "next view"),
		PrevTab:   b([]string{"shift+tab"}, "shift+tab", "previous view"),
		Tabs:      b([]string{"1", "2", "3", "4", "5", "6", "7", "8", "9"}, "1-9", "switch view"),
		Back:      b([]string{"esc"}, "esc", "back"),
		Refresh:   b([]string{"r"}, "r", "refresh"),
		Copy:      b([]string{"y"}, "y", "copy"),

		Up:       b([]string{"up", "k"}, "↑/k", "up"),
		Down:     b([]string{"down", "j"}, "↓/j", "down"),
		PageUp:   b([]string{"pgup", "ctrl+u"}, "pgup", "page up"),
		PageDown: b([]string{"pgdown", "ctrl+d"}, "pgdn", "page down"),
		Top:      b([]string{"home", "g"}, "g", "top"),
		Bottom:   b([]string{"end", "G"}, "G", "bottom"),
		Open:     b([]string{"enter"}, "enter", "open"),
		Filter:   b([]string{"/"}, "/", "filter"),

		Sort:     b([]string{"s"}, "s", "sort: id ↑/↓, update ↓/↑"),
		Category: b([]string{"c"}, "c", "category"),

		TimeTravel:  b([]string{"t"}, "t", "time-travel"),
		Causation:   b([]string{"C"}, "C", "causation event"),
		Correlation: b([]string{"O"}, "O", "correlated events"),
		OpenStream:  b([]string{"S"}, "S", "open stream"),
		PrevEvent:   b([]string{"["}, "[", "previous event"),
		NextEvent:   b([]string{"]"}, "]", "next event"),
		Forget:      b([]string{"F"}, "F", "forget the subject"),

		StepBack:    b([]string{"left", "h"}, "←/h", "previous version"),
		StepForward: b([]string{"right", "l"}, "→/l", "next version"),
		BigBack:     b([]string{"shift+left", "H"}, "H", "-10 versions"),
		BigForward:  b([]string{"shift+right", "L"}, "L", "+10 versions"),
		First:       b([]string{"g", "home"}, "g", "first version"),
		Last:        b([]string{"G", "end"}, "G", "last version"),
		Jump:        b([]string{"@", "/"}, "@", "jump to a version/time"),

		Trace: b([]string{"T"}, "T", "trace"),
		More:  b([]string{"n"}, "n", "more results"),

		NextMatch: b([]string{"n"}, "n", "next match"),
		PrevMatch: b([]string{"N"}, "N", "previous match"),

		Wrap:        b([]string{"w"}, "w", "wrap"),
		ScrollLeft:  b([]string{"left"}, "←", "scroll left"),
		ScrollRight: b([]string{"right"}, "→", "scroll right"),

		Follow:     b([]string{"f"}, "f", "follow"),
		TailFilter: b([]string{"/"}, "/", "filter (query, words)"),

		PauseResume: b([]string{"p"}, "p", "pause/resume"),
		Reset:       b([]string{"R"}, "R", "reset…"),
		Retry:       b([]string{"t"}, "t", "retry parked"),
		RetryAll:    b([]string{"T"}, "T", "retry all"),
		Skip:        b([]string{"x"}, "x", "skip parked"),

		Confirm:  b([]string{"enter"}, "enter", "confirm"),
		Cancel:   b([]string{"esc"}, "esc", "cancel"),
		Complete: b([]string{"tab"}, "tab", "complete"),
	}
}

// SetTabs binds the number keys 1…n to the n tabs (the root derives n from
// its registry of views).
func (k *KeyMap) SetTabs(n int) {
	n = min(max(n, 1), 9)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = string(rune('1' + i))
	}
	k.Tabs = key.NewBinding(key.WithKeys(keys...), key.WithHelp("1-"+keys[n-1], "switch view"))
}

// Moves are the list movement keys every list's full help starts with.
func (k *KeyMap) Moves() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom, k.Wrap, k.ScrollLeft, k.ScrollRight}
}
