// Package subdetail is one subscription in detail: its filter, position,
// holder and last error, the history of its lag and rate, and its parked
// events with their errors. t retries the selected parked event, T retries
// them all, x skips one (confirmed by typing the name: it discards the
// event for this subscriber); p and R pause/resume and reset.
package subdetail

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"eventscope/tui/action"
	"eventscope/tui/common"
	"eventscope/tui/resetmenu"
	"eventscope/tui/table"
)

// Source reads one subscription and its parked events.
type Source interface {
	Get(ctx context.Context, name string) (common.SubStatus, error)
	Parked(ctx context.Context, name string) ([]common.ParkedEvent, error)
}

// headLines is the height of the summary above the parked events.
const headLines = 9

type loadMsg struct {
	id, seq int64
	status  common.SubStatus
	parked  []common.ParkedEvent
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
	loaded   bool
	notFound bool
	parked   []common.ParkedEvent
	tbl      table.Model
	reset    *resetmenu.Model
	headH    int
}

// New makes the detail view of subscription name.
func New(ctx context.Context, c common.Common, src Source, act *action.Actions, hist *common.SubHistory, name string) *Model {
	m := &Model{c: c, ctx: ctx, src: src, act: act, hist: hist, id: common.NewID(), name: name, headH: headLines}
	m.tbl = table.New(c.Styles, c.Keys, []table.Column{
		{Title: "parked", Width: 23},
		{Title: "stream", Width: 16, Flex: 1},
		{Title: "ver", Width: 6, Right: true},
		{Title: "type", Width: 18},
		{Title: "tries", Width: 5, Right: true},
		{Title: "error", Width: 20, Flex: 3},
	})
	m.tbl.Empty = "no parked events"
	m.tbl.SetRows(rows{m})
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
	id, seq, src, ctx, name := m.id, m.seq, m.src, m.ctx, m.name
	return func() tea.Msg {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		st, err := src.Get(cctx, name)
		if err != nil {
			return loadMsg{id: id, seq: seq, err: err}
		}
		p, err := src.Parked(cctx, name)
		return loadMsg{id: id, seq: seq, status: st, parked: p, err: err}
	}
}

// ClaimsKey: the reset dialog takes every key.
func (m *Model) ClaimsKey(tea.KeyMsg) bool { return m.reset != nil }

func (m *Model) selected() (common.ParkedEvent, bool) {
	i := m.tbl.Cursor()
	if i < len(m.parked) {
		return m.parked[i], true
	}
	return common.ParkedEvent{}, false
}

// CopyText copies the selected parked event as JSON.
func (m *Model) CopyText() (string, string, bool) {
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
		if msg.err != nil {
			if common.IsNotFound(msg.err) {
				m.notFound = true
				return nil
			}
			return common.ErrCmd("subscription "+m.name, msg.err)
		}
		m.status, m.parked, m.loaded = msg.status, msg.parked, true
		m.fitHead()
		m.tbl.SetRows(rows{m})
	case common.SubsMsg:
		for _, s := range msg.Subs {
			if s.Name == m.name {
				reload := m.loaded && s.Parked != m.status.Parked
				m.status = s
				m.fitHead()
				if reload {
					return m.load()
				}
			}
		}
	case action.DoneMsg:
		if msg.Name == m.name {
			if msg.Status != nil {
				m.status = *msg.Status
			}
			return m.load()
		}
	case common.RefreshMsg:
		return m.load()
	case tea.MouseMsg:
		m.tbl.Mouse(msg, msg.Y-m.headH)
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
	switch {
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
		return m.act.Retry(m.name, p.Event.EventID)
	case key.Matches(msg, k.RetryAll):
		if len(m.parked) == 0 {
			return common.Status(common.Info, "no parked events")
		}
		if deny := m.act.Denied("retry all"); deny != nil {
			return deny
		}
		return common.Confirm("Retry all parked events",
			fmt.Sprintf("Deliver all %d parked events of %s to its handler again?", len(m.parked), m.name), "", m.act.RetryAll(m.name))
	case key.Matches(msg, k.Skip):
		p, ok := m.selected()
		if !ok {
			return common.Status(common.Info, "no parked event selected")
		}
		if deny := m.act.Denied("skip"); deny != nil {
			return deny
		}
		return common.Confirm("Skip a parked event",
			fmt.Sprintf("Skip %s@%d (%s) for %s? The subscriber never processes it.", p.Event.StreamID, p.Event.Version, p.Event.Type, m.name),
			m.name, m.act.Skip(m.name, p.Event.EventID))
	case key.Matches(msg, k.Open):
		if p, ok := m.selected(); ok {
			return common.Navigate(common.OpenEventMsg{Event: p.Event})
		}
		return nil
	}
	m.tbl.Update(msg)
	return nil
}

type rows struct{ m *Model }

func (r rows) Len() int { return len(r.m.parked) }
func (r rows) Cells(i int) []table.Cell {
	st := r.m.c.Styles
	p := r.m.parked[i]
	return []table.Cell{
		{Text: common.Timestamp(p.ParkedAt), Style: &st.Faint},
		{Text: p.Event.StreamID},
		{Text: fmt.Sprint(p.Event.Version)},
		{Text: p.Event.Type, Style: &st.Accent},
		{Text: fmt.Sprint(p.Attempts)},
		{Text: firstLine(p.LastError), Style: &st.Error},
	}
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
			parts = append(parts, "categories "+strings.Join(s.Categories, ", "))
		}
		if len(s.Types) > 0 {
			parts = append(parts, "types "+strings.Join(s.Types, ", "))
		}
		filter = strings.Join(parts, "; ")
	}
	holder := s.HolderText()
	if holder == "" {
		holder = "none"
	}
	state := common.StateStyle(st, s.State)
	lines := []string{
		st.Bold.Render(s.Name) + "  " + state.Render(s.State) + "  " + st.Faint.Render("filter: "+filter),
		kv("checkpoint", s.Checkpoint.String()) + "   " + kv("head", s.Head.String()) + "   " + kv("lag", common.Count(s.Lag)) + "   " + kv("rate", common.Rate(s.Rate)) + "   " + kv("processed", common.Count(s.Processed)),
		kv("holder", holder) + "   " + kv("heartbeat", common.Ago(m.c.Now(), s.Heartbeat)) + "   " + kv("parked", common.Count(s.Parked)),
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
		lines = append(lines, "  "+kv("member", mb.Instance+" "+st.Faint.Render(mb.Holder))+"  "+live+"   "+
			kv("partitions", common.PartitionList(mb.Partitions))+"   "+kv("lag", common.Count(mb.Lag))+"   "+kv("rate", common.Rate(mb.Rate)))
	}
	if len(s.Unheld) > 0 {
		lines = append(lines, "  "+st.Warning.Render("no member holds partitions "+common.PartitionList(s.Unheld)))
	}
	if s.LastError != "" {
		lines = append(lines, st.Error.Render("last error ("+common.Ago(m.c.Now(), s.LastErrorAt)+"): ")+firstLine(s.LastError))
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
	help := "Parked events  t retry · T retry all · x skip · enter open · p pause/resume · R reset"
	if m.act.ReadOnly() {
		help = "Parked events  (read-only: actions disabled) · enter open"
	}
	lines = append(lines, st.Section.Render(help))
	out := strings.Join(lines, "\n") + "\n" + m.tbl.View()
	if m.reset != nil {
		out = m.reset.View(w) + "\n" + out
	}
	return common.FitLines(out, w, m.c.Height)
}

// ShortHelp is the footer help.
func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	return []key.Binding{k.Up, k.Down, k.Retry, k.RetryAll, k.Skip, k.PauseResume, k.Reset, k.Open, k.Back}
}

// FullHelp is the full help.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.c.Keys
	return [][]key.Binding{{k.Up, k.Down, k.Open, k.Copy, k.Refresh, k.Back}, {k.Retry, k.RetryAll, k.Skip, k.PauseResume, k.Reset}}
}

// PageID addresses the results to the page that asked (common.Addressed).
func (m loadMsg) PageID() int64 { return m.id }

// ID is the page's address.
func (m *Model) ID() int64 { return m.id }
