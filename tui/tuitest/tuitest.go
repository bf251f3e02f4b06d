// Package tuitest helps test the console's views: a Common with an ASCII
// colour profile, a fixed clock and no timers, key messages, and a way to
// run a view's commands synchronously.
package tuitest

import (
	"reflect"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"eventscope/tui/common"
	"eventscope/tui/keymap"
	"eventscope/tui/styles"
)

// Now is the fixed clock of tests.
var Now = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// Common returns a Common of size w×h with plain ASCII output, the fixed
// clock, and timers that never fire.
func Common(w, h int) common.Common {
	r := lipgloss.NewRenderer(nil)
	r.SetColorProfile(termenv.Ascii)
	r.SetHasDarkBackground(true)
	c := common.New(styles.New(r), keymap.Default())
	c.Now = func() time.Time { return Now }
	c.Tick = func(time.Duration, func(time.Time) tea.Msg) tea.Cmd { return nil }
	c.SetSize(w, h)
	return c
}

// Key makes a key message: "enter", "esc", "up", "ctrl+c", "tab", or
// runes ("a", "/", "ord").
func Key(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "left":
		return tea.KeyMsg{Type: tea.KeyLeft}
	case "right":
		return tea.KeyMsg{Type: tea.KeyRight}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "shift+tab":
		return tea.KeyMsg{Type: tea.KeyShiftTab}
	case "backspace":
		return tea.KeyMsg{Type: tea.KeyBackspace}
	case "pgdown":
		return tea.KeyMsg{Type: tea.KeyPgDown}
	case "pgup":
		return tea.KeyMsg{Type: tea.KeyPgUp}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	case "space":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

// Drain runs cmd and every command it yields (batches included)
// synchronously, and returns the messages, skipping nil ones. Commands
// that block (a feed waiting for events) must not be passed.
func Drain(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	if msg == nil {
		return nil
	}
	if b, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range b {
			out = append(out, Drain(c)...)
		}
		return out
	}
	// tea.Sequence's message type is unexported: run it through reflection.
	if v := reflect.ValueOf(msg); v.Kind() == reflect.Slice && strings.HasSuffix(v.Type().String(), "sequenceMsg") {
		var out []tea.Msg
		for i := 0; i < v.Len(); i++ {
			if c, ok := v.Index(i).Interface().(tea.Cmd); ok {
				out = append(out, Drain(c)...)
			}
		}
		return out
	}
	return []tea.Msg{msg}
}

// DrainWithin is Drain for commands that may block (a feed waiting for
// events): each command gets d to yield its message, else it is dropped.
func DrainWithin(cmd tea.Cmd, d time.Duration) []tea.Msg {
	if cmd == nil {
		return nil
	}
	ch := make(chan tea.Msg, 1)
	go func() { ch <- cmd() }()
	var msg tea.Msg
	select {
	case msg = <-ch:
	case <-time.After(d):
		return nil
	}
	if msg == nil {
		return nil
	}
	if b, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range b {
			out = append(out, DrainWithin(c, d)...)
		}
		return out
	}
	return []tea.Msg{msg}
}

// Updater is anything with the views' Update.
type Updater interface{ Update(tea.Msg) tea.Cmd }

// Settle feeds msgs to u, then the messages its commands yield, until no
// command yields anything (or 100 rounds), and returns the messages u did
// not consume as its own results (everything it was fed, in order).
func Settle(u Updater, msgs ...tea.Msg) []tea.Msg {
	var seen []tea.Msg
	queue := msgs
	for round := 0; len(queue) > 0 && round < 100; round++ {
		var next []tea.Msg
		for _, m := range queue {
			seen = append(seen, m)
			next = append(next, Drain(u.Update(m))...)
		}
		queue = next
	}
	return seen
}

// Find returns the first message of type T.
func Find[T any](msgs []tea.Msg) (T, bool) {
	for _, m := range msgs {
		if v, ok := m.(T); ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// Plain strips escape sequences and trailing spaces from a view.
func Plain(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(ansi.Strip(l), " ")
	}
	return strings.Join(lines, "\n")
}
