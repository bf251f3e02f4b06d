// Package related lists the events that share a correlation id: the whole
// conversation a command started, across streams (an order's placement,
// the customer's credit reservation, the approval), in global order.
package related

import (
	"context"
	"fmt"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"eventscope/internal/textsafe"
	"eventscope/store"
	"eventscope/tui/common"
	"eventscope/tui/eventlist"
)

// Limit caps the events listed.
const Limit = 500

// Source finds the events whose metadata carries a correlation id.
type Source interface {
	Correlated(ctx context.Context, correlationID string, limit int) ([]store.Event, error)
}

type loadMsg struct {
	id  int64
	evs []store.Event
	err error
}

// Model is the list.
type Model struct {
	c       common.Common
	ctx     context.Context
	src     Source
	id      int64
	corr    string
	from    string // the event we came from (marked)
	evs     []store.Event
	loading bool
	err     error
	tbl     eventlist.Model
}

// New lists the events correlated by corr; from is the event id the user
// came from.
func New(ctx context.Context, c common.Common, src Source, corr, from string) *Model {
	m := &Model{c: c, ctx: ctx, src: src, id: common.NewID(), corr: corr, from: from, loading: true}
	m.tbl = eventlist.New(c, eventlist.Recorded, eventlist.Stream, eventlist.Version, eventlist.Type, eventlist.Data)
	m.tbl.Mark = func(e *store.Event) string {
		if e.EventID.String() == m.from {
			return "◀ this event"
		}
		return ""
	}
	m.tbl.Empty = "searching…"
	m.tbl.SetEvents(eventlist.Slice(nil))
	return m
}

// Title is the breadcrumb.
func (m *Model) Title() string { return "correlated " + short(m.corr) }

func short(s string) string {
	if len(s) > 8 {
		return s[:8] + "…"
	}
	return s
}

// SetSize sets the area: two lines above the table.
func (m *Model) SetSize(w, h int) { m.c.SetSize(w, h); m.tbl.SetSize(w, h-2) }

// Init runs the search.
func (m *Model) Init() tea.Cmd {
	if m.src == nil {
		m.loading = false
		m.err = fmt.Errorf("correlation search is unavailable")
		return nil
	}
	id, src, corr := m.id, m.src, m.corr
	return common.Fetch(m.ctx, 30*time.Second, func(ctx context.Context) tea.Msg {
		evs, err := src.Correlated(ctx, corr, Limit)
		return loadMsg{id: id, evs: evs, err: err}
	})
}

// Selected is the event under the cursor.
func (m *Model) Selected() (store.Event, bool) { return m.tbl.Selected() }

// CopyText copies the selected event as JSON.
func (m *Model) CopyText() (string, string, bool) { return m.tbl.CopyText() }

// Update handles keys and the result.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case loadMsg:
		if msg.id != m.id {
			return nil
		}
		m.loading = false
		if msg.err != nil {
			m.err = msg.err
			m.tbl.Empty = "search failed"
			return common.ErrCmd("correlated events", msg.err)
		}
		m.err, m.evs = nil, msg.evs // a success clears the last failure
		m.tbl.Empty = "no event carries this correlation id"
		m.tbl.SetEvents(eventlist.Slice(m.evs))
		for i, e := range m.evs {
			if e.EventID.String() == m.from {
				m.tbl.SetCursor(i)
			}
		}
	case common.RefreshMsg:
		m.loading = true
		return m.Init()
	case tea.MouseMsg:
		cmd, _ := m.tbl.Update(msg, 2)
		return cmd
	case tea.KeyMsg:
		if key.Matches(msg, m.c.Keys.Refresh) {
			m.loading = true
			return m.Init()
		}
		cmd, _ := m.tbl.Update(msg, 2)
		return cmd
	}
	return nil
}

// View renders the summary and the list.
func (m *Model) View() string {
	st := m.c.Styles
	sum := st.Bold.Render("Events correlated by "+textsafe.Line(m.corr)) + "  "
	switch {
	case m.loading:
		sum += st.Faint.Render("searching the log's metadata…")
	case m.err != nil:
		sum += st.Error.Render(textsafe.Line(m.err.Error()))
	default:
		n := fmt.Sprintf("%d events", len(m.evs))
		if len(m.evs) >= Limit {
			n = fmt.Sprintf("the first %d events", Limit)
		}
		sum += st.Faint.Render(n + ", in global order")
	}
	out := common.Truncate(sum, m.c.Width) + "\n" + st.Faint.Render("enter open · y copy · esc back") + "\n" + m.tbl.View()
	return common.FitLines(out, m.c.Width, m.c.Height)
}

// ShortHelp is the footer help.
func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	return []key.Binding{k.Up, k.Down, k.Open, k.Copy, k.Back}
}

// FullHelp is the full help.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.c.Keys
	return [][]key.Binding{k.Moves(), {k.Open, k.Copy, k.Refresh, k.Back}}
}

// PageID addresses the results to the page that asked (common.Addressed).
func (m loadMsg) PageID() int64 { return m.id }

// ID is the page's address.
func (m *Model) ID() int64 { return m.id }
