// Package eventlist is the list of events the console's views share (a
// stream's events, the tail, the correlated events, a query's matches): a
// table over any sequence of events with the standard columns, every cell
// made terminal-safe, the selected event, enter or a click to open it, and
// "y" to copy it as JSON.
package eventlist

import (
	"encoding/json"
	"fmt"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"eventscope/internal/textsafe"
	"eventscope/store"
	"eventscope/tui/common"
	"eventscope/tui/table"
)

// Column is one of the standard columns.
type Column int

const (
	// Clock is the time recorded, to the millisecond (15:04:05.000).
	Clock Column = iota
	// Recorded is the date and time recorded.
	Recorded
	// Checkpoint is the global position (tx:pos).
	Checkpoint
	// Stream is the stream id (with the Mark, if any).
	Stream
	// Version is the version in the stream.
	Version
	// Type is the event type.
	Type
	// Size is the data and metadata size.
	Size
	// Data is a one-line preview of the data.
	Data
)

var specs = map[Column]table.Column{
	Clock:      {Title: "recorded", Width: 12},
	Recorded:   {Title: "recorded", Width: 23},
	Checkpoint: {Title: "checkpoint", Width: 14, Right: true},
	Stream:     {Title: "stream", Width: 18, Flex: 1, Mid: true},
	Version:    {Title: "ver", Width: 6, Right: true},
	Type:       {Title: "type", Width: 20},
	Size:       {Title: "size", Width: 8, Right: true},
	Data:       {Title: "data", Width: 20, Flex: 2},
}

// Events is what the list shows: a slice, a ring, a filtered window.
type Events interface {
	Len() int
	At(i int) *store.Event
}

// Slice is a slice of events as Events.
type Slice []store.Event

// Len is the number of events.
func (s Slice) Len() int { return len(s) }

// At is the i-th event.
func (s Slice) At(i int) *store.Event { return &s[i] }

// Model is the list: a table.Model (size, cursor, scrolling, mouse) that
// knows its rows are events.
type Model struct {
	table.Model
	c    common.Common
	cols []Column
	evs  Events
	// Mark, when set, is appended to an event's stream cell ("◀ this
	// event"); "" marks nothing.
	Mark func(e *store.Event) string
}

// New makes an empty list with the columns cols, in that order.
func New(c common.Common, cols ...Column) Model {
	tc := make([]table.Column, len(cols))
	for i, col := range cols {
		tc[i] = specs[col]
	}
	// No rows until SetEvents (rows point at the Model where it lives).
	return Model{Model: table.New(c.Styles, c.Keys, tc), c: c, cols: cols, evs: Slice(nil)}
}

// SetEvents shows evs (the cursor is kept, clamped).
func (m *Model) SetEvents(evs Events) {
	m.evs = evs
	m.SetRows(rows{m})
}

// Events is what the list shows.
func (m *Model) Events() Events { return m.evs }

// Selected is the event under the cursor.
func (m *Model) Selected() (store.Event, bool) {
	i := m.Cursor()
	if i < 0 || i >= m.evs.Len() {
		return store.Event{}, false
	}
	return *m.evs.At(i), true
}

// CopyText copies the selected event as JSON (a line of the export
// format), for common.Copier.
func (m *Model) CopyText() (string, string, bool) {
	e, ok := m.Selected()
	if !ok {
		return "", "", false
	}
	return CopyEvent(e)
}

// CopyEvent is an event as the text "y" copies: its JSON, one line.
func CopyEvent(e store.Event) (string, string, bool) {
	b, err := json.Marshal(e)
	if err != nil {
		return "", "", false
	}
	return string(b), "event", true
}

// Open asks the root to open the selected event.
func (m *Model) Open() tea.Cmd {
	if e, ok := m.Selected(); ok {
		return common.Navigate(common.OpenEventMsg{Event: e})
	}
	return nil
}

// Update moves the cursor (keys) and opens the event on enter or on a
// click on the selected row; top is the list's first screen line in the
// view's coordinates. handled reports a key or click the list used.
func (m *Model) Update(msg tea.Msg, top int) (cmd tea.Cmd, handled bool) {
	switch msg := msg.(type) {
	case tea.KeyMsg:
		if key.Matches(msg, m.c.Keys.Open) {
			return m.Open(), true
		}
		return nil, m.Model.Update(msg)
	case tea.MouseMsg:
		moved, clicked := m.Mouse(msg, msg.Y-top)
		if clicked && !moved {
			return m.Open(), true
		}
		return nil, moved || clicked
	}
	return nil, false
}

type rows struct{ m *Model }

func (r rows) Len() int { return r.m.evs.Len() }

func (r rows) Cells(i int) []table.Cell {
	st := r.m.c.Styles
	e := r.m.evs.At(i)
	out := make([]table.Cell, len(r.m.cols))
	for j, col := range r.m.cols {
		switch col {
		case Clock:
			out[j] = table.Cell{Text: e.RecordedAt.Local().Format("15:04:05.000"), Style: &st.Faint}
		case Recorded:
			out[j] = table.Cell{Text: common.Timestamp(e.RecordedAt), Style: &st.Faint}
		case Checkpoint:
			out[j] = table.Cell{Text: e.Checkpoint.String(), Style: &st.Faint}
		case Stream:
			s := textsafe.Line(e.StreamID)
			if r.m.Mark != nil {
				if mk := r.m.Mark(e); mk != "" {
					s += "  " + mk
				}
			}
			out[j] = table.Cell{Text: s}
		case Version:
			out[j] = table.Cell{Text: fmt.Sprint(e.Version)}
		case Type:
			out[j] = table.Cell{Text: textsafe.Line(e.Type), Style: &st.Accent}
		case Size:
			out[j] = table.Cell{Text: common.Bytes(len(e.Data) + len(e.Metadata)), Style: &st.Faint}
		case Data:
			out[j] = table.Cell{Text: textsafe.Line(common.Preview(e.Data, 300))}
		}
	}
	return out
}
