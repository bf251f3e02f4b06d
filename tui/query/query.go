// Package query is the console's :query view: the filter language of
// `eventscope query` run on the server, its matches in global order, a page
// at a time. "/" edits the query, which runs as you type (after a pause,
// the run before cancelled; a malformed one says where it is wrong and
// runs nothing; plain words match ids, types and data and a leading "!"
// inverts, as in the tail's filter), enter opens an event, "n" loads the
// next page.
package query

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
	q "eventscope/store/query"
	"eventscope/tui/common"
	"eventscope/tui/eventlist"
)

// PageSize is the events fetched per page; MaxEvents caps what the view holds.
const (
	PageSize  = 200
	MaxEvents = 5000
)

// Source runs a query; FromStore adapts a *store.Store.
type Source interface {
	Query(ctx context.Context, f q.Filter, o q.RunOptions) ([]store.Event, q.Result, error)
}

// Debounce is the pause in typing after which the query being edited runs.
const Debounce = 300 * time.Millisecond

type editMsg struct{ id, seq int64 }

type storeSource struct{ st *store.Store }

// FromStore runs queries on st.
func FromStore(st *store.Store) Source { return storeSource{st} }

func (s storeSource) Query(ctx context.Context, f q.Filter, o q.RunOptions) ([]store.Event, q.Result, error) {
	var evs []store.Event
	res, err := q.RunFilter(ctx, s.st, f, o, func(e store.Event) error { evs = append(evs, e); return nil })
	return evs, res, err
}

type pageMsg struct {
	id, seq int64
	evs     []store.Event
	res     q.Result
	more    bool // appended to the list (n), not a new run
	err     error
	took    time.Duration
}

// Model is the view.
type Model struct {
	c       common.Common
	ctx     context.Context
	src     Source
	id, seq int64

	text    string // the query committed (enter, or as opened)
	parsed  q.Filter
	perr    error
	input   textinput.Model
	editing bool
	eseq    int64              // bumps on every edit: the debounce's tag
	ran     string             // the text whose results are shown
	cancel  context.CancelFunc // ends the run in flight

	evs     []store.Event
	res     q.Result
	loading bool
	err     error
	took    time.Duration
	tbl     eventlist.Model
}

// New runs expr.
func New(ctx context.Context, c common.Common, src Source, expr string) *Model {
	m := &Model{c: c, ctx: ctx, src: src, id: common.NewID()}
	m.tbl = eventlist.New(c, eventlist.Checkpoint, eventlist.Stream, eventlist.Version, eventlist.Type, eventlist.Recorded, eventlist.Data)
	m.input = common.NewInput(c.Styles, "type:OrderPlaced data.total > 100000 after:1d")
	m.input.CharLimit = q.MaxLen
	m.input.SetValue(expr)
	m.input.Blur()
	m.setText(expr)
	if strings.TrimSpace(expr) == "" {
		m.editing = true
		m.input.Focus()
	}
	m.tbl.SetEvents(eventlist.Slice(m.evs))
	return m
}

func (m *Model) setText(s string) {
	m.text = strings.TrimSpace(s)
	m.parsed, m.perr = q.ParseFilter(m.text, m.c.Now())
}

// Title is the breadcrumb.
func (m *Model) Title() string { return "query " + common.Truncate(textsafe.Line(m.text), 30) }

// SetSize sets the area: two lines above the table.
func (m *Model) SetSize(w, h int) { m.c.SetSize(w, h); m.tbl.SetSize(w, h-2) }

// Init runs the query.
func (m *Model) Init() tea.Cmd {
	if m.editing || m.perr != nil {
		return nil
	}
	return m.run(false)
}

func (m *Model) run(more bool) tea.Cmd { return m.runFilter(more, m.parsed, m.text) }

// runFilter runs f (typed as text), cancelling the run in flight.
func (m *Model) runFilter(more bool, f q.Filter, text string) tea.Cmd {
	if m.src == nil {
		m.err = fmt.Errorf("queries are unavailable")
		return nil
	}
	m.seq++
	m.loading = true
	after := store.Start
	if more {
		after = m.res.Next
	} else {
		m.evs, m.res, m.err = nil, q.Result{}, nil
		m.tbl.SetEvents(eventlist.Slice(m.evs))
	}
	if m.cancel != nil {
		m.cancel()
	}
	rctx, cancel := context.WithCancel(m.ctx)
	m.cancel, m.ran = cancel, text
	id, seq, src := m.id, m.seq, m.src
	return common.Fetch(rctx, 60*time.Second, func(ctx context.Context) tea.Msg {
		t0 := time.Now()
		evs, res, err := src.Query(ctx, f, q.RunOptions{After: after, Limit: PageSize, Timeout: 30 * time.Second})
		return pageMsg{id: id, seq: seq, evs: evs, res: res, more: more, err: err, took: time.Since(t0)}
	})
}

// ClaimsKey: the query input takes every key while it is edited.
func (m *Model) ClaimsKey(msg tea.KeyMsg) bool { return m.editing }

// Selected is the event under the cursor.
func (m *Model) Selected() (store.Event, bool) { return m.tbl.Selected() }

// CopyText copies the selected event as JSON (a line of the export
// format), or the query when nothing matched.
func (m *Model) CopyText() (string, string, bool) {
	if text, what, ok := m.tbl.CopyText(); ok {
		return text, what, true
	}
	return m.text, "query", m.text != ""
}

// Update handles keys and results.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case pageMsg:
		if msg.id != m.id || msg.seq != m.seq {
			return nil
		}
		m.loading = false
		if m.cancel != nil {
			m.cancel()
			m.cancel = nil
		}
		if msg.err != nil {
			m.err = msg.err
			return common.ErrCmd("query", msg.err)
		}
		m.err, m.took = nil, msg.took
		if msg.more {
			m.evs = append(m.evs, msg.evs...)
		} else {
			m.evs = msg.evs
		}
		m.res = msg.res
		m.tbl.Empty = "no event matches"
		m.tbl.SetEvents(eventlist.Slice(m.evs))
	case editMsg:
		return m.onEdit(msg)
	case common.RefreshMsg:
		if m.perr == nil && !m.editing {
			return m.run(false)
		}
	case tea.MouseMsg:
		cmd, _ := m.tbl.Update(msg, 2)
		return cmd
	case tea.KeyMsg:
		if m.editing {
			return m.editKey(msg)
		}
		k := m.c.Keys
		switch {
		case key.Matches(msg, k.Filter):
			m.editing = true
			m.input.Focus()
			return nil
		case key.Matches(msg, k.Refresh):
			if m.perr == nil {
				return m.run(false)
			}
			return nil
		case key.Matches(msg, k.More):
			if m.res.More && !m.loading && len(m.evs) < MaxEvents {
				return m.run(true)
			}
			return nil
		}
		cmd, _ := m.tbl.Update(msg, 2)
		return cmd
	}
	return nil
}

func (m *Model) editKey(msg tea.KeyMsg) tea.Cmd {
	switch msg.Type {
	case tea.KeyEnter:
		m.setText(m.input.Value())
		if m.perr != nil {
			return nil // stay in the input: the error says where
		}
		m.editing = false
		m.input.Blur()
		return m.run(false)
	case tea.KeyEsc:
		// the edit is abandoned: the query committed and its results
		m.editing = false
		m.input.Blur()
		m.input.SetValue(m.text)
		m.setText(m.text)
		m.eseq++
		switch {
		case m.ran == m.text || m.perr != nil:
		case m.text == "": // opened empty: nothing ran, nothing shown
			m.seq++
			m.loading, m.ran, m.evs, m.res = false, "", nil, q.Result{}
			m.tbl.SetEvents(eventlist.Slice(m.evs))
		default:
			return m.run(false)
		}
		return nil
	}
	var cmd tea.Cmd
	before := m.input.Value()
	m.input, cmd = m.input.Update(msg)
	if m.input.Value() == before {
		return cmd
	}
	_, m.perr = q.ParseFilter(strings.TrimSpace(m.input.Value()), m.c.Now())
	m.eseq++
	if m.perr != nil {
		return cmd
	}
	id, seq := m.id, m.eseq
	return tea.Batch(cmd, m.c.Tick(Debounce, func(time.Time) tea.Msg { return editMsg{id: id, seq: seq} }))
}

// onEdit runs the query being typed once the typing pauses.
func (m *Model) onEdit(msg editMsg) tea.Cmd {
	if msg.id != m.id || msg.seq != m.eseq || !m.editing {
		return nil
	}
	text := strings.TrimSpace(m.input.Value())
	f, err := q.ParseFilter(text, m.c.Now())
	if err != nil || text == m.ran {
		return nil
	}
	return m.runFilter(false, f, text)
}

// View renders the query line, the status line and the matches.
func (m *Model) View() string {
	if m.c.Width <= 0 || m.c.Height <= 0 {
		return "" // not laid out yet
	}
	st := m.c.Styles
	line1 := st.Bold.Render("query ")
	if m.editing {
		line1 += m.input.View()
	} else {
		line1 += st.Accent.Render(textsafe.Line(m.text))
	}
	var line2 string
	switch {
	case m.perr != nil:
		line2 = st.Error.Render(textsafe.Line(m.perr.Error()))
		if se, ok := m.perr.(*q.SyntaxError); ok && m.editing {
			// a caret under the column, then what is wrong
			line2 = st.Error.Render(strings.Repeat(" ", len("query ")+se.Column()-1) + "^ " + textsafe.Line(se.Msg))
		}
	case m.editing:
		hint := "runs as you type · enter done · esc cancel · words, ! inverts, type: cat: stream: after: before: data.PATH OP VALUE metadata.PATH OP VALUE"
		switch {
		case m.loading:
			hint = "running on the server… · " + hint
		case m.ran != "" && m.ran == strings.TrimSpace(m.input.Value()) && m.err == nil:
			hint = fmt.Sprintf("%d events in global order · ", len(m.evs)) + hint
		}
		line2 = st.Faint.Render(hint)
	case m.loading:
		line2 = st.Faint.Render("running on the server…")
	case m.err != nil:
		line2 = st.Error.Render(textsafe.Line(m.err.Error()))
	default:
		n := fmt.Sprintf("%d events in global order (%s)", len(m.evs), m.took.Round(time.Millisecond))
		if m.res.More {
			if len(m.evs) >= MaxEvents {
				n += fmt.Sprintf(" · the view holds %d: narrow the query", MaxEvents)
			} else {
				n += " · n more"
			}
		}
		line2 = st.Faint.Render(n + " · / edit · enter open · y copy")
	}
	out := common.Truncate(line1, m.c.Width) + "\n" + common.Truncate(line2, m.c.Width) + "\n" + m.tbl.View()
	return common.FitLines(out, m.c.Width, m.c.Height)
}

// ShortHelp is the footer help.
func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	return []key.Binding{k.Up, k.Down, k.Open, k.Filter, k.More, k.Copy, k.Back}
}

// FullHelp is the full help.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.c.Keys
	return [][]key.Binding{k.Moves(), {k.Open, k.Filter, k.More, k.Copy, k.Refresh, k.Back}}
}

// PageID addresses the results to the page that asked (common.Addressed).
func (m pageMsg) PageID() int64 { return m.id }
func (m editMsg) PageID() int64 { return m.id }

// ID is the page's address.
func (m *Model) ID() int64 { return m.id }
