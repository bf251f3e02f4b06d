// Package stream shows one stream's events (version, type, time, size, a
// preview of the data) in a window of versions that pages forward and
// backward through the store as the cursor moves, so a stream of 100,000
// events costs a page at a time.
package stream

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
	"eventscope/tui/common"
	"eventscope/tui/eventlist"
)

// Source is what the view reads.
type Source interface {
	ReadStream(ctx context.Context, stream string, o store.ReadStreamOptions) ([]store.Event, error)
	StreamInfo(ctx context.Context, stream string) (store.StreamInfo, error)
}

// Tuning.
const (
	PageSize   = 200
	PrefetchAt = 40
	MaxWindow  = 5000
)

type dir int

const (
	replace dir = iota
	forward
	backward
)

type eventsMsg struct {
	id, seq int64
	dir     dir
	events  []store.Event
	focus   int64 // version to put the cursor on (replace), -1 none, -2 last
	err     error
}

type infoMsg struct {
	id   int64
	info store.StreamInfo
	err  error
}

// Model is the stream view.
type Model struct {
	c      common.Common
	ctx    context.Context
	src    Source
	id     int64
	seq    int64
	stream string
	start  int64

	info     store.StreamInfo
	infoOK   bool
	events   []store.Event
	loading  bool
	notFound bool
	err      error

	tbl     eventlist.Model
	input   textinput.Model
	focused bool
	filter  string
	visible []int // indexes into events when filtered
}

// New makes the view for stream, with the cursor on version (-1: start).
func New(ctx context.Context, c common.Common, src Source, stream string, version int64) *Model {
	m := &Model{c: c, ctx: ctx, src: src, id: common.NewID(), stream: stream, start: version}
	m.tbl = eventlist.New(c, eventlist.Version, eventlist.Type, eventlist.Recorded, eventlist.Size, eventlist.Data)
	m.tbl.Empty = "no events"
	m.tbl.SetEvents(window{m})
	m.input = common.NewInput(c.Styles, "type or data text")
	m.input.Blur()
	return m
}

// Title is the breadcrumb.
func (m *Model) Title() string { return m.stream }

// Stream is the stream id.
func (m *Model) Stream() string { return m.stream }

// SetSize sets the area: two lines above the table.
func (m *Model) SetSize(w, h int) { m.c.SetSize(w, h); m.tbl.SetSize(w, h-2) }

// Init loads the info and the first window.
func (m *Model) Init() tea.Cmd { return tea.Batch(m.loadInfo(), m.jump(m.start)) }

func (m *Model) loadInfo() tea.Cmd {
	id, src, ctx, s := m.id, m.src, m.ctx, m.stream
	return func() tea.Msg {
		info, err := src.StreamInfo(ctx, s)
		return infoMsg{id: id, info: info, err: err}
	}
}

// jump replaces the window around version v (-1: the start, -2: the end).
func (m *Model) jump(v int64) tea.Cmd {
	switch {
	case v == -2:
		return m.read(replace, store.ReadStreamOptions{Backward: true, FromEnd: true, Limit: PageSize}, -2)
	case v < 0:
		return m.read(replace, store.ReadStreamOptions{From: 0, Limit: PageSize}, -1)
	}
	from := max(v-PageSize/4, 0)
	return m.read(replace, store.ReadStreamOptions{From: from, Limit: PageSize}, v)
}

func (m *Model) read(d dir, o store.ReadStreamOptions, focus int64) tea.Cmd {
	m.seq++
	m.loading = true
	id, seq, src, ctx, s := m.id, m.seq, m.src, m.ctx, m.stream
	return common.Fetch(ctx, 30*time.Second, func(ctx context.Context) tea.Msg {
		evs, err := src.ReadStream(ctx, s, o)
		if o.Backward {
			for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
				evs[i], evs[j] = evs[j], evs[i]
			}
		}
		return eventsMsg{id: id, seq: seq, dir: d, events: evs, focus: focus, err: err}
	})
}

// ClaimsKey: the focused filter takes every key; an active filter takes esc.
func (m *Model) ClaimsKey(msg tea.KeyMsg) bool {
	return m.focused || (m.filter != "" && key.Matches(msg, m.c.Keys.Back))
}

// Selected is the event under the cursor.
func (m *Model) Selected() (store.Event, bool) { return m.tbl.Selected() }

// CopyText copies the selected event as JSON.
func (m *Model) CopyText() (string, string, bool) { return m.tbl.CopyText() }

// window is the loaded window (or its filtered part) as the list's events.
type window struct{ m *Model }

func (w window) Len() int {
	if w.m.filter != "" {
		return len(w.m.visible)
	}
	return len(w.m.events)
}

func (w window) At(i int) *store.Event {
	if w.m.filter != "" {
		return &w.m.events[w.m.visible[i]]
	}
	return &w.m.events[i]
}

// Update handles keys, mouse and results.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.KeyMsg:
		return m.key(msg)
	case tea.MouseMsg:
		if cmd, _ := m.tbl.Update(msg, 2); cmd != nil {
			return cmd
		}
		return m.prefetch()
	case common.RefreshMsg:
		v := int64(-1)
		if e, ok := m.Selected(); ok {
			v = e.Version
		}
		return tea.Batch(m.loadInfo(), m.jump(v))
	case infoMsg:
		if msg.id != m.id {
			return nil
		}
		if msg.err != nil {
			if common.IsNotFound(msg.err) {
				m.notFound = true
				return nil
			}
			return common.ErrCmd("stream "+m.stream, msg.err)
		}
		m.info, m.infoOK = msg.info, true
	case eventsMsg:
		if msg.id != m.id || msg.seq != m.seq {
			return nil
		}
		m.loading = false
		if msg.err != nil {
			if common.IsNotFound(msg.err) {
				m.notFound = true
				return nil
			}
			m.err = msg.err
			return common.ErrCmd("read "+m.stream, msg.err)
		}
		m.err, m.notFound = nil, false // a success clears the last failure
		m.apply(msg)
		return m.prefetch()
	}
	return nil
}

func (m *Model) apply(msg eventsMsg) {
	cur := m.tbl.Cursor()
	switch msg.dir {
	case replace:
		m.events = msg.events
		cur = 0
		if msg.focus == -2 {
			cur = len(m.events) - 1
		} else if msg.focus >= 0 && len(m.events) > 0 {
			cur = int(msg.focus - m.events[0].Version)
		}
	case forward:
		if len(m.events) > 0 && len(msg.events) > 0 && msg.events[0].Version != m.events[len(m.events)-1].Version+1 {
			return // not contiguous any more: a newer jump won
		}
		m.events = append(m.events, msg.events...)
		if over := len(m.events) - MaxWindow; over > 0 {
			m.events = append([]store.Event(nil), m.events[over:]...)
			cur -= over
		}
	case backward:
		if len(m.events) > 0 && len(msg.events) > 0 && msg.events[len(msg.events)-1].Version != m.events[0].Version-1 {
			return
		}
		m.events = append(append([]store.Event(nil), msg.events...), m.events...)
		cur += len(msg.events)
		if over := len(m.events) - MaxWindow; over > 0 {
			m.events = m.events[:MaxWindow]
		}
	}
	m.refilter()
	m.tbl.SetCursor(cur)
}

// prefetch extends the window when the cursor nears either end.
func (m *Model) prefetch() tea.Cmd {
	if m.loading || len(m.events) == 0 || m.filter != "" {
		return nil
	}
	cur := m.tbl.Cursor()
	first, last := m.events[0].Version, m.events[len(m.events)-1].Version
	if cur >= len(m.events)-PrefetchAt && (!m.infoOK || last < m.info.Version) {
		return m.read(forward, store.ReadStreamOptions{From: last + 1, Limit: PageSize}, -1)
	}
	if cur < PrefetchAt && first > 0 {
		return m.read(backward, store.ReadStreamOptions{From: first - 1, Backward: true, Limit: PageSize}, -1)
	}
	return nil
}

func (m *Model) key(msg tea.KeyMsg) tea.Cmd {
	k := m.c.Keys
	if m.focused {
		switch msg.Type {
		case tea.KeyEnter:
			m.focused = false
			m.input.Blur()
			return nil
		case tea.KeyEsc:
			m.focused = false
			m.input.Blur()
			m.input.SetValue("")
			m.setFilter("")
			return nil
		case tea.KeyUp, tea.KeyDown:
			m.tbl.Model.Update(msg)
			return nil
		}
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		m.setFilter(m.input.Value())
		return cmd
	}
	switch {
	case key.Matches(msg, k.Filter):
		m.focused = true
		m.input.Focus()
		return nil
	case key.Matches(msg, k.Back) && m.filter != "":
		m.input.SetValue("")
		m.setFilter("")
		return nil
	case key.Matches(msg, k.Open):
		return m.tbl.Open()
	case key.Matches(msg, k.Refresh):
		return m.Update(common.RefreshMsg{})
	case key.Matches(msg, k.TimeTravel):
		v := int64(-1)
		if e, ok := m.Selected(); ok {
			v = e.Version
		}
		return common.Navigate(common.OpenTimeTravelMsg{Stream: m.stream, Version: v})
	case key.Matches(msg, k.Top) && m.filter == "":
		if len(m.events) > 0 && m.events[0].Version > 0 {
			return m.jump(-1)
		}
	case key.Matches(msg, k.Bottom) && m.filter == "":
		if m.infoOK && len(m.events) > 0 && m.events[len(m.events)-1].Version < m.info.Version {
			return m.jump(-2)
		}
	}
	if m.tbl.Model.Update(msg) {
		return m.prefetch()
	}
	return nil
}

func (m *Model) setFilter(f string) {
	m.filter = strings.TrimSpace(f)
	m.refilter()
	m.tbl.SetCursor(0)
}

func (m *Model) refilter() {
	if m.filter == "" {
		m.visible = nil
		m.tbl.SetEvents(window{m})
		return
	}
	f := strings.ToLower(m.filter)
	m.visible = m.visible[:0]
	for i, e := range m.events {
		if strings.Contains(strings.ToLower(e.Type), f) || strings.Contains(strings.ToLower(string(e.Data)), f) {
			m.visible = append(m.visible, i)
		}
	}
	m.tbl.SetEvents(window{m})
}

// View renders the stream's summary, the filter line and the events.
func (m *Model) View() string {
	st := m.c.Styles
	if m.notFound {
		return common.FitLines(st.Error.Render(fmt.Sprintf("Stream \"%s\" does not exist.", textsafe.Line(m.stream)))+"\n"+st.Faint.Render("esc goes back"), m.c.Width, m.c.Height)
	}
	var sum strings.Builder
	sum.WriteString(st.Bold.Render(textsafe.Line(m.stream)))
	if m.infoOK {
		sum.WriteString(st.Faint.Render(fmt.Sprintf(" · %s events · version %d · created %s · updated %s",
			common.Count(m.info.EventCount), m.info.Version, common.Timestamp(m.info.CreatedAt), common.Ago(m.c.Now(), m.info.UpdatedAt))))
		if m.info.Closed() {
			sum.WriteString(" " + st.Warning.Render("CLOSED"))
		}
	}
	if len(m.events) > 0 {
		sum.WriteString(st.Faint.Render(fmt.Sprintf(" · showing v%d–v%d", m.events[0].Version, m.events[len(m.events)-1].Version)))
	}
	if m.loading {
		sum.WriteString(st.Faint.Render(" · loading…"))
	}
	var filter string
	switch {
	case m.focused:
		filter = st.Accent.Render("/ ") + m.input.View()
	case m.filter != "":
		filter = st.Accent.Render("/ ") + st.Input.Render(m.filter) + st.Faint.Render(fmt.Sprintf("   %d of %d loaded events match (esc clears)", len(m.visible), len(m.events)))
	default:
		filter = st.Faint.Render("enter open event · t time-travel · / filter · g/G first/last")
	}
	out := common.Truncate(sum.String(), m.c.Width) + "\n" + filter + "\n" + m.tbl.View()
	return common.FitLines(out, m.c.Width, m.c.Height)
}

// ShortHelp is the footer help.
func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	return []key.Binding{k.Up, k.Down, k.Open, k.TimeTravel, k.Filter, k.Copy, k.Back}
}

// FullHelp is the full help.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.c.Keys
	return [][]key.Binding{
		k.Moves(),
		{k.Open, k.TimeTravel, k.Filter, k.Copy, k.Refresh, k.Back},
	}
}

// PageID addresses the results to the page that asked (common.Addressed).
func (m eventsMsg) PageID() int64 { return m.id }
func (m infoMsg) PageID() int64   { return m.id }

// ID is the page's address.
func (m *Model) ID() int64 { return m.id }
