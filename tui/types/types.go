// Package types is the console's event-type catalog: every type with its
// count, last seen, categories, fields and drift, refreshed every few
// seconds. Enter drills into a type: its fields (JSON types with shares,
// presence, examples) and its drift, where enter opens the example's event
// or the event where the drift began. "/" filters by type name, cat:,
// field: and drift: (a leading "!" inverts).
package types

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"eventscope/internal/textsafe"
	"eventscope/store"
	"eventscope/tui/common"
	"eventscope/tui/table"
)

// Every is the refresh interval.
const Every = 2 * time.Second

// Source reads the catalog (catching it up first); *store.Store is one.
type Source interface {
	CatalogTypes(ctx context.Context, o store.CatalogOptions) ([]store.TypeInfo, store.CatalogState, error)
}

type loadMsg struct {
	id    int64
	types []store.TypeInfo
	state store.CatalogState
	err   error
}

type tickMsg struct{ id int64 }

// Model is the view: the list, or one type's detail.
type Model struct {
	c       common.Common
	ctx     context.Context
	src     Source
	id      int64
	types   []store.TypeInfo
	state   store.CatalogState
	loaded  bool
	loading bool
	err     error
	at      time.Time // when the catalog was last read

	list    table.Model
	visible []int
	input   textinput.Model
	focused bool
	filter  string // the text typed
	flt     common.ListFilter
	ferr    error // the filter typed does not parse

	detail  string // the type drilled into, "" for the list
	rows    []detailRow
	dtbl    table.Model
	initial string
}

type detailRow struct {
	field *store.FieldInfo
	drift *store.Drift
}

// New opens the catalog; typ, when set, opens that type's detail.
func New(ctx context.Context, c common.Common, src Source, typ string) *Model {
	m := &Model{c: c, ctx: ctx, src: src, id: common.NewID(), initial: typ}
	m.list = table.New(c.Styles, c.Keys, []table.Column{
		{Title: "type", Width: 22, Flex: 2},
		{Title: "events", Width: 10, Right: true},
		{Title: "last seen", Width: 19},
		{Title: "categories", Width: 12, Flex: 1},
		{Title: "fields", Width: 6, Right: true},
		{Title: "drift", Width: 5, Right: true},
	})
	m.list.Empty = "reading the catalog…"
	m.dtbl = table.New(c.Styles, c.Keys, []table.Column{
		{Title: "field / drift", Width: 22, Flex: 2},
		{Title: "presence", Width: 8, Right: true},
		{Title: "types", Width: 22, Flex: 1},
		{Title: "examples / where it began", Width: 20, Flex: 3},
	})
	m.input = common.NewInput(c.Styles, "name, cat:C, field:F, drift:yes|no, ! inverts")
	m.input.Blur()
	m.list.SetRows(listRows{m})
	return m
}

// Title is the breadcrumb.
func (m *Model) Title() string {
	if m.detail != "" {
		return "types › " + common.Truncate(textsafe.Line(m.detail), 24)
	}
	return "types"
}

// SetSize sets the area: two lines above the table.
func (m *Model) SetSize(w, h int) {
	m.c.SetSize(w, h)
	m.list.SetSize(w, h-2)
	m.dtbl.SetSize(w, h-2)
}

// Init loads the catalog.
func (m *Model) Init() tea.Cmd { return m.load() }

func (m *Model) load() tea.Cmd {
	if m.src == nil {
		m.err = fmt.Errorf("the type catalog is unavailable")
		return nil
	}
	m.loading = true
	id, src, ctx := m.id, m.src, m.ctx
	o := store.CatalogOptions{Budget: time.Second}
	if m.c.ReadOnly {
		o.Budget = -1 // read the catalog as it stands: advancing it writes
	}
	return common.Fetch(ctx, 30*time.Second, func(ctx context.Context) tea.Msg {
		types, state, err := src.CatalogTypes(ctx, o)
		return loadMsg{id: id, types: types, state: state, err: err}
	})
}

// ClaimsKey: the focused filter takes every key; esc leaves a detail or an
// active filter.
func (m *Model) ClaimsKey(msg tea.KeyMsg) bool {
	return m.focused || ((m.detail != "" || m.filter != "") && key.Matches(msg, m.c.Keys.Back))
}

// CopyText copies the type's catalog entry (list), or the field's path
// (detail) or the drift's event id.
func (m *Model) CopyText() (string, string, bool) {
	if m.detail == "" {
		if t, ok := m.selectedType(); ok {
			b, _ := json.Marshal(t)
			return string(b), "type catalog entry", true
		}
		return "", "", false
	}
	if i := m.dtbl.Cursor(); i < len(m.rows) {
		if r := m.rows[i]; r.field != nil {
			return r.field.Path, "field path", true
		} else {
			return r.drift.Event.EventID.String(), "event id", true
		}
	}
	return "", "", false
}

func (m *Model) selectedType() (store.TypeInfo, bool) {
	if i := m.list.Cursor(); i < len(m.visible) {
		return m.types[m.visible[i]], true
	}
	return store.TypeInfo{}, false
}

// Update handles keys, ticks and results.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case loadMsg:
		if msg.id != m.id {
			return nil
		}
		m.loading = false
		next := m.c.Tick(Every, func(time.Time) tea.Msg { return tickMsg{id: m.id} })
		if msg.err != nil {
			m.err = msg.err
			return tea.Batch(common.ErrCmd("type catalog", msg.err), next)
		}
		m.err, m.types, m.state, m.loaded, m.at = nil, msg.types, msg.state, true, m.c.Now()
		m.apply()
		if m.initial != "" {
			m.open(m.initial)
			m.initial = ""
		} else if m.detail != "" {
			m.open(m.detail)
		}
		m.list.Empty = "no event type yet"
		return next
	case tickMsg:
		if msg.id != m.id || m.loading {
			return nil
		}
		return m.load()
	case common.RefreshMsg:
		return m.load()
	case tea.KeyMsg:
		if m.focused {
			return m.filterKey(msg)
		}
		k := m.c.Keys
		switch {
		case m.detail != "" && key.Matches(msg, k.Back):
			m.detail = ""
			return nil
		case m.detail == "" && m.filter != "" && key.Matches(msg, k.Back):
			m.input.SetValue("")
			m.setFilter("")
			return nil
		case m.detail == "" && key.Matches(msg, k.Filter):
			m.focused = true
			m.input.Focus()
			return nil
		case key.Matches(msg, k.Open):
			if m.detail == "" {
				if t, ok := m.selectedType(); ok {
					m.open(t.Type)
				}
				return nil
			}
			return m.openDetailRow()
		case key.Matches(msg, k.Refresh):
			return m.load()
		}
		if m.detail != "" {
			m.dtbl.Update(msg)
		} else {
			m.list.Update(msg)
		}
	case tea.MouseMsg:
		if m.detail != "" {
			if moved, clicked := m.dtbl.Mouse(msg, msg.Y-2); clicked && !moved {
				return m.openDetailRow()
			}
		} else if moved, clicked := m.list.Mouse(msg, msg.Y-2); clicked && !moved {
			if t, ok := m.selectedType(); ok {
				m.open(t.Type)
			}
		}
	}
	return nil
}

func (m *Model) filterKey(msg tea.KeyMsg) tea.Cmd {
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
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	m.setFilter(m.input.Value())
	return cmd
}

// FilterKeys are the keys of the types' "/" filter: cat:C (has events in
// category C), field:F (has a field whose path contains F), drift:yes or
// drift:no (its shape drifted, or not).
var FilterKeys = []string{"cat", "field", "drift"}

// setFilter applies the text typed (text in the type's name, the keys, a
// leading "!" inverts); one that does not parse says why and keeps the
// rows.
func (m *Model) setFilter(text string) {
	f, err := common.ParseListFilter(text, FilterKeys...)
	if err == nil {
		if d, ok := f.Terms["drift"]; ok && d != "yes" && d != "no" {
			err = fmt.Errorf("drift: is yes or no, not %q", d)
		}
	}
	m.filter, m.ferr = strings.TrimSpace(text), err
	if err != nil {
		return
	}
	m.flt = f
	m.apply()
}

func (m *Model) apply() {
	m.visible = m.visible[:0]
	for i := range m.types {
		if m.flt.Empty() || m.passes(&m.types[i]) != m.flt.Invert {
			m.visible = append(m.visible, i)
		}
	}
	m.list.SetRows(listRows{m})
}

func (m *Model) passes(t *store.TypeInfo) bool {
	f := m.flt
	if f.Text != "" {
		for _, w := range strings.Fields(strings.ToLower(f.Text)) {
			if !strings.Contains(strings.ToLower(t.Type), w) {
				return false
			}
		}
	}
	if c, ok := f.Terms["cat"]; ok && !slices.ContainsFunc(t.Categories, func(s store.CategoryShare) bool { return s.Category == c }) {
		return false
	}
	if p, ok := f.Terms["field"]; ok && !slices.ContainsFunc(t.Fields, func(fi store.FieldInfo) bool { return strings.Contains(strings.ToLower(fi.Path), strings.ToLower(p)) }) {
		return false
	}
	if d, ok := f.Terms["drift"]; ok && (len(t.Drift) > 0) != (d == "yes") {
		return false
	}
	return true
}

// open shows a type's detail: its fields, then its drift.
func (m *Model) open(typ string) {
	var t *store.TypeInfo
	for i := range m.types {
		if m.types[i].Type == typ {
			t = &m.types[i]
		}
	}
	if t == nil {
		m.detail = ""
		return
	}
	cur := m.dtbl.Cursor()
	if m.detail != typ {
		cur = 0
	}
	m.detail = typ
	m.rows = m.rows[:0]
	for i := range t.Fields {
		m.rows = append(m.rows, detailRow{field: &t.Fields[i]})
	}
	for i := range t.Drift {
		m.rows = append(m.rows, detailRow{drift: &t.Drift[i]})
	}
	m.dtbl.Empty = "no fields: the type's events carry empty data"
	m.dtbl.SetRows(detailRows{m})
	m.dtbl.SetCursor(cur)
}

func (m *Model) openDetailRow() tea.Cmd {
	i := m.dtbl.Cursor()
	if i >= len(m.rows) {
		return nil
	}
	r := m.rows[i]
	if r.drift != nil {
		return common.Navigate(common.OpenEventIDMsg{ID: r.drift.Event.EventID.String(), Role: "where the drift of " + r.drift.Path + " began"})
	}
	if len(r.field.Examples) > 0 {
		return common.Navigate(common.OpenEventIDMsg{ID: r.field.Examples[0].Event.EventID.String(), Role: "example of " + r.field.Path})
	}
	return common.Status(common.Info, "%s has no example value (objects and arrays show their fields)", r.field.Path)
}

type listRows struct{ m *Model }

func (r listRows) Len() int { return len(r.m.visible) }

func (r listRows) Cells(i int) []table.Cell {
	st := r.m.c.Styles
	t := r.m.types[r.m.visible[i]]
	var cats []string
	for _, c := range t.Categories {
		cats = append(cats, textsafe.Line(c.Category))
	}
	drift := fmt.Sprint(len(t.Drift))
	ds := &st.Faint
	if len(t.Drift) > 0 {
		ds = &st.Warning
	}
	return []table.Cell{
		{Text: textsafe.Line(t.Type), Style: &st.Accent},
		{Text: fmt.Sprint(t.Count)},
		{Text: t.LastSeen.Local().Format("2006-01-02 15:04:05"), Style: &st.Faint},
		{Text: strings.Join(cats, ",")},
		{Text: fmt.Sprint(len(t.Fields))},
		{Text: drift, Style: ds},
	}
}

type detailRows struct{ m *Model }

func (r detailRows) Len() int { return len(r.m.rows) }

func (r detailRows) Cells(i int) []table.Cell {
	st := r.m.c.Styles
	row := r.m.rows[i]
	if f := row.field; f != nil {
		var ex []string
		for _, e := range f.Examples {
			v := string(e.Value)
			if e.Cut {
				v += "…"
			}
			ex = append(ex, v)
		}
		return []table.Cell{
			{Text: textsafe.Line(f.Path), Style: &st.Accent},
			{Text: pct(f.Presence)},
			{Text: shares(f.Types)},
			{Text: textsafe.Line(strings.Join(ex, "  ")), Style: &st.Faint},
		}
	}
	d := row.drift
	change := d.Change
	switch d.Change {
	case "type_changed":
		change = d.From + " → " + d.To
	case "appeared":
		change = "appeared " + d.To
	case "disappeared":
		if d.Over != nil {
			change = "gone (back later)"
		}
	}
	return []table.Cell{
		{Text: "drift " + textsafe.Line(d.Path), Style: &st.Warning},
		{Text: ""},
		{Text: change, Style: &st.Warning},
		{Text: fmt.Sprintf("after %d events, at %s@%d %s", d.After, textsafe.Line(d.Event.StreamID), d.Event.Version, d.Event.RecordedAt.Local().Format("2006-01-02 15:04:05"))},
	}
}

func pct(f float64) string {
	switch {
	case f >= 1:
		return "100%"
	case f >= 0.995:
		return ">99%"
	case f > 0 && f < 0.005:
		return "<1%"
	}
	return fmt.Sprintf("%.0f%%", f*100)
}

func shares(m map[string]float64) string {
	type ts struct {
		t string
		s float64
	}
	var l []ts
	for t, s := range m {
		l = append(l, ts{t, s})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].s > l[j].s || l[i].s == l[j].s && l[i].t < l[j].t })
	var parts []string
	for _, x := range l {
		if len(l) == 1 {
			parts = append(parts, x.t)
		} else {
			parts = append(parts, x.t+" "+pct(x.s))
		}
	}
	return strings.Join(parts, ", ")
}

// View renders the summary, a hint line and the list or the detail.
func (m *Model) View() string {
	if m.c.Width <= 0 || m.c.Height <= 0 {
		return "" // not laid out yet
	}
	st := m.c.Styles
	var sum, hint, body string
	if m.detail != "" {
		var t store.TypeInfo
		for _, x := range m.types {
			if x.Type == m.detail {
				t = x
			}
		}
		sum = st.Bold.Render(textsafe.Line(t.Type)) + "  " + st.Faint.Render(fmt.Sprintf("%s · %d events, first %s, last %s · %d fields · %d drift",
			common.Updated(m.c.Now(), m.at), t.Count, t.FirstSeen.Local().Format("2006-01-02 15:04"), t.LastSeen.Local().Format("2006-01-02 15:04"), len(t.Fields), len(t.Drift)))
		hint = st.Faint.Render("enter open the example's event / where the drift began · y copy · esc back to the types")
		body = m.dtbl.View()
	} else {
		var total int64
		for _, t := range m.types {
			total += t.Count
		}
		sum = st.Bold.Render("Event types") + "  "
		switch {
		case m.err != nil:
			sum += st.Error.Render(textsafe.Line(m.err.Error()))
		case !m.loaded:
			sum += st.Faint.Render("reading the catalog…")
		default:
			sum += st.Faint.Render(fmt.Sprintf("%d types, %d events folded in, as of %s · %s", len(m.types), m.state.Events, m.state.Checkpoint, common.Updated(m.c.Now(), m.at)))
			switch {
			case m.c.ReadOnly:
				sum += st.Faint.Render(" · read-only: not advanced here")
			case !m.state.CaughtUp:
				sum += st.Warning.Render(" · catching up")
			}
		}
		switch {
		case m.focused || m.filter != "":
			hint = st.Faint.Render("filter: ") + m.input.View() + st.Faint.Render(fmt.Sprintf("  %d of %d types", len(m.visible), len(m.types)))
			if m.ferr != nil {
				hint += "  " + st.Error.Render(textsafe.Line(m.ferr.Error()))
			}
		default:
			hint = st.Faint.Render("enter fields & drift · / filter · y copy · r refresh (every 2s)")
		}
		body = m.list.View()
	}
	out := common.Truncate(sum, m.c.Width) + "\n" + common.Truncate(hint, m.c.Width) + "\n" + body
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
func (m tickMsg) PageID() int64 { return m.id }

// ID is the page's address.
func (m *Model) ID() int64 { return m.id }
