// Package common is what every view of the console shares: the Common
// struct (size, styles, keys, clock) passed down from the root, the Page
// interface the root drives, the messages views send to the root, and small
// helpers (formatting, JSON colouring, sparklines, URL redaction, OSC 52).
package common

import (
	"sync/atomic"
	"time"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"

	"eventscope/tui/keymap"
	"eventscope/tui/styles"
)

// Common is passed by value to every view: each view keeps its own size.
type Common struct {
	Width, Height int
	Styles        *styles.Styles
	Keys          *keymap.KeyMap
	// Now is the clock (stubbed in tests so goldens do not drift).
	Now func() time.Time
	// Tick schedules a timer message (tea.Tick in the program; stubbed in
	// tests, where it returns nil and nothing polls).
	Tick func(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd
	// ReadOnly: the console must write nothing (views that would, say
	// so and do not; actions are refused by tui/action).
	ReadOnly bool
}

// New returns a Common with the real clock and timers.
func New(st *styles.Styles, keys *keymap.KeyMap) Common {
	return Common{Styles: st, Keys: keys, Now: time.Now, Tick: tea.Tick}
}

// SetSize records the space the view may draw in.
func (c *Common) SetSize(w, h int) { c.Width, c.Height = w, h }

// Page is a view the root can drive: one per package, each with New,
// Update, View and SetSize. Update changes state in place and returns the
// command to run (I/O happens only in commands).
type Page interface {
	// ID is the page's address: its asynchronous results carry it (they
	// implement Addressed) and the root delivers them to it alone.
	ID() int64
	Init() tea.Cmd
	Update(msg tea.Msg) tea.Cmd
	View() string
	SetSize(w, h int)
	// Title is the page's breadcrumb.
	Title() string
	help.KeyMap
}

// KeyClaimer is implemented by pages that sometimes want keys the root
// would otherwise take (an input with focus takes every key; time-travel
// takes digits).
type KeyClaimer interface {
	ClaimsKey(msg tea.KeyMsg) bool
}

// Copier is implemented by pages with something to copy on "y".
type Copier interface {
	// CopyText returns the text and what it is ("stream id", "event").
	CopyText() (text, what string, ok bool)
}

// Addressed is a result for one page (or the header, or the palette):
// the root routes it there and nowhere else, by id. Messages that are
// not addressed (the monitor's snapshots, the overview's stats, the
// connection state, action results) are feeds: the root hands them to the
// header and the page on top of each tab.
type Addressed interface {
	PageID() int64
}

var ids atomic.Int64

// NewID returns a process-unique id, used to address a view instance's own
// asynchronous results (results carry the id and a sequence number).
func NewID() int64 { return ids.Add(1) }
