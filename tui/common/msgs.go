package common

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"eventscope/store"
)

// StatusKind is how a status line message is shown.
type StatusKind int

const (
	// Info is neutral.
	Info StatusKind = iota
	// Success confirms an action.
	Success
	// Failure reports an error.
	Failure
)

// StatusMsg sets the one-line status area.
type StatusMsg struct {
	Text string
	Kind StatusKind
}

// Status returns a command that shows text in the status line.
func Status(kind StatusKind, format string, args ...any) tea.Cmd {
	msg := StatusMsg{Text: fmt.Sprintf(format, args...), Kind: kind}
	return func() tea.Msg { return msg }
}

// ErrorMsg reports a failed query or action. The root shows it in the
// status line, or as the connection banner when the connection is lost.
type ErrorMsg struct {
	Op  string // what was being done: "list streams"
	Err error
}

func (e ErrorMsg) Error() string {
	if e.Op == "" {
		return e.Err.Error()
	}
	return e.Op + ": " + e.Err.Error()
}

// ConnStateMsg reports whether the database is reachable. The root sends
// it after each probe; views may refresh when the connection comes back.
type ConnStateMsg struct {
	Up  bool
	Err error
}

// RefreshMsg asks a page to reload (sent to the active page after a
// reconnection).
type RefreshMsg struct{}

// BeatMsg is the root's refresh beat: every RefreshEvery to the page
// shown, and at once to a page shown again (a tab switched to, a page
// gone back to). A live view reloads its data on it by itself, keeping
// the cursor, selection and scroll where they are; a view with a load in
// flight lets it pass. Hidden pages get none: they poll nothing.
type BeatMsg struct{}

// Navigation targets. Views never import each other: they ask the root to
// open another view with these messages.
type (
	// OpenStreamMsg opens a stream's events, optionally at a version.
	OpenStreamMsg struct {
		Stream  string
		Version int64 // -1: from the start
	}
	// OpenEventMsg opens an event.
	OpenEventMsg struct{ Event store.Event }
	// OpenEventIDMsg opens the event with this id (a causation or
	// correlation id); Role names the link for messages.
	OpenEventIDMsg struct {
		ID   string
		Role string
	}
	// OpenCorrelatedMsg lists the events sharing a correlation id; From
	// is the event the user came from.
	OpenCorrelatedMsg struct{ ID, From string }
	// OpenTimeTravelMsg opens time-travel on a stream at a version (or a
	// time when At is set; Version -1 means the last version).
	OpenTimeTravelMsg struct {
		Stream  string
		Version int64
		At      time.Time
	}
	// OpenSubMsg opens a subscription's detail.
	OpenSubMsg struct{ Name string }
	// SwitchTabMsg switches to a top-level view, by its name in the
	// root's registry ("streams", "tail").
	SwitchTabMsg struct{ View string }
	// OpenViewMsg opens the registered view named View with the argument
	// its command takes (":trace order-42@3" is {"trace", "order-42@3"}).
	// New views are opened with it; they need no message of their own.
	OpenViewMsg struct{ View, Arg string }
	// BackMsg pops the current page.
	BackMsg struct{}
	// OpenFailedMsg: page Page could not load what it was opened on (no
	// such stream). The root reports it and, when the page had replaced
	// a tab's pages, puts them back: the user stays where they were.
	OpenFailedMsg struct {
		Page int64
		Err  ErrorMsg
	}
)

// Navigate returns a command that sends msg.
func Navigate(msg tea.Msg) tea.Cmd { return func() tea.Msg { return msg } }

// ConfirmMsg asks the root to confirm an action before running it. The
// default is No. With Typed set, the user must type it exactly (used for
// actions that discard data: the subscription's name).
type ConfirmMsg struct {
	Title  string
	Prompt string
	Typed  string
	Action tea.Cmd
}

// Confirm returns a command that asks for confirmation, then runs action.
func Confirm(title, prompt, typed string, action tea.Cmd) tea.Cmd {
	m := ConfirmMsg{Title: title, Prompt: prompt, Typed: typed, Action: action}
	return func() tea.Msg { return m }
}

// CopyMsg asks the root to copy text to the clipboard (OSC 52).
type CopyMsg struct {
	Text string
	What string
}

// StatsMsg carries a store.Stats snapshot (from the overview's poll); any
// view may use it (the streams view uses the categories).
type StatsMsg struct {
	Stats store.Stats
	At    time.Time
}

// ErrCmd returns a command reporting err for op.
func ErrCmd(op string, err error) tea.Cmd {
	m := ErrorMsg{Op: op, Err: err}
	return func() tea.Msg { return m }
}

// IsNotFound reports a store.ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// Fetch is the command a view's I/O runs in: fn gets ctx bounded by
// timeout, and what it returns is the message (a result carrying the
// view's id).
func Fetch(ctx context.Context, timeout time.Duration, fn func(ctx context.Context) tea.Msg) tea.Cmd {
	return func() tea.Msg {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return fn(cctx)
	}
}
