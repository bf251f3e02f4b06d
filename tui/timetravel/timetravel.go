// Package timetravel is the heart of the console: an aggregate's state at
// version N beside the event that produced it, with the fields added or
// changed since N-1 marked, and a timeline bar. ←/→ step, g/G go to the
// first and last version, and @ then a typed version or time jumps. States are
// cached, so stepping back and forth costs no query; a step to an uncached
// version is one StateAt (snapshot-backed in the domain package).
package timetravel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"eventscope/domain"
	"eventscope/internal/textsafe"
	"eventscope/store"
	"eventscope/tui/common"
)

// State is an aggregate's state at a version (domain.State, adapted).
type State struct {
	Stream       string
	Version      int64
	LastVersion  int64
	Aggregate    string // "Order", "Customer", or "generic"
	Generic      bool
	State        json.RawMessage
	Event        store.Event
	FromSnapshot bool
}

// Change is one field-level difference (domain.Change, adapted).
type Change struct {
	Path          string
	Kind          string // added, changed, removed
	Before, After json.RawMessage
}

// Transition is what the event at a version changed: the state before it,
// the state after it, and the field-level changes (domain.Transition).
type Transition struct {
	Before  json.RawMessage
	After   State
	Changes []Change
}

// Source computes transitions.
type Source interface {
	// TransitionAt is the state after the event at version and what that
	// event changed; version < 0 means the stream's last version.
	TransitionAt(ctx context.Context, stream string, version int64) (Transition, error)
	// VersionAt is the version of the last event recorded at or before at.
	VersionAt(ctx context.Context, stream string, at time.Time) (int64, error)
}

const cacheMax = 512

type transitionMsg struct {
	id, seq int64
	stream  string
	tr      Transition
	err     error
}

// Model is the time-travel view.
type Model struct {
	c   common.Common
	ctx context.Context
	src Source
	id  int64
	seq int64

	stream  string
	target  int64 // the version to show (-1 last)
	cache   map[int64]Transition
	order   []int64
	cur     *State
	changes []Change
	lines   []string // rendered state
	last    int64
	loading bool
	err     error
	at      time.Time

	input     textinput.Model
	focused   bool
	askingID  bool // the empty tab asks for a stream
	prompted  bool // the stream was typed in the prompt (a failure asks again)
	scroll    int
	firstMark int // the first changed line of the state, -1 when none
}

// New opens time-travel on stream at version (-1: last), or at a time
// when at is set. An empty stream asks for one.
func New(ctx context.Context, c common.Common, src Source, stream string, version int64, at time.Time) *Model {
	m := &Model{c: c, ctx: ctx, src: src, id: common.NewID(), stream: stream, target: version, at: at, cache: map[int64]Transition{}, last: -1}
	m.input = common.NewInput(c.Styles, "")
	m.input.Blur()
	if stream == "" {
		m.askingID = true
		m.focused = true
		m.input.Placeholder = "stream id, optionally @version or @time (order-42@17)"
		m.input.Focus()
	}
	return m
}

// Title is the breadcrumb.
func (m *Model) Title() string {
	if m.stream == "" {
		return "Time-travel"
	}
	if m.cur != nil {
		return fmt.Sprintf("time-travel %s@%d", m.stream, m.cur.Version)
	}
	return "time-travel " + m.stream
}

// Current is the state shown, if any.
func (m *Model) Current() (State, bool) {
	if m.cur == nil {
		return State{}, false
	}
	return *m.cur, true
}

// SetSize sets the area.
func (m *Model) SetSize(w, h int) {
	m.c.SetSize(w, h)
	m.render()
}

// Init loads the first state.
func (m *Model) Init() tea.Cmd {
	if m.stream == "" || m.src == nil {
		return nil
	}
	if !m.at.IsZero() {
		return m.jumpTime(m.at)
	}
	return m.goTo(m.target)
}

// ClaimsKey: the jump input and the stream prompt take every key (an
// empty prompt lets digits and tab through, to switch views, and esc,
// which does nothing there).
func (m *Model) ClaimsKey(msg tea.KeyMsg) bool {
	if m.askingID {
		s := msg.String()
		if m.input.Value() == "" && (len(s) == 1 && s[0] >= '0' && s[0] <= '9' || s == "tab" || s == "shift+tab" || s == "esc") {
			return false
		}
		return true
	}
	return m.focused
}

// CopyText copies the state JSON.
func (m *Model) CopyText() (string, string, bool) {
	if m.cur == nil {
		return "", "", false
	}
	return string(m.cur.State), "state", true
}

func (m *Model) put(t Transition) {
	v := t.After.Version
	if _, ok := m.cache[v]; !ok {
		m.order = append(m.order, v)
		if len(m.order) > cacheMax {
			delete(m.cache, m.order[0])
			m.order = m.order[1:]
		}
	}
	m.cache[v] = t
	if t.After.LastVersion > m.last {
		m.last = t.After.LastVersion
	}
}

// failed reports a load that failed. A version past the end shows the
// last one and says so; a stream that cannot be shown at all leaves the
// user where they were (the prompt again, or the root puts back the page
// this one replaced); a failure later (a refresh) keeps the state shown.
func (m *Model) failed(err error) tea.Cmd {
	var ve *domain.VersionError
	if errors.As(err, &ve) && ve.Version > ve.LastVersion && ve.LastVersion >= 0 {
		m.last = ve.LastVersion
		return m.goTo(ve.Version)
	}
	e := common.ErrorMsg{Op: "time-travel " + m.stream, Err: err}
	if m.cur == nil && (common.IsNotFound(err) || errors.Is(err, store.ErrInvalid)) {
		if m.prompted {
			m.askingID, m.focused, m.prompted = true, true, false
			m.input.SetValue(m.stream)
			m.input.CursorEnd()
			m.input.Focus()
			m.stream = ""
			return common.ErrCmd(e.Op, err)
		}
		id := m.id
		return func() tea.Msg { return common.OpenFailedMsg{Page: id, Err: e} }
	}
	m.err = err
	return common.ErrCmd(e.Op, err)
}

// goTo shows version v (-1: last), from the cache when it can; a version
// past the last shows the last and says so.
func (m *Model) goTo(v int64) tea.Cmd {
	var clamped tea.Cmd
	if m.last >= 0 && v > m.last {
		clamped = common.Status(common.Info, "%s has no version %d: showing the last, v%d", m.stream, v, m.last)
	}
	if cmd := m.goToIn(v); cmd != nil || clamped != nil {
		return tea.Batch(clamped, cmd)
	}
	return nil
}

func (m *Model) goToIn(v int64) tea.Cmd {
	if m.last >= 0 && (v < 0 || v > m.last) {
		v = m.last
	}
	m.target = v
	if t, ok := m.cache[v]; ok && v >= 0 {
		m.seq++ // answers still in flight are stale now
		m.loading = false
		m.show(t)
		return nil
	}
	return m.fetch(v, time.Time{})
}

func (m *Model) jumpTime(at time.Time) tea.Cmd { return m.fetch(-1, at) }

// fetch loads the transition at v (or at a time): one fold, snapshot-backed.
func (m *Model) fetch(v int64, at time.Time) tea.Cmd {
	m.seq++
	m.loading = true
	id, seq, src, ctx, stream := m.id, m.seq, m.src, m.ctx, m.stream
	return func() tea.Msg {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if !at.IsZero() {
			tv, err := src.VersionAt(cctx, stream, at)
			if err != nil {
				return transitionMsg{id: id, seq: seq, stream: stream, err: err}
			}
			v = tv
		}
		t, err := src.TransitionAt(cctx, stream, v)
		return transitionMsg{id: id, seq: seq, stream: stream, tr: t, err: err}
	}
}

func (m *Model) show(t Transition) {
	s := t.After
	m.cur = &s
	m.changes = t.Changes
	m.err = nil
	m.render()
	// Bring the first changed field into view.
	nChanges := max(len(m.changes), 1) + 1
	_, paneH := m.layout(nChanges)
	rows := paneH - 1 // the pane's title line
	if m.firstMark >= 0 && (m.firstMark < m.scroll || m.firstMark >= m.scroll+rows) {
		m.scroll = max(m.firstMark-2, 0)
	}
}

func (m *Model) render() {
	if m.cur == nil {
		m.lines = nil
		return
	}
	marks := map[string]string{}
	for _, c := range m.changes {
		marks[c.Path] = c.Kind
	}
	tree, err := parseTree(m.cur.State)
	if err != nil {
		m.lines = strings.Split(string(m.cur.State), "\n")
		return
	}
	m.lines = renderTree(tree, marks, m.c.Styles)
	m.firstMark = -1
	for i, l := range m.lines {
		if strings.HasPrefix(common.StripANSI(l), "+ ") || strings.HasPrefix(common.StripANSI(l), "~ ") {
			m.firstMark = i
			break
		}
	}
}

// Update handles keys and results.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case transitionMsg:
		if msg.id != m.id || msg.stream != m.stream {
			return nil
		}
		if msg.err != nil {
			if msg.seq == m.seq {
				m.loading = false
				return m.failed(msg.err)
			}
			return nil
		}
		m.put(msg.tr)
		v := msg.tr.After.Version
		if msg.seq == m.seq {
			m.loading = false
			m.target = v
		}
		// Show the answer for the version wanted now; an older answer only
		// fills the cache.
		if v == m.target {
			m.show(msg.tr)
		}
	case common.RefreshMsg:
		if m.stream != "" && m.src != nil {
			m.cache, m.order, m.last = map[int64]Transition{}, nil, -1
			v := m.target
			if m.cur != nil {
				v = m.cur.Version
			}
			return m.fetch(v, time.Time{})
		}
	case tea.MouseMsg:
		switch msg.Button {
		case tea.MouseButtonWheelUp:
			m.scroll = max(m.scroll-3, 0)
		case tea.MouseButtonWheelDown:
			m.scroll += 3
		}
	case tea.KeyMsg:
		return m.key(msg)
	}
	return nil
}

func (m *Model) key(msg tea.KeyMsg) tea.Cmd {
	k := m.c.Keys
	if m.focused {
		switch msg.Type {
		case tea.KeyEsc:
			if m.askingID {
				// The prompt is the tab's root: esc clears what was
				// typed and goes nowhere.
				m.input.SetValue("")
				return nil
			}
			m.focused = false
			m.input.Blur()
			return nil
		case tea.KeyEnter:
			return m.submit()
		}
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		return cmd
	}
	if m.stream == "" || m.src == nil {
		return nil
	}
	// Step from where the user is heading, not from what is on screen:
	// keys pressed faster than answers arrive accumulate.
	cur := m.target
	if cur < 0 && m.cur != nil {
		cur = m.cur.Version
	}
	switch {
	case key.Matches(msg, k.Jump):
		m.focused = true
		m.input.Placeholder = "version, +N/-N, time (10:00:03) or age (5m ago)"
		m.input.SetValue("")
		m.input.Focus()
		return nil
	case key.Matches(msg, k.StepBack):
		if cur > 0 {
			return m.goTo(cur - 1)
		}
		return common.Status(common.Info, "already at the first version")
	case key.Matches(msg, k.StepForward):
		if m.last >= 0 && cur >= m.last {
			return common.Status(common.Info, "already at the last version")
		}
		return m.goTo(cur + 1)
	case key.Matches(msg, k.BigBack):
		return m.goTo(max(cur-10, 0))
	case key.Matches(msg, k.BigForward):
		return m.goTo(cur + 10)
	case key.Matches(msg, k.First):
		return m.goTo(0)
	case key.Matches(msg, k.Last):
		return m.goTo(-1)
	case key.Matches(msg, k.Up):
		m.scroll = max(m.scroll-1, 0)
	case key.Matches(msg, k.Down):
		m.scroll++
	case key.Matches(msg, k.PageUp):
		m.scroll = max(m.scroll-m.statePage(), 0)
	case key.Matches(msg, k.PageDown):
		m.scroll += m.statePage()
	case key.Matches(msg, k.Open):
		if m.cur != nil {
			return common.Navigate(common.OpenEventMsg{Event: m.cur.Event})
		}
	case key.Matches(msg, k.OpenStream):
		return common.Navigate(common.OpenStreamMsg{Stream: m.stream, Version: cur})
	case key.Matches(msg, k.Refresh):
		return m.Update(common.RefreshMsg{})
	}
	return nil
}

func (m *Model) submit() tea.Cmd {
	text := strings.TrimSpace(m.input.Value())
	if m.askingID {
		stream, at, _ := strings.Cut(text, "@")
		if err := store.ValidateStreamID(stream); err != nil {
			return common.Status(common.Failure, "%v", err)
		}
		m.stream, m.askingID, m.focused, m.prompted = stream, false, false, true
		m.input.Blur()
		m.input.SetValue("")
		if at == "" {
			return m.goTo(-1)
		}
		text = at
	}
	cur := int64(0)
	if m.cur != nil {
		cur = m.cur.Version
	}
	t, err := ParseTarget(text, cur, m.c.Now())
	if err != nil {
		return common.Status(common.Failure, "%v", err)
	}
	m.focused = false
	m.input.Blur()
	m.input.SetValue("")
	if t.IsTime {
		return m.jumpTime(t.At)
	}
	return m.goTo(t.Version)
}

// View renders the header, the timeline, the state beside the event, and
// the changes.
func (m *Model) View() string {
	st := m.c.Styles
	w, h := m.c.Width, m.c.Height
	if m.src == nil {
		return common.FitLines(st.Error.Render("Time-travel is unavailable: no aggregate registry was wired in."), w, h)
	}
	if m.askingID {
		return common.FitLines(st.Section.Render("Time-travel")+"\n\n"+
			"Which stream? "+m.input.View()+"\n\n"+
			st.Faint.Render("Type a stream id (order-42), optionally with @version or @time, then enter.\nOr pick a stream in Streams (2) and press t."), w, h)
	}
	if m.cur == nil {
		msg := "Loading " + textsafe.Line(m.stream) + "…"
		if m.err != nil {
			msg = st.Error.Render(m.err.Error())
		}
		return common.FitLines(msg, w, h)
	}
	s := m.cur
	var head strings.Builder
	head.WriteString(st.Bold.Render(textsafe.Line(s.Stream)))
	if s.Generic {
		head.WriteString("  " + st.Warning.Render("generic fold") + st.Faint.Render(" (JSON merge-patch of each event's data: no aggregate is registered for category "+textsafe.Line(store.Category(s.Stream))+")"))
	} else {
		head.WriteString("  " + st.Accent.Render(s.Aggregate+" aggregate"))
	}
	head.WriteString(st.Faint.Render(fmt.Sprintf("  ·  version %d of %d", s.Version, s.LastVersion)))
	if s.FromSnapshot {
		head.WriteString(st.Faint.Render(" · from snapshot"))
	}
	if m.loading {
		head.WriteString(st.Faint.Render(" · loading…"))
	}
	var jump string
	if m.focused {
		jump = st.Accent.Render("jump to: ") + m.input.View()
	} else {
		jump = st.Faint.Render("←/→ step · H/L ±10 · g/G first/last · @ jumps to a version or time · enter opens the event")
	}
	top := []string{common.Truncate(head.String(), w), m.timeline(w), jump, ""}

	changes := m.changeLines()
	changesH, paneH := m.layout(len(changes))
	leftW := w * 3 / 5
	if w < 100 {
		leftW = w
	}
	stateTitle := st.Section.Render(fmt.Sprintf("State after v%d", s.Version))
	// Narrower than 100 columns the event pane goes under the state
	// (stacked) instead of beside it.
	stateH, evH := paneH, 0
	var evLines []string
	if w < 100 {
		evLines = m.eventLines()
		evH = min(len(evLines)+1, paneH/2)
		stateH = paneH - evH
	}
	lines := m.lines
	maxScroll := max(len(lines)-(stateH-1), 0)
	if m.scroll > maxScroll {
		m.scroll = maxScroll
	}
	lines = lines[m.scroll:]
	left := common.FitLines(stateTitle+"\n"+strings.Join(lines, "\n"), leftW-1, stateH)
	body := left
	if w >= 100 {
		right := common.FitLines(strings.Join(m.eventLines(), "\n"), w-leftW-2, paneH)
		sep := strings.TrimRight(strings.Repeat(st.Faint.Render("│")+"\n", paneH), "\n")
		body = lipgloss.JoinHorizontal(lipgloss.Top, common.PadLines(left, leftW-1), " ", sep, " ", right)
	} else if evH > 1 {
		body += "\n" + st.Faint.Render(strings.Repeat("─", w)) + "\n" + common.FitLines(strings.Join(evLines, "\n"), w, evH-1)
	}
	out := strings.Join(top, "\n") + "\n" + body + "\n" + strings.Join(changes[:changesH], "\n")
	return common.FitLines(out, w, h)
}

// topLines is the height of the header, timeline and jump lines.
const topLines = 4

// layout splits the height between the panes and the change list.
// statePage is how many lines of the state pane one screen shows (the
// step of PgUp/PgDn).
func (m *Model) statePage() int {
	_, paneH := m.layout(max(len(m.changes), 1) + 1)
	return max(paneH-2, 1)
}

func (m *Model) layout(nChanges int) (changesH, paneH int) {
	bodyH := m.c.Height - topLines
	changesH = min(nChanges, max(bodyH/3, 3))
	return changesH, max(bodyH-changesH-1, 3)
}

func (m *Model) timeline(w int) string {
	st := m.c.Styles
	s := m.cur
	last := max(s.LastVersion, 0)
	label := fmt.Sprintf(" v%d ", last)
	bw := max(w-len(label)-6, 10)
	pos := 0
	if last > 0 {
		pos = int(float64(s.Version) / float64(last) * float64(bw-1))
	}
	bar := st.Faint.Render(strings.Repeat("─", pos)) + st.Marker.Render("●") + st.Faint.Render(strings.Repeat("─", bw-1-pos))
	return "v0 " + st.Faint.Render("├") + bar + st.Faint.Render("┤") + label
}

func (m *Model) eventLines() []string {
	st := m.c.Styles
	e := m.cur.Event
	out := []string{
		st.Section.Render(fmt.Sprintf("Event v%d", e.Version)) + "  " + st.Accent.Render(textsafe.Line(e.Type)),
		st.Faint.Render(common.Timestamp(e.RecordedAt) + " · " + e.Checkpoint.String()),
	}
	return append(out, common.PrettyJSON(e.Data, st)...)
}

func (m *Model) changeLines() []string {
	st := m.c.Styles
	var added, changed, removed int
	for _, c := range m.changes {
		switch c.Kind {
		case "added":
			added++
		case "changed":
			changed++
		case "removed":
			removed++
		}
	}
	since := "since v" + fmt.Sprint(m.cur.Version-1)
	if m.cur.Version == 0 {
		since = "from the initial state"
	}
	out := []string{st.Section.Render("Changes "+since) + st.Faint.Render(fmt.Sprintf("  %d added · %d changed · %d removed", added, changed, removed))}
	for _, c := range m.changes {
		path := textsafe.Line(c.Path)
		if path == "" {
			path = "(whole state)"
		}
		switch c.Kind {
		case "added":
			out = append(out, st.Added.Render("+ "+path)+": "+common.Preview(c.After, m.c.Width))
		case "changed":
			out = append(out, st.Changed.Render("~ "+path)+": "+common.Preview(c.Before, m.c.Width/3)+st.Faint.Render(" → ")+common.Preview(c.After, m.c.Width/3))
		case "removed":
			out = append(out, st.Removed.Render("- "+path)+st.Faint.Render(" (was "+common.Preview(c.Before, m.c.Width/2)+")"))
		}
	}
	if len(m.changes) == 0 {
		out = append(out, st.Faint.Render("(no change)"))
	}
	return out
}

// ShortHelp is the footer help.
func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	return []key.Binding{k.StepBack, k.StepForward, k.First, k.Last, k.Jump, k.Open, k.Copy, k.Back}
}

// FullHelp is the full help.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.c.Keys
	return [][]key.Binding{
		{k.StepBack, k.StepForward, k.BigBack, k.BigForward, k.First, k.Last, k.Jump},
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Open, k.OpenStream, k.Copy, k.Refresh, k.Back},
	}
}

// PageID addresses the results to the page that asked (common.Addressed).
func (m transitionMsg) PageID() int64 { return m.id }

// ID is the page's address.
func (m *Model) ID() int64 { return m.id }
