// Package tail is the live tail of the global log: the newest events at
// the bottom, following automatically; scrolling up pauses following and
// counts the events that arrive ("N new ↓"); f or reaching the bottom
// follows again. Events come from a reader goroutine through a bounded
// Feed in batches (~75 ms), into a bounded ring of events.
package tail

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
)

// The tail keeps at most Capacity events and MaxBytes of them (data,
// metadata, ids and type, plus EventOverhead each), dropping the oldest:
// 10,000 small events, or about 70 of 900 KB.
const (
	Capacity      = 10000
	MaxBytes      = 64 << 20
	EventOverhead = 256
)

// Size is what an event counts against the byte bounds.
func Size(e *store.Event) int64 {
	return int64(len(e.Data) + len(e.Metadata) + len(e.StreamID) + len(e.Type) + EventOverhead)
}

// Starter starts a reader that fills the feed until ctx ends.
type Starter interface {
	StartTail(ctx context.Context, feed *Feed)
}

type startedMsg struct {
	id   int64
	feed *Feed
}

// Model is the tail view.
type Model struct {
	c     common.Common
	ctx   context.Context
	src   Starter
	id    int64
	feed  *Feed
	cap   int
	state ReaderState

	// The ring: events with sequence numbers [total-count, total).
	ring     []store.Event
	start    int
	count    int
	total    int64
	bytes    int64 // held, by Size
	maxBytes int64

	filter query.Filter
	ferr   error   // the filter being typed does not parse
	vis    []int64 // sequence numbers passing the filter (when filtering)

	tbl      eventlist.Model
	follow   bool
	newCount int
	dropped  int64
	input    textinput.Model
	focused  bool

	recvRing *common.Ring
	recvAt   time.Time
	recvN    int
	recvRate float64
	lastAt   time.Time // when the last event arrived

	// horizon is the header's probe: while an open transaction holds the
	// log back, committed events wait and the tail is not simply "live".
	horizon store.Horizon
}

// New makes the tail view. capacity <= 0 means Capacity.
func New(ctx context.Context, c common.Common, src Starter, capacity int) *Model {
	if capacity <= 0 {
		capacity = Capacity
	}
	m := &Model{c: c, ctx: ctx, src: src, id: common.NewID(), cap: capacity, maxBytes: MaxBytes, ring: make([]store.Event, capacity), follow: true, recvRing: common.NewRing(60)}
	m.tbl = eventlist.New(c, eventlist.Clock, eventlist.Checkpoint, eventlist.Stream, eventlist.Version, eventlist.Type, eventlist.Data)
	m.tbl.Empty = "waiting for new events…"
	m.tbl.SetEvents(held{m})
	m.input = common.NewInput(c.Styles, "cat:order,customer type:OrderPlaced data.total > 100 word")
	m.input.Blur()
	return m
}

// ID addresses this view's batches.
func (m *Model) ID() int64 { return m.id }

// Title is the breadcrumb.
func (m *Model) Title() string { return "Tail" }

// SetSize sets the area: one status line and one filter line.
func (m *Model) SetSize(w, h int) {
	m.c.SetSize(w, h)
	m.tbl.SetSize(w, h-2)
	if m.follow {
		m.tbl.ScrollToBottom()
	}
}

// Init starts the reader.
func (m *Model) Init() tea.Cmd {
	if m.src == nil {
		return nil
	}
	id, src, ctx := m.id, m.src, m.ctx
	return func() tea.Msg {
		f := NewFeed(m.cap, ctx.Done())
		f.MaxBytes = m.maxBytes / 2
		src.StartTail(ctx, f)
		return startedMsg{id: id, feed: f}
	}
}

// ClaimsKey: the focused filter takes every key; an active filter takes esc.
func (m *Model) ClaimsKey(msg tea.KeyMsg) bool {
	return m.focused || (!m.filter.Empty() && key.Matches(msg, m.c.Keys.Back))
}

// Following reports whether the view follows the newest events.
func (m *Model) Following() bool { return m.follow }

// NewCount is the number of events that arrived while not following.
func (m *Model) NewCount() int { return m.newCount }

// Len is the number of events held.
func (m *Model) Len() int { return m.count }

func (m *Model) at(seq int64) *store.Event {
	first := m.total - int64(m.count)
	return &m.ring[(m.start+int(seq-first))%m.cap]
}

func (m *Model) rowsLen() int {
	if m.filter.Empty() {
		return m.count
	}
	return len(m.vis)
}

func (m *Model) seqAt(i int) int64 {
	if m.filter.Empty() {
		return m.total - int64(m.count) + int64(i)
	}
	return m.vis[i]
}

// Selected is the event under the cursor.
func (m *Model) Selected() (store.Event, bool) { return m.tbl.Selected() }

// CopyText copies the selected event as JSON.
func (m *Model) CopyText() (string, string, bool) { return m.tbl.CopyText() }

// held is the ring (or its filtered part) as the list's events.
type held struct{ m *Model }

func (h held) Len() int              { return h.m.rowsLen() }
func (h held) At(i int) *store.Event { return h.m.at(h.m.seqAt(i)) }

// Update handles keys, mouse and batches.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case startedMsg:
		if msg.id != m.id {
			return nil
		}
		m.feed = msg.feed
		return m.feed.Next(m.id)
	case BatchMsg:
		if msg.ID != m.id {
			return nil
		}
		m.add(msg)
		if m.feed == nil {
			return nil
		}
		return m.feed.Next(m.id)
	case common.ConnStateMsg:
		if msg.Up {
			m.state.Err = nil // the reader reconnects by itself
		}
	case common.RateMsg:
		m.horizon = msg.Horizon
	case tea.KeyMsg:
		return m.key(msg)
	case tea.MouseMsg:
		before := m.tbl.Cursor()
		_, clicked := m.tbl.Mouse(msg, msg.Y-2)
		if clicked && m.tbl.Cursor() == before && msg.Button == tea.MouseButtonLeft {
			// A click on the selected row opens it, as in every list.
			if cmd := m.tbl.Open(); cmd != nil {
				m.follow = false
				return cmd
			}
		}
		switch {
		case msg.Button == tea.MouseButtonWheelUp:
			// Scrolling up pauses following, as k does.
			m.follow = m.tbl.Cursor() >= m.rowsLen()-1 && m.follow
		case clicked:
			m.follow = m.tbl.Cursor() >= m.rowsLen()-1
			if m.follow {
				m.newCount = 0
			}
		case msg.Button == tea.MouseButtonWheelDown && m.tbl.AtBottom():
			// Wheeling down to the end follows again.
			m.follow, m.newCount = true, 0
			m.tbl.ScrollToBottom()
		default:
			m.afterMove()
		}
	}
	return nil
}

// add appends a batch to the ring, keeping the cursor on its event when
// not following.
func (m *Model) add(b BatchMsg) {
	m.state = b.State
	m.dropped += b.Dropped
	now := m.c.Now()
	m.recvN += len(b.Events)
	if m.recvAt.IsZero() {
		m.recvAt = now
	} else if d := now.Sub(m.recvAt); d >= time.Second {
		m.recvRate = float64(m.recvN) / d.Seconds()
		m.recvRing.Add(m.recvRate)
		m.recvN, m.recvAt = 0, now
	}
	if len(b.Events) == 0 {
		return
	}
	m.lastAt = now
	var keep int64 = -1
	if !m.follow {
		if i := m.tbl.Cursor(); i < m.rowsLen() {
			keep = m.seqAt(i)
		}
	}
	evs := b.Events
	if len(evs) > m.cap {
		m.dropped += int64(len(evs) - m.cap)
		m.total += int64(len(evs) - m.cap)
		evs = evs[len(evs)-m.cap:]
	}
	filtering := !m.filter.Empty()
	for i := range evs {
		seq := m.total
		size := Size(&evs[i])
		// Evict the oldest until the event fits both bounds (an event
		// larger than the byte bound is kept alone).
		for m.count > 0 && (m.count == m.cap || m.bytes+size > m.maxBytes) {
			m.evictOldest()
		}
		m.ring[(m.start+m.count)%m.cap] = evs[i]
		m.count++
		m.bytes += size
		m.total++
		if filtering {
			if m.filter.Match(&evs[i]) {
				m.vis = append(m.vis, seq)
				if !m.follow {
					m.newCount++
				}
			}
		} else if !m.follow {
			m.newCount++
		}
	}
	if filtering {
		first := m.total - int64(m.count)
		k := 0
		for k < len(m.vis) && m.vis[k] < first {
			k++
		}
		if k > 0 {
			m.vis = append(m.vis[:0], m.vis[k:]...)
		}
	}
	m.tbl.SetEvents(held{m})
	if m.follow {
		m.tbl.ScrollToBottom()
		return
	}
	if keep >= 0 {
		m.tbl.SetCursor(m.indexOf(keep))
	}
}

func (m *Model) evictOldest() {
	old := &m.ring[m.start]
	m.bytes -= Size(old)
	*old = store.Event{} // let the collector have it
	m.start = (m.start + 1) % m.cap
	m.count--
}

// Bytes is the size of the events held, by Size.
func (m *Model) Bytes() int64 { return m.bytes }

// SetMaxBytes changes the byte bound (tests).
func (m *Model) SetMaxBytes(n int64) { m.maxBytes = n }

// indexOf is the row of sequence number seq (0 when evicted).
func (m *Model) indexOf(seq int64) int {
	if m.filter.Empty() {
		return max(int(seq-(m.total-int64(m.count))), 0)
	}
	lo, hi := 0, len(m.vis)
	for lo < hi {
		mid := (lo + hi) / 2
		if m.vis[mid] < seq {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

func (m *Model) afterMove() {
	if m.tbl.Cursor() >= m.rowsLen()-1 {
		m.follow, m.newCount = true, 0
	}
}

func (m *Model) key(msg tea.KeyMsg) tea.Cmd {
	k := m.c.Keys
	if m.focused {
		switch msg.Type {
		case tea.KeyEnter:
			if err := m.setFilter(m.input.Value()); err != nil {
				m.ferr = err // stay in the input: the error says where
				return nil
			}
			m.focused = false
			m.input.Blur()
			return nil
		case tea.KeyEsc:
			// esc ends the filter for good, as in every list
			m.focused = false
			m.ferr = nil
			m.input.Blur()
			m.input.SetValue("")
			_ = m.setFilter("")
			return nil
		}
		var cmd tea.Cmd
		before := m.input.Value()
		m.input, cmd = m.input.Update(msg)
		if m.input.Value() != before {
			// as you type: a filter that parses applies at once, one that
			// does not says why and keeps the last one
			m.ferr = m.setFilter(m.input.Value())
		}
		return cmd
	}
	switch {
	case key.Matches(msg, k.TailFilter):
		m.focused = true
		m.input.Focus()
		m.input.CursorEnd()
		return nil
	case key.Matches(msg, k.Back) && !m.filter.Empty():
		m.input.SetValue("")
		_ = m.setFilter("") // the empty filter always parses
		return nil
	case key.Matches(msg, k.Follow):
		m.follow, m.newCount = true, 0
		m.tbl.ScrollToBottom()
		return nil
	case key.Matches(msg, k.Open):
		cmd := m.tbl.Open()
		if cmd != nil {
			m.follow = false // coming back shows the same place
		}
		return cmd
	case key.Matches(msg, k.Up), key.Matches(msg, k.PageUp), key.Matches(msg, k.Top):
		if m.tbl.Model.Update(msg) || m.rowsLen() > 0 {
			m.follow = false
		}
		return nil
	case key.Matches(msg, k.Down), key.Matches(msg, k.PageDown), key.Matches(msg, k.Bottom):
		m.tbl.Model.Update(msg)
		m.afterMove()
		return nil
	case key.Matches(msg, k.Wrap), key.Matches(msg, k.ScrollLeft), key.Matches(msg, k.ScrollRight):
		m.tbl.Model.Update(msg)
		return nil
	}
	return nil
}

// setFilter applies s (the query language plus plain words); a malformed
// filter changes nothing.
func (m *Model) setFilter(s string) error {
	f, err := query.ParseFilter(s, m.c.Now())
	if err != nil {
		return err
	}
	m.filter, m.ferr = f, nil
	m.vis = m.vis[:0]
	if !m.filter.Empty() {
		first := m.total - int64(m.count)
		for seq := first; seq < m.total; seq++ {
			if m.filter.Match(m.at(seq)) {
				m.vis = append(m.vis, seq)
			}
		}
	}
	m.newCount = 0
	m.follow = true
	m.tbl.SetEvents(held{m})
	m.tbl.ScrollToBottom()
	return nil
}

// View renders the status line, the filter line and the events.
func (m *Model) View() string {
	st := m.c.Styles
	var parts []string
	if m.follow {
		parts = append(parts, st.OK.Render("● following"))
	} else {
		parts = append(parts, st.Warning.Render("❚❚ paused")+st.Faint.Render(" (f follows)"))
	}
	parts = append(parts, fmt.Sprintf("%s held, %s (max %s or %s)", common.Count(int64(m.count)), common.Bytes(int(m.bytes)), common.Count(int64(m.cap)), common.Bytes(int(m.maxBytes))))
	parts = append(parts, "receiving "+common.Rate(m.recvRate))
	if m.dropped > 0 {
		parts = append(parts, st.Warning.Render(fmt.Sprintf("%s dropped (display lagged)", common.Count(m.dropped))))
	}
	switch {
	case m.state.Err != nil:
		parts = append(parts, st.Error.Render("reconnecting: "+textsafe.Line(firstLine(m.state.Err.Error()))))
	case m.feed == nil:
		parts = append(parts, st.Faint.Render("starting…"))
	case common.HeldBackText(m.horizon) != "":
		// First: it is why nothing new shows (below).
	default:
		live := "live"
		if !m.lastAt.IsZero() {
			live += " · last event " + common.Since(m.c.Now(), m.lastAt)
		}
		parts = append(parts, st.Faint.Render(live))
	}
	if hb := common.HeldBackText(m.horizon); hb != "" && m.state.Err == nil {
		parts = append([]string{st.Error.Render("⚠ " + hb)}, parts...)
	}
	status := strings.Join(parts, st.Faint.Render(" · "))
	if !m.follow && m.newCount > 0 {
		status = st.Bold.Render(fmt.Sprintf("%s new ↓", common.Count(int64(m.newCount)))) + "  " + status
	}
	var filter string
	switch {
	case m.focused && m.ferr != nil:
		filter = st.Accent.Render("/ ") + m.input.View() + "  " + st.Error.Render(textsafe.Line(m.ferr.Error()))
	case m.focused:
		filter = st.Accent.Render("/ ") + m.input.View()
	case !m.filter.Empty():
		filter = st.Accent.Render("/ ") + st.Input.Render(m.filter.String()) + st.Faint.Render(fmt.Sprintf("   %s of %s held events match (esc clears)", common.Count(int64(len(m.vis))), common.Count(int64(m.count))))
	default:
		filter = st.Faint.Render("/ filter (query language: cat:order type:OrderPlaced data.total > 100, or words) · f follow · enter open")
	}
	out := common.Truncate(status, m.c.Width) + "\n" + filter + "\n" + m.tbl.View()
	return common.FitLines(out, m.c.Width, m.c.Height)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// ShortHelp is the footer help.
func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	return []key.Binding{k.Up, k.Down, k.Follow, k.TailFilter, k.Open, k.Copy}
}

// FullHelp is the full help.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.c.Keys
	return [][]key.Binding{k.Moves(), {k.Follow, k.TailFilter, k.Open, k.Copy}}
}

// PageID addresses the results to the page that asked (common.Addressed).
func (m startedMsg) PageID() int64 { return m.id }
