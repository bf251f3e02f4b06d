// Package subs is the live subscriptions table: name, state, checkpoint,
// lag with a lag sparkline, rate, parked, holder, heartbeat age and last
// error, refreshed by every monitor snapshot (about once a second) without
// a keypress. p pauses or resumes, R resets through a menu, enter opens the
// detail.
package subs

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/sahilm/fuzzy"

	"eventscope/internal/textsafe"
	"eventscope/store"
	"eventscope/tui/action"
	"eventscope/tui/common"
	"eventscope/tui/resetmenu"
	"eventscope/tui/table"
)

// Source lists subscriptions on demand (r); the live updates come as
// common.SubsMsg from the monitor.
type Source interface {
	List(ctx context.Context) ([]common.SubStatus, error)
}

type listMsg struct {
	id   int64
	subs []common.SubStatus
	err  error
}

// Model is the subscriptions view.
type Model struct {
	c    common.Common
	ctx  context.Context
	src  Source
	act  *action.Actions
	hist *common.SubHistory
	id   int64

	all     []common.SubStatus
	rows    []row
	at      time.Time
	loaded  bool
	err     error
	tbl     table.Model
	input   textinput.Model
	focused bool
	filter  string // the text typed
	flt     common.ListFilter
	ferr    error // the filter typed does not parse
	reset   *resetmenu.Model
	colIDs  []int // the columns shown (setColumns)
	// horizon is the header's probe: while an open transaction holds the
	// log back, a live subscription's lag 0 is not "up to date".
	horizon store.Horizon
}

type row struct {
	s     common.SubStatus
	match []int
}

// New makes the view. hist is shared with the detail view.
func New(ctx context.Context, c common.Common, src Source, act *action.Actions, hist *common.SubHistory) *Model {
	m := &Model{c: c, ctx: ctx, src: src, act: act, hist: hist, id: common.NewID()}
	m.tbl = table.New(c.Styles, c.Keys, nil)
	m.setColumns(c.Width)
	m.tbl.Empty = "no subscriptions yet (start a worker: eventscope worker)"
	m.tbl.SetRows(rows{m})
	m.input = common.NewInput(c.Styles, "fuzzy name, state:paused, cat:C, type:T, holder:H, ! inverts")
	m.input.Blur()
	return m
}

// Title is the breadcrumb.
func (m *Model) Title() string { return "Subscriptions" }

// SetSize sets the area: a status line and a filter line above the table.
func (m *Model) SetSize(w, h int) { m.c.SetSize(w, h); m.setColumns(w); m.tbl.SetSize(w, h-2) }

// The table's columns, by the width they need: narrower terminals drop
// the lag trend, the heartbeat and the checkpoint and narrow the rest, so
// parked, holder and the last error stay on 80 columns.
const (
	colName = iota
	colState
	colCheckpoint
	colLag
	colTrend
	colRate
	colParked
	colHolder
	colBeat
	colError
)

func (m *Model) setColumns(w int) {
	all := map[int]table.Column{
		colName:       {Title: "name", Width: 16, Flex: 1, Mid: true},
		colState:      {Title: "state", Width: 11},
		colCheckpoint: {Title: "checkpoint", Width: 14, Right: true},
		colLag:        {Title: "lag", Width: 9, Right: true},
		colTrend:      {Title: "lag trend", Width: 12},
		colRate:       {Title: "rate", Width: 8, Right: true},
		colParked:     {Title: "parked", Width: 6, Right: true},
		colHolder:     {Title: "holder", Width: 16},
		colBeat:       {Title: "beat", Width: 8, Right: true},
		colError:      {Title: "last error", Width: 12, Flex: 2},
	}
	ids := []int{colName, colState, colCheckpoint, colLag, colTrend, colRate, colParked, colHolder, colBeat, colError}
	switch {
	case w >= 124:
	case w >= 102:
		ids = []int{colName, colState, colCheckpoint, colLag, colRate, colParked, colHolder, colError}
	default:
		ids = []int{colName, colState, colLag, colRate, colParked, colHolder, colError}
		for id, width := range map[int]int{colName: 12, colState: 9, colLag: 7, colRate: 7, colHolder: 10, colError: 12} {
			c := all[id]
			c.Width = width
			all[id] = c
		}
	}
	if len(ids) == len(m.colIDs) {
		return
	}
	m.colIDs = ids
	cols := make([]table.Column, len(ids))
	for i, id := range ids {
		cols[i] = all[id]
	}
	m.tbl.SetColumns(cols)
}

// Init loads the list once; the monitor keeps it fresh.
func (m *Model) Init() tea.Cmd { return m.list() }

func (m *Model) list() tea.Cmd {
	if m.src == nil {
		return nil
	}
	id, src, ctx := m.id, m.src, m.ctx
	return func() tea.Msg {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		s, err := src.List(cctx)
		return listMsg{id: id, subs: s, err: err}
	}
}

// ClaimsKey: the filter input and the reset dialog take every key; an
// active filter takes esc.
func (m *Model) ClaimsKey(msg tea.KeyMsg) bool {
	return m.focused || m.reset != nil || (m.filter != "" && key.Matches(msg, m.c.Keys.Back))
}

// Selected is the subscription under the cursor.
func (m *Model) Selected() (common.SubStatus, bool) {
	i := m.tbl.Cursor()
	if i < len(m.rows) {
		return m.rows[i].s, true
	}
	return common.SubStatus{}, false
}

// CopyText copies the selected subscription's checkpoint.
func (m *Model) CopyText() (string, string, bool) {
	if s, ok := m.Selected(); ok {
		return s.Checkpoint.String(), "checkpoint of " + s.Name, true
	}
	return "", "", false
}

// Update handles keys, snapshots and action results.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case common.SubsMsg:
		m.err = msg.Err
		if msg.Err == nil {
			m.hist.Add(msg.Subs)
			m.set(msg.Subs, msg.At)
		}
	case listMsg:
		if msg.id != m.id {
			return nil
		}
		if msg.err != nil {
			m.err = msg.err
			return common.ErrCmd("list subscriptions", msg.err)
		}
		m.err = nil // a success clears the last failure
		m.set(msg.subs, m.c.Now())
	case action.DoneMsg:
		if msg.Err == nil && msg.Status != nil {
			for i := range m.all {
				if m.all[i].Name == msg.Status.Name {
					m.all[i] = *msg.Status
				}
			}
			m.apply()
		}
	case common.RateMsg:
		m.horizon = msg.Horizon
	case common.RefreshMsg:
		return m.list()
	case tea.MouseMsg:
		if moved, clicked := m.tbl.Mouse(msg, msg.Y-2); clicked && !moved {
			if s, ok := m.Selected(); ok {
				return common.Navigate(common.OpenSubMsg{Name: s.Name})
			}
		}
	case tea.KeyMsg:
		return m.key(msg)
	}
	return nil
}

func (m *Model) set(subs []common.SubStatus, at time.Time) {
	m.all = append([]common.SubStatus(nil), subs...)
	sort.Slice(m.all, func(i, j int) bool { return m.all[i].Name < m.all[j].Name })
	m.at, m.loaded = at, true
	m.apply()
}

type names []common.SubStatus

func (n names) String(i int) string { return n[i].Name }
func (n names) Len() int            { return len(n) }

func (m *Model) apply() {
	var sel string
	if s, ok := m.Selected(); ok {
		sel = s.Name
	}
	m.rows = m.rows[:0]
	f := m.flt
	if f.Empty() {
		for _, s := range m.all {
			m.rows = append(m.rows, row{s: s})
		}
	} else {
		var keep []int // indexes into m.all passing the key terms
		for i, s := range m.all {
			if termsHold(f, s) {
				keep = append(keep, i)
			}
		}
		var hits []row
		if f.Text == "" {
			for _, i := range keep {
				hits = append(hits, row{s: m.all[i]})
			}
		} else {
			sub := make(names, len(keep))
			for j, i := range keep {
				sub[j] = m.all[i]
			}
			for _, fm := range fuzzy.FindFrom(f.Text, sub) {
				hits = append(hits, row{s: sub[fm.Index], match: fm.MatchedIndexes})
			}
		}
		if f.Invert {
			in := map[string]bool{}
			for _, h := range hits {
				in[h.s.Name] = true
			}
			hits = nil
			for _, s := range m.all {
				if !in[s.Name] {
					hits = append(hits, row{s: s})
				}
			}
		}
		m.rows = append(m.rows, hits...)
	}
	m.tbl.SetRows(rows{m})
	for i, r := range m.rows {
		if r.s.Name == sel {
			m.tbl.SetCursor(i)
		}
	}
}

// FilterKeys are the keys of the subscriptions' "/" filter: state:S (a
// state or its start: live, catching-up, paused, failing, stopped,
// no-holder), cat:C and type:T (subscribed to it; a subscription to
// everything is to every one), holder:H (in the holder's host:pid).
var FilterKeys = []string{"state", "cat", "type", "holder"}

func termsHold(f common.ListFilter, s common.SubStatus) bool {
	for k, v := range f.Terms {
		v = strings.ToLower(v)
		var ok bool
		switch k {
		case "state":
			ok = strings.HasPrefix(strings.ToLower(string(s.State)), v)
		case "cat":
			ok = len(s.Categories) == 0 || slices.Contains(s.Categories, v)
		case "type":
			ok = len(s.Types) == 0 || slices.ContainsFunc(s.Types, func(t string) bool { return strings.EqualFold(t, v) })
		case "holder":
			ok = strings.Contains(strings.ToLower(s.Holder), v)
		}
		if !ok {
			return false
		}
	}
	return true
}

// setFilter applies the text typed; one that does not parse says why and
// keeps the rows.
func (m *Model) setFilter(text string) {
	f, err := common.ParseListFilter(text, FilterKeys...)
	m.filter, m.ferr = strings.TrimSpace(text), err
	if err != nil {
		return
	}
	m.flt = f
	m.apply()
}

// clearFilter ends the filter for good.
func (m *Model) clearFilter() {
	m.focused = false
	m.input.Blur()
	m.input.SetValue("")
	m.setFilter("")
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
	if m.focused {
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
		m.clearFilter()
		return nil
	case key.Matches(msg, k.Refresh):
		return m.list()
	case key.Matches(msg, k.Open):
		if s, ok := m.Selected(); ok {
			return common.Navigate(common.OpenSubMsg{Name: s.Name})
		}
		return nil
	case key.Matches(msg, k.PauseResume):
		s, ok := m.Selected()
		if !ok {
			return nil
		}
		return m.act.PauseResume(s.Name, s.State)
	case key.Matches(msg, k.Reset):
		s, ok := m.Selected()
		if !ok {
			return nil
		}
		if deny := m.act.Denied("reset"); deny != nil {
			return deny
		}
		m.reset = resetmenu.New(m.c, m.act, s.Name)
		return nil
	}
	m.tbl.Update(msg)
	return nil
}

type rows struct{ m *Model }

func (r rows) Len() int { return len(r.m.rows) }
func (r rows) Cells(i int) []table.Cell {
	m := r.m
	st := m.c.Styles
	s := m.rows[i].s
	stateText := common.ShownState(s.State, m.horizon)
	state := common.StateStyle(st, stateText)
	lagStyle := st.Row
	if s.Lag >= common.LagThreshold {
		lagStyle = st.Warning
	}
	parkStyle := st.Faint
	if s.Parked > 0 {
		parkStyle = st.Warning
	}
	beat := "-"
	if !s.Heartbeat.IsZero() {
		beat = common.Age(m.c.Now().Sub(s.Heartbeat))
	}
	holder := s.HolderText()
	if holder == "" {
		holder = "-"
	}
	errText := firstLine(s.LastError)
	if errText != "" && !s.LastErrorAt.IsZero() {
		errText = common.Ago(m.c.Now(), s.LastErrorAt) + ": " + errText
	}
	all := [...]table.Cell{
		colName:       {Text: s.Name, Match: m.rows[i].match},
		colState:      {Text: string(stateText), Style: &state},
		colCheckpoint: {Text: s.Checkpoint.String(), Style: &st.Faint},
		colLag:        {Text: common.Count(s.Lag), Style: &lagStyle},
		colTrend:      {Text: common.Sparkline(m.hist.Lag(s.Name), 12), Style: &st.Spark},
		colRate:       {Text: common.Rate(s.Rate)},
		colParked:     {Text: common.Count(s.Parked), Style: &parkStyle},
		colHolder:     {Text: holder, Style: &st.Faint},
		colBeat:       {Text: beat, Style: &st.Faint},
		colError:      {Text: errText, Style: &st.Error},
	}
	out := make([]table.Cell, len(m.colIDs))
	for j, id := range m.colIDs {
		out[j] = all[id]
	}
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// View renders the summary, the filter line and the table (and the reset
// dialog over it when open).
func (m *Model) View() string {
	st := m.c.Styles
	var status string
	switch {
	case m.err != nil && !m.loaded:
		status = st.Error.Render("subscriptions unavailable: " + m.err.Error())
	case !m.loaded:
		status = st.Faint.Render("loading…")
	default:
		status = st.Faint.Render(fmt.Sprintf("%d subscriptions · %s", len(m.all), common.Updated(m.c.Now(), m.at)))
		if m.err != nil {
			status += " " + st.Error.Render("(monitor: "+m.err.Error()+")")
		}
		if hb := common.HeldBackText(m.horizon); hb != "" {
			status += " " + st.Error.Render("· ⚠ "+hb)
		}
		if m.act.ReadOnly() {
			status += " " + st.Warning.Render("· read-only: actions disabled")
		}
	}
	var filter string
	switch {
	case m.focused:
		filter = st.Accent.Render("/ ") + m.input.View()
	case m.filter != "":
		filter = st.Accent.Render("/ ") + st.Input.Render(textsafe.Line(m.filter)) + st.Faint.Render(fmt.Sprintf("   %d of %d · esc clears", len(m.rows), len(m.all)))
	default:
		filter = st.Faint.Render("enter detail · p pause/resume · R reset · / filter (name, state:, cat:, type:, holder:, ! inverts)")
	}
	if m.ferr != nil {
		filter += "  " + st.Error.Render(textsafe.Line(m.ferr.Error()))
	}
	out := common.Truncate(status, m.c.Width) + "\n" + filter + "\n" + m.tbl.View()
	if m.reset != nil {
		out = m.reset.View(m.c.Width) + "\n" + out
	}
	return common.FitLines(out, m.c.Width, m.c.Height)
}

// ShortHelp is the footer help.
func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	return []key.Binding{k.Up, k.Down, k.Open, k.PauseResume, k.Reset, k.Filter, k.Copy}
}

// FullHelp is the full help.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.c.Keys
	return [][]key.Binding{k.Moves(), {k.Open, k.PauseResume, k.Reset, k.Filter, k.Copy, k.Refresh}}
}

// PageID addresses the results to the page that asked (common.Addressed).
func (m listMsg) PageID() int64 { return m.id }

// ID is the page's address.
func (m *Model) ID() int64 { return m.id }
