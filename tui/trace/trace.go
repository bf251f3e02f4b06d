// Package trace is the console's causation trace: every event of an
// event's correlation, across streams, as a tree by causation, with each
// step's time since its cause, the subscriber that wrote it (metadata
// "source") and the slowest step marked. Enter opens a node's event; "/"
// filters the steps with the query language.
package trace

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"eventscope/internal/textsafe"
	"eventscope/store"
	"eventscope/store/query"
	"eventscope/tui/common"
	"eventscope/tui/eventlist"
	"eventscope/tui/table"
)

// Limit caps the events of a trace the view loads.
const Limit = 2000

// Source traces an event; *store.Store is one.
type Source interface {
	Trace(ctx context.Context, ref store.EventRef, o store.TraceOptions) (store.Trace, error)
}

type loadMsg struct {
	id  int64
	tr  store.Trace
	err error
}

// Model is the view.
type Model struct {
	c       common.Common
	ctx     context.Context
	src     Source
	id      int64
	arg     string
	ref     store.EventRef
	tr      store.Trace
	loading bool
	err     error

	tbl     table.Model
	input   textinput.Model
	focused bool
	filter  *query.Filter // nil: none
	ferr    error
	visible []int
}

// New traces the event arg names (EVENT_ID or STREAM@VERSION).
func New(ctx context.Context, c common.Common, src Source, arg string) *Model {
	m := &Model{c: c, ctx: ctx, src: src, id: common.NewID(), arg: arg, loading: true}
	m.tbl = table.New(c.Styles, c.Keys, []table.Column{
		{Title: "step", Width: 30, Flex: 4},
		{Title: "stream@version", Width: 18, Flex: 1, Mid: true},
		{Title: "recorded", Width: 12},
		{Title: "after", Width: 17, Right: true},
		{Title: "by", Width: 18},
	})
	m.tbl.Empty = "tracing…"
	m.input = common.NewInput(c.Styles, "type:CreditReserved data.amount > 1000 metadata.source = customer-service")
	m.input.Blur()
	m.ref, m.err = store.ParseEventRef(arg)
	if m.err != nil {
		m.loading = false
		m.tbl.Empty = "nothing to trace"
	}
	m.tbl.SetRows(rows{m})
	return m
}

// Title is the breadcrumb.
func (m *Model) Title() string { return "trace " + common.Truncate(textsafe.Line(m.arg), 24) }

// SetSize sets the area: two lines above the table.
func (m *Model) SetSize(w, h int) { m.c.SetSize(w, h); m.tbl.SetSize(w, h-2) }

// Init loads the trace.
func (m *Model) Init() tea.Cmd {
	if m.err != nil {
		return nil
	}
	if m.src == nil {
		m.loading, m.err = false, fmt.Errorf("tracing is unavailable")
		return nil
	}
	m.loading = true
	id, src, ref := m.id, m.src, m.ref
	return common.Fetch(m.ctx, 30*time.Second, func(ctx context.Context) tea.Msg {
		tr, err := src.Trace(ctx, ref, store.TraceOptions{Limit: Limit})
		return loadMsg{id: id, tr: tr, err: err}
	})
}

// ClaimsKey: the focused filter takes every key; an active filter takes esc.
func (m *Model) ClaimsKey(msg tea.KeyMsg) bool {
	return m.focused || (m.filter != nil && key.Matches(msg, m.c.Keys.Back))
}

// Selected is the step under the cursor.
func (m *Model) Selected() (store.TraceStep, bool) {
	if i := m.tbl.Cursor(); i < len(m.visible) {
		return m.tr.Steps[m.visible[i]], true
	}
	return store.TraceStep{}, false
}

// CopyText copies the selected event as JSON.
func (m *Model) CopyText() (string, string, bool) {
	s, ok := m.Selected()
	if !ok {
		return "", "", false
	}
	return eventlist.CopyEvent(s.Event)
}

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
			m.tbl.Empty = "trace failed"
			return common.ErrCmd("trace", msg.err)
		}
		m.err, m.tr = nil, msg.tr
		m.tbl.Empty = "no step matches the filter"
		m.apply()
		for i, vi := range m.visible {
			if m.tr.Steps[vi].EventID == m.tr.Start {
				m.tbl.SetCursor(i)
			}
		}
	case common.RefreshMsg:
		return m.Init()
	case tea.MouseMsg:
		if moved, clicked := m.tbl.Mouse(msg, msg.Y-2); clicked && !moved {
			return m.open()
		}
	case tea.KeyMsg:
		if m.focused {
			return m.filterKey(msg)
		}
		k := m.c.Keys
		switch {
		case key.Matches(msg, k.Filter):
			m.focused = true
			m.input.Focus()
			return nil
		case m.filter != nil && key.Matches(msg, k.Back):
			m.filter, m.ferr = nil, nil
			m.input.SetValue("")
			m.apply()
			return nil
		case key.Matches(msg, k.Open):
			return m.open()
		case key.Matches(msg, k.Refresh):
			return m.Init()
		}
		m.tbl.Update(msg)
	}
	return nil
}

func (m *Model) filterKey(msg tea.KeyMsg) tea.Cmd {
	switch msg.Type {
	case tea.KeyEnter, tea.KeyEsc:
		m.focused = false
		m.input.Blur()
		if msg.Type == tea.KeyEsc {
			m.input.SetValue("")
		}
	default:
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		m.setFilter()
		return cmd
	}
	m.setFilter()
	return nil
}

// setFilter parses the input; a malformed filter keeps the last good one
// and says where it is wrong.
func (m *Model) setFilter() {
	text := strings.TrimSpace(m.input.Value())
	if text == "" {
		m.filter, m.ferr = nil, nil
		m.apply()
		return
	}
	f, err := query.ParseFilter(text, m.c.Now())
	if err != nil {
		m.ferr = err
		return
	}
	m.filter, m.ferr = &f, nil
	if f.Empty() {
		m.filter = nil
	}
	m.apply()
}

func (m *Model) apply() {
	m.visible = m.visible[:0]
	for i, s := range m.tr.Steps {
		if m.filter == nil || m.filter.Match(&s.Event) {
			m.visible = append(m.visible, i)
		}
	}
	m.tbl.SetRows(rows{m})
}

func (m *Model) open() tea.Cmd {
	if s, ok := m.Selected(); ok {
		return common.Navigate(common.OpenEventMsg{Event: s.Event})
	}
	return nil
}

type rows struct{ m *Model }

func (r rows) Len() int { return len(r.m.visible) }

func (r rows) Cells(i int) []table.Cell {
	st := r.m.c.Styles
	s := r.m.tr.Steps[r.m.visible[i]]
	step := strings.Repeat("  ", s.Depth)
	if s.Depth > 0 {
		step = strings.Repeat("  ", s.Depth-1) + "└ "
	}
	step += textsafe.Line(s.Type)
	switch {
	case s.Cycle:
		step += "  (causation cycle)"
	case s.Parent == nil && s.Cause != "" && !s.CauseStored:
		step += "  ← command " + common.Truncate(textsafe.Line(s.Cause), 13)
	case s.Parent == nil && s.Cause != "":
		step += "  ← other correlation"
	}
	if s.EventID == r.m.tr.Start {
		step += "  ◀ this event"
	}
	after := ""
	afterStyle := &st.Faint
	if s.After != nil {
		after = "+" + fmtAfter(*s.After)
		afterStyle = nil
	}
	if s.Slowest {
		after = "slowest " + after
		afterStyle = &st.Warning
	}
	return []table.Cell{
		{Text: step, Style: &st.Accent},
		{Text: fmt.Sprintf("%s@%d", textsafe.Line(s.StreamID), s.Version)},
		{Text: s.RecordedAt.Local().Format("15:04:05.000"), Style: &st.Faint},
		{Text: after, Style: afterStyle},
		{Text: textsafe.Line(s.Source), Style: &st.Faint},
	}
}

func fmtAfter(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + fmtAfter(-d)
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// View renders the summary, the filter line and the tree.
func (m *Model) View() string {
	if m.c.Width <= 0 || m.c.Height <= 0 {
		return "" // not laid out yet
	}
	st := m.c.Styles
	var sum string
	switch {
	case m.loading:
		sum = st.Bold.Render("Trace "+textsafe.Line(m.arg)) + "  " + st.Faint.Render("following the correlation…")
	case m.err != nil:
		sum = st.Bold.Render("Trace "+textsafe.Line(m.arg)) + "  " + st.Error.Render(textsafe.Line(m.err.Error()))
	default:
		streams := map[string]bool{}
		var slow *store.TraceStep
		for i, s := range m.tr.Steps {
			streams[s.StreamID] = true
			if s.Slowest {
				slow = &m.tr.Steps[i]
			}
		}
		sum = st.Bold.Render("Trace "+common.Truncate(textsafe.Line(m.tr.CorrelationID), 40)) + "  " +
			st.Faint.Render(fmt.Sprintf("%d events in %d streams", len(m.tr.Steps), len(streams)))
		if slow != nil {
			sum += st.Faint.Render(" · slowest ") + st.Warning.Render("+"+fmtAfter(*slow.After)) + st.Faint.Render(" "+textsafe.Line(slow.Type))
		}
		if m.tr.Truncated {
			sum += st.Warning.Render(fmt.Sprintf(" · cut at %d events", Limit))
		}
	}
	var line2 string
	switch {
	case m.focused || m.filter != nil || m.ferr != nil:
		line2 = st.Faint.Render("filter: ") + m.input.View()
		if m.ferr != nil {
			line2 += "  " + st.Error.Render(textsafe.Line(m.ferr.Error()))
		} else if m.filter != nil {
			line2 += st.Faint.Render(fmt.Sprintf("  %d of %d steps", len(m.visible), len(m.tr.Steps)))
		}
	default:
		line2 = st.Faint.Render("enter open · / filter (query language, words, ! inverts) · y copy · r reload · esc back")
	}
	out := common.Truncate(sum, m.c.Width) + "\n" + common.Truncate(line2, m.c.Width) + "\n" + m.tbl.View()
	return common.FitLines(out, m.c.Width, m.c.Height)
}

// ShortHelp is the footer help.
func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	return []key.Binding{k.Up, k.Down, k.Open, k.Filter, k.Copy, k.Back}
}

// FullHelp is the full help.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.c.Keys
	return [][]key.Binding{k.Moves(), {k.Open, k.Filter, k.Copy, k.Refresh, k.Back}}
}

// PageID addresses the results to the page that asked (common.Addressed).
func (m loadMsg) PageID() int64 { return m.id }

// ID is the page's address.
func (m *Model) ID() int64 { return m.id }
