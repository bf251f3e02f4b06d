// Package subdetail is one subscription in detail: why it is behind (one
// line: the age of its oldest undelivered event and the reason), its
// filter, position, holder and last error, the history of its lag and
// rate, and its parked events with their errors. enter on a parked event
// shows its whole error, first and last failure and attempts (y copies
// them, enter again opens the event); t retries the selected parked event,
// T retries them all, x skips one (confirmed by typing the name: it
// discards the event for this subscriber); p and R pause/resume and reset.
package subdetail

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/google/uuid"

	"eventscope/internal/textsafe"
	"eventscope/store"
	"eventscope/subscriptions"
	"eventscope/tui/action"
	"eventscope/tui/common"
	"eventscope/tui/resetmenu"
	"eventscope/tui/styles"
	"eventscope/tui/table"
)

// Source reads one subscription, why it is behind, and its parked events.
type Source interface {
	Get(ctx context.Context, name string) (common.SubStatus, error)
	Why(ctx context.Context, name string) (common.SubWhy, error)
	Parked(ctx context.Context, name string) ([]common.ParkedEvent, error)
}

// retryAllAtScale is the number of parked events from which retrying them
// all asks for the subscription's name to be typed.
const retryAllAtScale = 100

// headLines is the height of the summary above the parked events.
const headLines = 10

type loadMsg struct {
	id, seq int64
	status  common.SubStatus
	why     common.SubWhy
	parked  []common.ParkedEvent
	err     error
}

// whyMsg is a fresh "why behind" answer (reloaded with each snapshot).
type whyMsg struct {
	id, seq int64
	why     common.SubWhy
	err     error
}

// Model is the detail view.
type Model struct {
	c    common.Common
	ctx  context.Context
	src  Source
	act  *action.Actions
	hist *common.SubHistory
	id   int64
	seq  int64
	name string

	status   common.SubStatus
	why      common.SubWhy
	whySeq   int64
	whyBusy  bool
	loaded   bool
	notFound bool
	parked   []common.ParkedEvent
	tbl      table.Model
	reset    *resetmenu.Model
	headH    int
	// open is the parked event shown whole (enter on its row), scrolled
	// by openOff lines.
	open    *common.ParkedEvent
	openOff int
	// horizon is the header's probe (what holds the log back).
	horizon store.Horizon
	loading bool      // a load is in flight (the beat lets it be)
	at      time.Time // when the status and parked events were read
	// asked are the parked events a retry was asked for (t, T), with
	// their attempts then; retrying is them once the admin took the
	// request: each reload tells which were delivered (gone from the
	// list) or parked again (more attempts), and when none is left
	// waiting the outcome flashes.
	asked    map[uuid.UUID]int
	retrying map[uuid.UUID]int

	// "/" over the parked events (all of them are loaded): vis indexes
	// the rows shown, nil when no filter is in force.
	input   textinput.Model
	focused bool
	flt     common.ListFilter
	ferr    error
	vis     []int
}

// FilterKeys are the keys of the parked events' "/" filter: type:T (the
// event's type), cat:C (its stream's category), stream:S (in its stream
// id); free text is looked for in the stream id, the type and the error.
var FilterKeys = []string{"type", "cat", "stream"}

// New makes the detail view of subscription name.
func New(ctx context.Context, c common.Common, src Source, act *action.Actions, hist *common.SubHistory, name string) *Model {
	m := &Model{c: c, ctx: ctx, src: src, act: act, hist: hist, id: common.NewID(), name: name, headH: headLines}
	m.tbl = table.New(c.Styles, c.Keys, []table.Column{
		{Title: "parked", Width: 23},
		{Title: "stream", Width: 16, Flex: 1, Mid: true},
		{Title: "ver", Width: 6, Right: true},
		{Title: "type", Width: 18},
		{Title: "tries", Width: 5, Right: true},
		{Title: "error", Width: 20, Flex: 3},
	})
	m.tbl.Empty = "no parked events"
	m.tbl.SetRows(rows{m})
	m.input = common.NewInput(c.Styles, "stream, type or error text, type:T, cat:C, stream:S, ! inverts")
	m.input.Blur()
	return m
}

// Title is the breadcrumb.
func (m *Model) Title() string { return m.name }

// fitHead sizes the summary to the status: a group's members take a
// line each (and one for partitions no member holds).
func (m *Model) fitHead() {
	h := headLines + len(m.status.Members)
	if len(m.status.Unheld) > 0 {
		h++
	}
	if h != m.headH {
		m.headH = h
		m.tbl.SetSize(m.c.Width, max(m.c.Height-m.headH, 3))
	}
}

// SetSize sets the area.
func (m *Model) SetSize(w, h int) { m.c.SetSize(w, h); m.tbl.SetSize(w, max(h-m.headH, 3)) }

// Init loads the status and the parked events.
func (m *Model) Init() tea.Cmd { return m.load() }

func (m *Model) load() tea.Cmd {
	m.seq++
	m.loading = true
	id, seq, src, ctx, name := m.id, m.seq, m.src, m.ctx, m.name
	return func() tea.Msg {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		st, err := src.Get(cctx, name)
		if err != nil {
			return loadMsg{id: id, seq: seq, err: err}
		}
		why, err := src.Why(cctx, name)
		if err != nil {
			return loadMsg{id: id, seq: seq, err: err}
		}
		p, err := src.Parked(cctx, name)
		return loadMsg{id: id, seq: seq, status: st, why: why, parked: p, err: err}
	}
}

// loadWhy reloads the "why behind" line (one at a time).
func (m *Model) loadWhy() tea.Cmd {
	if m.whyBusy || !m.loaded {
		return nil
	}
	m.whyBusy = true
	m.whySeq++
	id, seq, src, ctx, name := m.id, m.whySeq, m.src, m.ctx, m.name
	return func() tea.Msg {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		w, err := src.Why(cctx, name)
		return whyMsg{id: id, seq: seq, why: w, err: err}
	}
}

// ClaimsKey: the reset dialog takes every key; an open parked event takes
// esc (back to the list) and the scrolling keys.
func (m *Model) ClaimsKey(msg tea.KeyMsg) bool {
	if m.reset != nil || m.focused {
		return true
	}
	if m.open == nil && m.input.Value() != "" && key.Matches(msg, m.c.Keys.Back) {
		return true // esc clears the filter first
	}
	if m.open != nil {
		k := m.c.Keys
		return key.Matches(msg, k.Back, k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom, k.Open)
	}
	return false
}

func (m *Model) selected() (common.ParkedEvent, bool) {
	i := m.tbl.Cursor()
	if m.vis != nil {
		if i < len(m.vis) {
			return m.parked[m.vis[i]], true
		}
		return common.ParkedEvent{}, false
	}
	if i < len(m.parked) {
		return m.parked[i], true
	}
	return common.ParkedEvent{}, false
}

// CopyText copies the open parked event's error, failures and attempts,
// else the selected parked event as JSON.
func (m *Model) CopyText() (string, string, bool) {
	if m.open != nil {
		return m.openText(), fmt.Sprintf("the error and %d attempts of %s@%d", len(m.open.History), m.open.Event.StreamID, m.open.Event.Version), true
	}
	if p, ok := m.selected(); ok {
		b, _ := json.Marshal(p.Event)
		return string(b), "parked event", true
	}
	return m.status.Checkpoint.String(), "checkpoint of " + m.name, m.loaded
}

// Update handles keys, snapshots and results.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case loadMsg:
		if msg.id != m.id || msg.seq != m.seq {
			return nil
		}
		m.loading = false
		if msg.err != nil {
			if common.IsNotFound(msg.err) {
				m.notFound = true
				return nil
			}
			return common.ErrCmd("subscription "+m.name, msg.err)
		}
		sel, hasSel := m.selected()
		line := m.tbl.Cursor() - m.tbl.Offset()
		m.status, m.why, m.parked, m.loaded, m.notFound = msg.status, msg.why, msg.parked, true, false
		m.at = m.c.Now()
		m.fitHead()
		m.refilter()
		// The selection follows its parked event; one gone (delivered,
		// skipped) leaves the cursor on the row that took its place.
		cursor := m.tbl.Cursor()
		if hasSel {
			for j, n := 0, (rows{m}).Len(); j < n; j++ {
				i := j
				if m.vis != nil {
					i = m.vis[j]
				}
				if m.parked[i].Event.EventID == sel.Event.EventID {
					cursor = j
					break
				}
			}
		}
		m.tbl.Place(cursor, line)
		if m.open != nil {
			m.reopen()
		}
		return m.retryOutcome()
	case common.BeatMsg:
		// The parked list and the status refresh by themselves: after a
		// retry, events leave the list or come back with more attempts.
		if m.loading || m.reset != nil {
			return nil
		}
		return m.load()
	case whyMsg:
		if msg.id != m.id || msg.seq != m.whySeq {
			return nil
		}
		m.whyBusy = false
		if msg.err == nil {
			m.why = msg.why
		}
	case common.SubsMsg:
		for _, s := range msg.Subs {
			if s.Name == m.name {
				reload := m.loaded && s.Parked != m.status.Parked
				m.status = s
				m.fitHead()
				if reload {
					return m.load()
				}
				return m.loadWhy()
			}
		}
	case action.DoneMsg:
		if msg.Name == m.name {
			if msg.Status != nil {
				m.status = *msg.Status
			}
			if (msg.Op == "retry" || msg.Op == "retry all") && msg.Err == nil && len(m.asked) > 0 {
				if m.retrying == nil {
					m.retrying = map[uuid.UUID]int{}
				}
				for id, n := range m.asked {
					m.retrying[id] = n
				}
			}
			m.asked = nil
			return m.load()
		}
	case common.RateMsg:
		m.horizon = msg.Horizon
	case common.RefreshMsg:
		return m.load()
	case tea.MouseMsg:
		if m.open != nil {
			switch msg.Button {
			case tea.MouseButtonWheelUp:
				m.openOff = max(m.openOff-3, 0)
			case tea.MouseButtonWheelDown:
				m.openOff = min(m.openOff+3, m.openMax())
			}
			return nil
		}
		if moved, clicked := m.tbl.Mouse(msg, msg.Y-m.headH); clicked && !moved {
			// A click on the selected row opens it, as in every list.
			if p, ok := m.selected(); ok {
				m.open, m.openOff = &p, 0
			}
		}
	case tea.KeyMsg:
		return m.key(msg)
	}
	return nil
}

func (m *Model) key(msg tea.KeyMsg) tea.Cmd {
	k := m.c.Keys
	if m.reset != nil {
		cmd, done := m.reset.Update(msg)
		if done {
			m.reset = nil
		}
		return cmd
	}
	if m.open != nil {
		switch {
		case key.Matches(msg, k.Back):
			m.open = nil
			return nil
		case key.Matches(msg, k.Open):
			return common.Navigate(common.OpenEventMsg{Event: m.open.Event})
		case key.Matches(msg, k.Up):
			m.openOff = max(m.openOff-1, 0)
			return nil
		case key.Matches(msg, k.Down):
			m.openOff = min(m.openOff+1, m.openMax())
			return nil
		case key.Matches(msg, k.PageUp):
			m.openOff = max(m.openOff-m.c.Height, 0)
			return nil
		case key.Matches(msg, k.PageDown):
			m.openOff = min(m.openOff+m.c.Height, m.openMax())
			return nil
		case key.Matches(msg, k.Top):
			m.openOff = 0
			return nil
		case key.Matches(msg, k.Bottom):
			m.openOff = m.openMax()
			return nil
		}
	}
	if m.focused {
		return m.filterKey(msg)
	}
	if !m.loaded {
		// No subscription (not yet, or no such name): nothing to act on.
		if key.Matches(msg, k.Refresh) {
			return m.load()
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Filter):
		m.focused = true
		m.input.Focus()
		m.input.CursorEnd()
		return nil
	case key.Matches(msg, k.Back) && m.input.Value() != "":
		m.clearFilter()
		return nil
	case key.Matches(msg, k.Refresh):
		return m.load()
	case key.Matches(msg, k.PauseResume):
		return m.act.PauseResume(m.status.Name, m.status.State)
	case key.Matches(msg, k.Reset):
		if deny := m.act.Denied("reset"); deny != nil {
			return deny
		}
		m.reset = resetmenu.New(m.c, m.act, m.name)
		return nil
	case key.Matches(msg, k.Retry):
		p, ok := m.selected()
		if !ok {
			return common.Status(common.Info, "no parked event selected")
		}
		if m.act.Denied("retry") == nil {
			m.asked = map[uuid.UUID]int{p.Event.EventID: p.Attempts}
		}
		return m.act.Retry(m.name, p.Event.EventID)
	case key.Matches(msg, k.RetryAll):
		if len(m.parked) == 0 {
			return common.Status(common.Info, "no parked events")
		}
		if deny := m.act.Denied("retry all"); deny != nil {
			return deny
		}
		typed := "" // at scale, as a reset forward does: type the name
		if len(m.parked) >= retryAllAtScale {
			typed = m.name
		}
		m.asked = map[uuid.UUID]int{}
		for _, p := range m.parked {
			m.asked[p.Event.EventID] = p.Attempts
		}
		return common.Confirm("Retry all parked events",
			fmt.Sprintf("Deliver all %s parked events of %s to its handler again?", common.Count(int64(len(m.parked))), m.name), typed, m.act.RetryAll(m.name))
	case key.Matches(msg, k.Skip):
		p, ok := m.selected()
		if !ok {
			return common.Status(common.Info, "no parked event selected")
		}
		if deny := m.act.Denied("skip"); deny != nil {
			return deny
		}
		return common.Confirm("Skip a parked event",
			fmt.Sprintf("Skip %s@%d (%s) for %s? The subscriber never processes it.", textsafe.Line(p.Event.StreamID), p.Event.Version, textsafe.Line(p.Event.Type), textsafe.Line(m.name)),
			m.name, m.act.Skip(m.name, p.Event.EventID))
	case key.Matches(msg, k.Open):
		if p, ok := m.selected(); ok {
			m.open, m.openOff = &p, 0
		}
		return nil
	}
	m.tbl.Update(msg)
	return nil
}

// retryOutcome checks the events being retried against the list just
// read and, once none waits any more, flashes what became of them.
func (m *Model) retryOutcome() tea.Cmd {
	if len(m.retrying) == 0 {
		return nil
	}
	listed := make(map[uuid.UUID]common.ParkedEvent, len(m.parked))
	for _, p := range m.parked {
		listed[p.Event.EventID] = p
	}
	var delivered, again int
	var lastErr string
	for id, before := range m.retrying {
		p, ok := listed[id]
		switch {
		case !ok:
			delivered++
		case !p.RetryRequested && p.Attempts > before:
			again++
			lastErr = firstLine(p.LastError)
		default:
			return nil // still waiting for the holder
		}
	}
	m.retrying = nil
	n := delivered + again
	what := "the parked event"
	if n > 1 {
		what = fmt.Sprintf("%d parked events", n)
	}
	if again == 0 {
		return common.Status(common.Success, "retried %s of %s: delivered", what, m.name)
	}
	return common.Status(common.Failure, "retried %s of %s: %d delivered, %d parked again: %s", what, m.name, delivered, again, textsafe.Line(lastErr))
}

// Retrying is the number of parked events whose retry has not ended yet.
func (m *Model) Retrying() int { return len(m.retrying) }

func (m *Model) filterKey(msg tea.KeyMsg) tea.Cmd {
	switch msg.Type {
	case tea.KeyEnter:
		m.focused = false
		m.input.Blur()
		return nil
	case tea.KeyEsc:
		m.clearFilter()
		return nil
	case tea.KeyUp, tea.KeyDown:
		m.tbl.Update(msg)
		return nil
	}
	var cmd tea.Cmd
	before := m.input.Value()
	m.input, cmd = m.input.Update(msg)
	if m.input.Value() != before {
		f, err := common.ParseListFilter(m.input.Value(), FilterKeys...)
		m.ferr = err
		if err == nil {
			m.flt = f
			m.refilter()
			m.tbl.SetCursor(0)
		}
	}
	return cmd
}

// clearFilter ends the filter for good (a reload does not bring it back).
func (m *Model) clearFilter() {
	m.focused = false
	m.input.Blur()
	m.input.SetValue("")
	m.flt, m.ferr = common.ListFilter{}, nil
	m.refilter()
}

// refilter recomputes the rows shown from every parked event.
func (m *Model) refilter() {
	m.vis = nil
	m.tbl.Empty = "no parked events"
	if !m.flt.Empty() {
		m.tbl.Empty = "no parked event matches the filter"
		m.vis = []int{}
		for i := range m.parked {
			if parkedPasses(m.flt, &m.parked[i]) != m.flt.Invert {
				m.vis = append(m.vis, i)
			}
		}
	}
	m.tbl.SetRows(rows{m})
}

func parkedPasses(f common.ListFilter, p *common.ParkedEvent) bool {
	e := &p.Event
	for k, v := range f.Terms {
		var ok bool
		switch k {
		case "type":
			ok = strings.EqualFold(e.Type, v)
		case "cat":
			ok = store.Category(e.StreamID) == v
		case "stream":
			ok = strings.Contains(strings.ToLower(e.StreamID), strings.ToLower(v))
		}
		if !ok {
			return false
		}
	}
	hay := strings.ToLower(e.StreamID + "\n" + e.Type + "\n" + p.LastError)
	for _, w := range strings.Fields(strings.ToLower(f.Text)) {
		if !strings.Contains(hay, w) {
			return false
		}
	}
	return true
}

type rows struct{ m *Model }

func (r rows) Len() int {
	if r.m.vis != nil {
		return len(r.m.vis)
	}
	return len(r.m.parked)
}
func (r rows) Cells(i int) []table.Cell {
	st := r.m.c.Styles
	if r.m.vis != nil {
		i = r.m.vis[i]
	}
	p := r.m.parked[i]
	return []table.Cell{
		{Text: common.Timestamp(p.ParkedAt), Style: &st.Faint},
		{Text: p.Event.StreamID},
		{Text: fmt.Sprint(p.Event.Version)},
		{Text: p.Event.Type, Style: &st.Accent},
		{Text: fmt.Sprint(p.Attempts)},
		errCell(st, p),
	}
}

// errCell is the error column: the last error, or that a retry waits.
func errCell(st *styles.Styles, p common.ParkedEvent) table.Cell {
	if p.RetryRequested {
		return table.Cell{Text: "retry queued · " + firstLine(p.LastError), Style: &st.Warning}
	}
	return table.Cell{Text: firstLine(p.LastError), Style: &st.Error}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// View renders the summary, the history and the parked events.
func (m *Model) View() string {
	st := m.c.Styles
	w := m.c.Width
	if m.notFound {
		return common.FitLines(st.Error.Render(fmt.Sprintf("Subscription %q does not exist (any more).", m.name)), w, m.c.Height)
	}
	if !m.loaded {
		return common.FitLines(st.Faint.Render("Loading "+m.name+"…"), w, m.c.Height)
	}
	s := m.status
	kv := func(k, v string) string { return st.Label.Render(k+" ") + v }
	filter := "every event"
	if len(s.Categories) > 0 || len(s.Types) > 0 {
		var parts []string
		if len(s.Categories) > 0 {
			parts = append(parts, "categories "+textsafe.Line(strings.Join(s.Categories, ", ")))
		}
		if len(s.Types) > 0 {
			parts = append(parts, "types "+textsafe.Line(strings.Join(s.Types, ", ")))
		}
		filter = strings.Join(parts, "; ")
	}
	holder := s.HolderText()
	if holder == "" {
		holder = "none"
	}
	stateText := common.ShownState(s.State, m.horizon)
	state := common.StateStyle(st, stateText)
	lines := []string{
		st.Bold.Render(textsafe.Line(s.Name)) + "  " + state.Render(textsafe.Line(string(stateText))) + "  " + st.Faint.Render("filter: "+filter),
		st.Label.Render("why ") + m.whyStyle().Render(common.Truncate(textsafe.Line(m.why.Line), max(w-4, 1))),
		kv("checkpoint", s.Checkpoint.String()) + "   " + kv("head", s.Head.String()) + "   " + kv("lag", common.Count(s.Lag)) + "   " + kv("rate", common.Rate(s.Rate)) + "   " + kv("processed", common.Count(s.Processed)),
		kv("holder", textsafe.Line(holder)) + "   " + kv("heartbeat", common.Ago(m.c.Now(), s.Heartbeat)) + "   " + kv("parked", common.Count(s.Parked)) + "   " + st.Faint.Render(common.Updated(m.c.Now(), m.at)) + m.retryingText(),
	}
	if s.Partitions > 0 {
		lines[2] += "   " + kv("partitions", fmt.Sprint(s.Partitions)) + st.Faint.Render(" (streams split by a hash of their id)")
	}
	for _, mb := range s.Members {
		// a group's members: who holds which partitions, and how far behind
		live := st.Faint.Render("gone")
		if mb.Live {
			live = "live"
		}
		lines = append(lines, "  "+kv("member", textsafe.Line(mb.Instance)+" "+st.Faint.Render(textsafe.Line(mb.Holder)))+"  "+live+"   "+
			kv("partitions", common.PartitionList(mb.Partitions))+"   "+kv("lag", common.Count(mb.Lag))+"   "+kv("rate", common.Rate(mb.Rate)))
	}
	if len(s.Unheld) > 0 {
		lines = append(lines, "  "+st.Warning.Render("no member holds partitions "+common.PartitionList(s.Unheld)))
	}
	if s.LastError != "" {
		lines = append(lines, st.Error.Render("last error ("+common.Ago(m.c.Now(), s.LastErrorAt)+"): ")+textsafe.Line(firstLine(s.LastError)))
	} else {
		lines = append(lines, st.Faint.Render("no error"))
	}
	sw := max(w-24, 10)
	lag := common.Sparkline(m.hist.Lag(m.name), sw)
	rate := common.Sparkline(m.hist.Rate(m.name), sw)
	lines = append(lines, "",
		common.PadRight(st.Label.Render("lag history"), 14)+st.Spark.Render(lag)+"  "+st.Faint.Render(common.Count(s.Lag)),
		common.PadRight(st.Label.Render("rate history"), 14)+st.Spark.Render(rate)+"  "+st.Faint.Render(common.Rate(s.Rate)),
		"",
	)
	if m.open != nil {
		return common.FitLines(strings.Join(lines[:2], "\n")+"\n"+m.openView(max(m.c.Height-2, 1)), w, m.c.Height)
	}
	help := "Parked events  enter details · / filter · t retry · T retry all · x skip · p pause/resume · R reset"
	if m.act.ReadOnly() {
		help = "Parked events  (read-only: actions disabled) · enter details · / filter"
	}
	switch {
	case m.focused:
		help = st.Section.Render("Parked events") + "  " + st.Accent.Render("/ ") + m.input.View()
		if m.vis != nil {
			help += st.Faint.Render(fmt.Sprintf("  %d of %d", len(m.vis), len(m.parked)))
		}
	case m.input.Value() != "":
		help = st.Section.Render("Parked events") + "  " + st.Accent.Render("/ ") + st.Input.Render(textsafe.Line(m.input.Value())) +
			st.Faint.Render(fmt.Sprintf("   %d of %d · esc clears · T still retries all %d", len(m.vis), len(m.parked), len(m.parked)))
	default:
		help = st.Section.Render(help)
	}
	if m.ferr != nil {
		help += "  " + st.Error.Render(textsafe.Line(m.ferr.Error()))
	}
	lines = append(lines, help)
	out := strings.Join(lines, "\n") + "\n" + m.tbl.View()
	if m.reset != nil {
		out = m.reset.View(w) + "\n" + out
	}
	return common.FitLines(out, w, m.c.Height)
}

// ShortHelp is the footer help.
func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	if !m.loaded {
		return []key.Binding{k.Refresh, k.Back}
	}
	if m.open != nil {
		return []key.Binding{k.Up, k.Down, openEvent(k.Open), copyAll(k.Copy), k.Retry, k.Skip, k.Back}
	}
	return []key.Binding{k.Up, k.Down, details(k.Open), k.Retry, k.RetryAll, k.Skip, k.PauseResume, k.Reset, k.Back}
}

// FullHelp is the full help.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.c.Keys
	if !m.loaded {
		return [][]key.Binding{{k.Refresh, k.Back}}
	}
	if m.open != nil {
		return [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}, {openEvent(k.Open), copyAll(k.Copy), k.Retry, k.Skip, k.Back}}
	}
	return [][]key.Binding{k.Moves(), {details(k.Open), k.Filter, k.Copy, k.Refresh, k.Back}, {k.Retry, k.RetryAll, k.Skip, k.PauseResume, k.Reset}}
}

func relabel(b key.Binding, desc string) key.Binding {
	b.SetHelp(b.Help().Key, desc)
	return b
}

func details(b key.Binding) key.Binding   { return relabel(b, "parked event details") }
func openEvent(b key.Binding) key.Binding { return relabel(b, "open the event") }
func copyAll(b key.Binding) key.Binding   { return relabel(b, "copy error and attempts") }

// whyStyle colours the "why behind" line by its reason.
func (m *Model) whyStyle() lipgloss.Style {
	st := m.c.Styles
	switch m.why.Reason {
	case subscriptions.ReasonUpToDate:
		return st.OK
	case subscriptions.ReasonPaused, subscriptions.ReasonSlow:
		return st.Warning
	case "":
		return st.Faint
	}
	return st.Error
}

// retryingText says how many retries are still out (after t or T).
func (m *Model) retryingText() string {
	if len(m.retrying) == 0 {
		return ""
	}
	return "   " + m.c.Styles.Warning.Render(fmt.Sprintf("retrying %d…", len(m.retrying)))
}

// reopen points the open parked event at its reloaded row (closing it
// when the event is no longer parked).
func (m *Model) reopen() {
	for i := range m.parked {
		if m.parked[i].Event.EventID == m.open.Event.EventID {
			p := m.parked[i]
			m.open = &p
			m.openOff = min(m.openOff, m.openMax())
			return
		}
	}
	m.open = nil
}

// openLines is the open parked event in full, as plain lines (wrapped to
// width w when w > 0).
func (m *Model) openLines(w int) []string {
	p := m.open
	e := p.Event
	at := func(t time.Time) string {
		if t.IsZero() {
			return "unknown (parked before the store kept it)"
		}
		return t.Local().Format("2006-01-02 15:04:05.000") + " (" + common.Ago(m.c.Now(), t) + ")"
	}
	last := p.ParkedAt
	if n := len(p.History); n > 0 {
		last = p.History[n-1].At
	}
	retry := ""
	if p.RetryRequested {
		retry = " · retry requested, waiting for the holder"
	}
	out := []string{
		fmt.Sprintf("Parked event %s@%d %s of %s", textsafe.Line(e.StreamID), e.Version, textsafe.Line(e.Type), m.name),
		"event id       " + e.EventID.String(),
		"checkpoint     " + e.Checkpoint.String(),
		"first failure  " + at(p.FirstFailedAt),
		"last failure   " + at(last),
		"parked         " + at(p.ParkedAt),
		fmt.Sprintf("attempts       %d%s", p.Attempts, retry),
		"",
		"Last error",
	}
	wrap := func(s string, indent string) []string {
		var l []string
		for _, line := range strings.Split(textsafe.Block(s), "\n") {
			if w > len(indent)+10 {
				line = ansi.Hardwrap(line, w-len(indent), true)
			}
			for _, x := range strings.Split(line, "\n") {
				l = append(l, indent+x)
			}
		}
		return l
	}
	out = append(out, wrap(p.LastError, "  ")...)
	out = append(out, "", fmt.Sprintf("Attempts (%d kept, oldest first)", len(p.History)))
	if len(p.History) == 0 {
		out = append(out, "  (none recorded)")
	}
	for _, a := range p.History {
		out = append(out, fmt.Sprintf("  #%d  %s", a.Attempt, a.At.Local().Format("2006-01-02 15:04:05.000")))
		out = append(out, wrap(a.Error, "      ")...)
	}
	return out
}

// openText is what y copies from the open parked event.
func (m *Model) openText() string { return strings.Join(m.openLines(0), "\n") + "\n" }

func (m *Model) openMax() int {
	if m.open == nil {
		return 0
	}
	return max(len(m.openLines(m.c.Width))+1-max(m.c.Height-2, 1), 0)
}

// openView renders the open parked event in h lines.
func (m *Model) openView(h int) string {
	st := m.c.Styles
	l := m.openLines(m.c.Width)
	styled := make([]string, 0, len(l)+1)
	hint := "enter opens the event · y copies all of this · t retry · x skip · esc back"
	if m.act.ReadOnly() {
		hint = "enter opens the event · y copies all of this · esc back"
	}
	styled = append(styled, st.Section.Render(l[0])+"  "+st.Faint.Render(hint))
	for _, x := range l[1:] {
		switch {
		case x == "Last error" || strings.HasPrefix(x, "Attempts ("):
			styled = append(styled, st.Section.Render(x))
		case strings.HasPrefix(x, "  #"):
			styled = append(styled, st.Label.Render(x))
		case strings.HasPrefix(x, "  "):
			styled = append(styled, st.Error.Render(x))
		default:
			styled = append(styled, x)
		}
	}
	off := min(m.openOff, max(len(styled)-h, 0))
	end := min(off+h, len(styled))
	return strings.Join(styled[off:end], "\n")
}

// PageID addresses the results to the page that asked (common.Addressed).
func (m loadMsg) PageID() int64 { return m.id }

// ID is the page's address.
func (m *Model) ID() int64 { return m.id }

// PageID addresses the answer to the page that asked (common.Addressed).
func (m whyMsg) PageID() int64 { return m.id }
