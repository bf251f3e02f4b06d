// Package stream shows one stream's events (version, type, time, size, a
// preview of the data) in a window of versions that pages forward and
// backward through the store as the cursor moves, so a stream of 100,000
// events costs a page at a time.
//
// "/" searches every version of the stream on the server as you type
// (query.FindInStream: the console's filter — words in the type or data,
// query terms, "!" inverts), puts the cursor on the first match at or
// after it, and n/N step to the next and previous match, loading the
// window around it; esc ends the search.
package stream

import (
	"context"
	"fmt"
	"math"
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
)

// Source is what the view reads.
type Source interface {
	ReadStream(ctx context.Context, stream string, o store.ReadStreamOptions) ([]store.Event, error)
	StreamInfo(ctx context.Context, stream string) (store.StreamInfo, error)
	// FindInStream is query.FindInStream: the versions of the stream's
	// events that match f, searched on the server.
	FindInStream(ctx context.Context, stream string, f query.Filter, o query.FindOptions) (query.Found, error)
}

// Tuning.
const (
	PageSize   = 200
	PrefetchAt = 40
	MaxWindow  = 5000
	// FindBatch is how many matching versions one search call returns;
	// stepping past them asks for the next batch.
	FindBatch = query.MaxFound
	// Debounce is how long typing pauses before the search runs.
	Debounce = 120 * time.Millisecond
)

// goal is where a search result sends the cursor.
type goal int

const (
	stay    goal = iota // keep the cursor (a refresh)
	atAfter             // the first match at or after the cursor (typing)
	next                // the first match after the cursor (n)
	prev                // the last match before the cursor (N)
)

type debounceMsg struct{ id, seq int64 }

type foundMsg struct {
	id, seq int64
	from    int64
	found   query.Found
	goal    goal
	at      int64 // the cursor's version when the search was asked for
	err     error
}

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

	// The search: the filter as parsed, its error while typing, the
	// matching versions found so far (a prefix of every match, from
	// version 0), how many there are in all, and a note on the last step.
	search    query.Filter
	serr      error
	fseq      int64
	found     []int64
	total     int64
	searching bool
	note      string
	// origin is the cursor's version when "/" was pressed: each search
	// typed starts there (as vim's incremental search does), so a match
	// found for "0" does not move where "000032" starts from.
	origin int64
}

// New makes the view for stream, with the cursor on version (-1: start).
func New(ctx context.Context, c common.Common, src Source, stream string, version int64) *Model {
	m := &Model{c: c, ctx: ctx, src: src, id: common.NewID(), stream: stream, start: version}
	m.tbl = eventlist.New(c, eventlist.Version, eventlist.Type, eventlist.Recorded, eventlist.Size, eventlist.Data)
	m.tbl.Empty = "no events"
	m.tbl.SetEvents(window{m})
	m.input = common.NewInput(c.Styles, "words in type or data, type:…, data.x = …, ! inverts")
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

// ClaimsKey: the focused search takes every key; an active search takes
// esc (to end it) and n/N.
func (m *Model) ClaimsKey(msg tea.KeyMsg) bool {
	return m.focused || (m.active() && key.Matches(msg, m.c.Keys.Back, m.c.Keys.NextMatch, m.c.Keys.PrevMatch))
}

// active reports a search in force (typed, parsed, not cleared).
func (m *Model) active() bool { return !m.search.Empty() }

// Selected is the event under the cursor.
func (m *Model) Selected() (store.Event, bool) { return m.tbl.Selected() }

// CopyText copies the selected event as JSON.
func (m *Model) CopyText() (string, string, bool) { return m.tbl.CopyText() }

// window is the loaded window as the list's events.
type window struct{ m *Model }

func (w window) Len() int              { return len(w.m.events) }
func (w window) At(i int) *store.Event { return &w.m.events[i] }

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
		cmds := []tea.Cmd{m.loadInfo(), m.jump(v)}
		if m.active() {
			// the stream may have grown; a search not answered yet still
			// puts the cursor on its first match
			if m.found == nil {
				cmds = append(cmds, m.findAt(0, atAfter, m.origin))
			} else {
				cmds = append(cmds, m.find(0, stay))
			}
		}
		return tea.Batch(cmds...)
	case debounceMsg:
		if msg.id != m.id || msg.seq != m.fseq || !m.active() {
			return nil
		}
		return m.findAt(0, atAfter, m.origin)
	case foundMsg:
		return m.onFound(msg)
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
	m.tbl.SetEvents(window{m})
	m.tbl.SetCursor(cur)
}

// prefetch extends the window when the cursor nears either end.
func (m *Model) prefetch() tea.Cmd {
	if m.loading || len(m.events) == 0 {
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
			if m.active() && m.found == nil && !m.searching {
				return m.findAt(0, atAfter, m.origin) // typed faster than the debounce
			}
			return nil
		case tea.KeyEsc:
			m.clearSearch()
			return nil
		case tea.KeyUp, tea.KeyDown:
			m.tbl.Model.Update(msg)
			return m.prefetch()
		}
		var cmd tea.Cmd
		before := m.input.Value()
		m.input, cmd = m.input.Update(msg)
		if m.input.Value() == before {
			return cmd
		}
		return tea.Batch(cmd, m.setSearch(m.input.Value()))
	}
	switch {
	case key.Matches(msg, k.Filter):
		m.focused = true
		m.input.Focus()
		m.input.CursorEnd()
		m.origin = m.cursorVersion()
		return nil
	case key.Matches(msg, k.Back) && m.active():
		m.clearSearch()
		return nil
	case key.Matches(msg, k.NextMatch) && m.active():
		return m.step(next)
	case key.Matches(msg, k.PrevMatch) && m.active():
		return m.step(prev)
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
	case key.Matches(msg, k.Top):
		if len(m.events) > 0 && m.events[0].Version > 0 {
			return m.jump(-1)
		}
	case key.Matches(msg, k.Bottom):
		if m.infoOK && len(m.events) > 0 && m.events[len(m.events)-1].Version < m.info.Version {
			return m.jump(-2)
		}
	}
	if m.tbl.Model.Update(msg) {
		return m.prefetch()
	}
	return nil
}

// clearSearch ends the search for good: the input, the filter, the
// matches (a refresh or a return to the view brings none of it back).
func (m *Model) clearSearch() {
	m.focused = false
	m.input.Blur()
	m.input.SetValue("")
	m.search, m.serr, m.found, m.total, m.searching, m.note = query.Filter{}, nil, nil, 0, false, ""
	m.fseq++ // results in flight are for the old search
}

// setSearch parses the text typed; a filter that parses is searched for
// after a pause in the typing (Debounce), one that does not says why and
// searches nothing.
func (m *Model) setSearch(text string) tea.Cmd {
	m.fseq++
	m.found, m.total, m.note = nil, 0, ""
	f, err := query.ParseFilter(text, m.c.Now())
	if err != nil {
		m.search, m.serr, m.searching = query.Filter{}, err, false
		return nil
	}
	m.search, m.serr = f, nil
	if f.Empty() {
		m.searching = false
		return nil
	}
	m.searching = true
	id, seq := m.id, m.fseq
	return tea.Tick(Debounce, func(time.Time) tea.Msg { return debounceMsg{id: id, seq: seq} })
}

// cursorVersion is the version under the cursor (-1: none).
func (m *Model) cursorVersion() int64 {
	if e, ok := m.Selected(); ok {
		return e.Version
	}
	return -1
}

// find asks the server for the matching versions from version from on (0
// starts a new list of matches; otherwise the next batch), then moves as
// g says.
func (m *Model) find(from int64, g goal) tea.Cmd { return m.findAt(from, g, m.cursorVersion()) }

// findAt is find relative to version at rather than the cursor.
func (m *Model) findAt(from int64, g goal, at int64) tea.Cmd {
	if from == 0 {
		m.fseq++
	}
	m.searching = true
	id, seq, src, ctx, s, f := m.id, m.fseq, m.src, m.ctx, m.stream, m.search
	return common.Fetch(ctx, 30*time.Second, func(ctx context.Context) tea.Msg {
		found, err := src.FindInStream(ctx, s, f, query.FindOptions{From: from, Limit: FindBatch})
		return foundMsg{id: id, seq: seq, from: from, found: found, goal: g, at: at, err: err}
	})
}

func (m *Model) onFound(msg foundMsg) tea.Cmd {
	if msg.id != m.id || msg.seq != m.fseq || !m.active() {
		return nil
	}
	m.searching = false
	if msg.err != nil {
		m.serr = msg.err
		return common.ErrCmd("search "+m.stream, msg.err)
	}
	if msg.from == 0 {
		m.found = append([]int64(nil), msg.found.Versions...)
		m.total = msg.found.Total
	} else {
		if len(m.found) == 0 || m.found[len(m.found)-1] >= msg.from {
			return nil // not the batch that follows: a newer search won
		}
		m.found = append(m.found, msg.found.Versions...)
		m.total = int64(len(m.found)) - int64(len(msg.found.Versions)) + msg.found.Total
	}
	m.found = m.found[:len(m.found):len(m.found)]
	if msg.goal == stay {
		return nil
	}
	return m.move(msg.goal, msg.at)
}

// more reports matches past the ones found so far.
func (m *Model) more() bool { return int64(len(m.found)) < m.total }

// step is n or N from the cursor.
func (m *Model) step(g goal) tea.Cmd {
	if m.searching {
		return nil // the answer moves the cursor
	}
	if m.found == nil {
		return m.find(0, g)
	}
	return m.move(g, m.cursorVersion())
}

// move puts the cursor on the match g asks for, relative to version at;
// past the last match n wraps to the first, before the first N wraps to
// the last (and says so), loading more matches when they are needed.
func (m *Model) move(g goal, at int64) tea.Cmd {
	m.note = ""
	if len(m.found) == 0 {
		return nil
	}
	i := -1
	switch g {
	case atAfter, next:
		i = m.firstFrom(at, g == next)
		if i < 0 && m.more() {
			return m.findAt(m.found[len(m.found)-1]+1, g, at)
		}
		if i < 0 {
			i, m.note = 0, "wrapped to the first"
		}
	case prev:
		j := m.firstFrom(at, false)
		if j < 0 && m.more() {
			// matches between the last found and at may be closer
			return m.findAt(m.found[len(m.found)-1]+1, prev, at)
		}
		if j < 0 {
			j = len(m.found)
		}
		i = j - 1
		if i < 0 {
			if m.more() {
				// wrapping to the last match, which is past what is found
				return m.findAt(m.found[len(m.found)-1]+1, prev, math.MaxInt64)
			}
			i, m.note = len(m.found)-1, "wrapped to the last"
		}
	}
	return m.goTo(m.found[i])
}

// firstFrom is the index of the first match at (or, strict, after)
// version v among those found, -1 when there is none.
func (m *Model) firstFrom(v int64, strict bool) int {
	lo, hi := 0, len(m.found)
	for lo < hi {
		mid := (lo + hi) / 2
		if m.found[mid] < v || (strict && m.found[mid] == v) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(m.found) {
		return -1
	}
	return lo
}

// goTo puts the cursor on version v, reading the window around it when it
// is not loaded.
func (m *Model) goTo(v int64) tea.Cmd {
	if n := len(m.events); n > 0 && v >= m.events[0].Version && v <= m.events[n-1].Version {
		m.tbl.SetCursor(int(v - m.events[0].Version))
		return m.prefetch()
	}
	return m.jump(v)
}

// matchAt is the 1-based number of the match under the cursor, 0 when the
// cursor is not on one.
func (m *Model) matchAt() int {
	v := m.cursorVersion()
	if i := m.firstFrom(v, false); i >= 0 && m.found[i] == v {
		return i + 1
	}
	return 0
}

// searchStatus is the search's line after the input.
func (m *Model) searchStatus() string {
	st := m.c.Styles
	switch {
	case m.serr != nil:
		return st.Error.Render(textsafe.Line(m.serr.Error()))
	case !m.active():
		return ""
	case m.searching && m.found == nil:
		return st.Faint.Render("searching every version…")
	case m.total == 0:
		return st.Warning.Render("no event in the stream matches")
	}
	var b strings.Builder
	if k := m.matchAt(); k > 0 {
		fmt.Fprintf(&b, "match %s of %s", common.Count(int64(k)), common.Count(m.total))
	} else {
		fmt.Fprintf(&b, "%s matches", common.Count(m.total))
	}
	b.WriteString(" in the stream · n/N next/prev · esc clears")
	if m.note != "" {
		b.WriteString(" · " + m.note)
	}
	return st.Faint.Render(b.String())
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
		filter = st.Accent.Render("/ ") + m.input.View() + "  " + m.searchStatus()
	case m.active() || m.serr != nil:
		filter = st.Accent.Render("/ ") + st.Input.Render(textsafe.Line(m.input.Value())) + "   " + m.searchStatus()
	default:
		filter = st.Faint.Render("enter open event · t time-travel · / search every version · g/G first/last")
	}
	out := common.Truncate(sum.String(), m.c.Width) + "\n" + filter + "\n" + m.tbl.View()
	return common.FitLines(out, m.c.Width, m.c.Height)
}

// ShortHelp is the footer help.
func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	if m.active() {
		return []key.Binding{k.Up, k.Down, k.Open, search(k.Filter), k.NextMatch, k.PrevMatch, k.Copy, k.Back}
	}
	return []key.Binding{k.Up, k.Down, k.Open, k.TimeTravel, search(k.Filter), k.Copy, k.Back}
}

// search is "/" as this view has it: a search of every version.
func search(b key.Binding) key.Binding {
	b.SetHelp(b.Help().Key, "search")
	return b
}

// FullHelp is the full help.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.c.Keys
	if m.active() {
		return [][]key.Binding{k.Moves(), {k.Open, k.TimeTravel, search(k.Filter), k.NextMatch, k.PrevMatch, k.Copy, k.Refresh, k.Back}}
	}
	return [][]key.Binding{k.Moves(), {k.Open, k.TimeTravel, search(k.Filter), k.Copy, k.Refresh, k.Back}}
}

// PageID addresses the results to the page that asked (common.Addressed).
func (m eventsMsg) PageID() int64   { return m.id }
func (m infoMsg) PageID() int64     { return m.id }
func (m foundMsg) PageID() int64    { return m.id }
func (m debounceMsg) PageID() int64 { return m.id }

// ID is the page's address.
func (m *Model) ID() int64 { return m.id }
