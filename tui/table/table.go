// Package table is a windowed table: it renders only the rows on screen and
// asks its Rows for their cells, so a list of 100,000 streams costs the same
// per frame as a list of 40. It handles the list keys (arrows, vim keys,
// pages, top/bottom) and the mouse (wheel scrolls, click selects).
package table

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"eventscope/internal/textsafe"
	"eventscope/tui/keymap"
	"eventscope/tui/styles"
)

// Column describes a column. Width is fixed; Flex > 0 columns share the
// width left over (in proportion to Flex), with Width as their minimum.
type Column struct {
	Title string
	Width int
	Flex  int
	Right bool
	// Mid cuts long text in the middle (ids: their end tells them apart).
	Mid bool
}

// Cell is one cell: plain text, an optional style, and byte offsets of
// characters to highlight (fuzzy-match positions).
type Cell struct {
	Text  string
	Style *lipgloss.Style
	Match []int
}

// Rows supplies the table's content on demand.
type Rows interface {
	Len() int
	Cells(i int) []Cell
}

// Model is the table state.
type Model struct {
	st     *styles.Styles
	keys   *keymap.KeyMap
	cols   []Column
	widths []int
	// vwidths: the layout of the table as wide as the screen plus xoff
	// (→ reveals its right part, the flexible columns grown).
	vwidths []int
	rows    Rows
	cursor  int
	offset  int
	width   int
	height  int // including the header line
	noHead  bool
	Empty   string // shown when there are no rows

	// xoff scrolls the flexible columns sideways (→/←), in cells; wrap
	// (w) shows the selected row's cut cells in full on extra lines.
	xoff int
	wrap bool
}

// ScrollStep is how far ←/→ scroll, in cells.
const ScrollStep = 8

// maxXOff bounds sideways scrolling.
const maxXOff = 4096

// Wrapped reports whether the selected row is shown in full.
func (m *Model) Wrapped() bool { return m.wrap }

// XOffset is how far the flexible columns are scrolled sideways.
func (m *Model) XOffset() int { return m.xoff }

// New makes a table.
func New(st *styles.Styles, keys *keymap.KeyMap, cols []Column) Model {
	return Model{st: st, keys: keys, cols: cols, Empty: "(nothing here)"}
}

// SetColumns replaces the columns.
func (m *Model) SetColumns(cols []Column) { m.cols = cols; m.layout() }

// HideHeader drops the header line.
func (m *Model) HideHeader() { m.noHead = true }

// SetSize sets the table's area (the header line included).
func (m *Model) SetSize(w, h int) {
	m.width, m.height = w, h
	m.layout()
	m.clamp()
}

// SetRows replaces the content, keeping the cursor where it can.
func (m *Model) SetRows(r Rows) { m.rows = r; m.clamp() }

// Len is the number of rows.
func (m *Model) Len() int {
	if m.rows == nil {
		return 0
	}
	return m.rows.Len()
}

// Cursor is the selected row.
func (m *Model) Cursor() int { return m.cursor }

// SetCursor selects row i (clamped) and scrolls it into view.
func (m *Model) SetCursor(i int) { m.cursor = i; m.clamp() }

// Place selects row i and scrolls so it is on screen line line (counted
// from the first row shown) where the rows allow: a refreshed list keeps
// the selected row where the eye was.
func (m *Model) Place(i, line int) {
	m.cursor = i
	m.offset = i - line
	m.clamp()
}

// Offset is the first row on screen.
func (m *Model) Offset() int { return m.offset }

// VisibleRows is how many rows fit.
func (m *Model) VisibleRows() int {
	h := m.height
	if !m.noHead {
		h--
	}
	h -= len(m.wrapLines())
	if h < 1 {
		return 1
	}
	return h
}

// AtBottom reports whether the last row is on screen.
func (m *Model) AtBottom() bool { return m.offset+m.VisibleRows() >= m.Len() }

// ScrollToBottom selects the last row.
func (m *Model) ScrollToBottom() { m.SetCursor(m.Len() - 1) }

func (m *Model) clamp() {
	n := m.Len()
	if m.cursor >= n {
		m.cursor = n - 1
	}
	if m.cursor < 0 {
		m.cursor = 0
	}
	vis := m.VisibleRows()
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+vis {
		m.offset = m.cursor - vis + 1
	}
	if m.offset > n-vis {
		m.offset = n - vis
	}
	if m.offset < 0 {
		m.offset = 0
	}
}

func (m *Model) layout() {
	m.widths = m.widthsFor(m.width)
	m.vwidths = m.widths
	if m.xoff > 0 {
		m.vwidths = m.widthsFor(m.width + m.xoff)
	}
}

// widthsFor lays the columns out in width cells: the fixed ones at their
// width, the flexible ones sharing what is left.
func (m *Model) widthsFor(width int) []int {
	widths := make([]int, len(m.cols))
	avail := width - 2 // selection marker
	fixed, flex := 0, 0
	for i, c := range m.cols {
		widths[i] = c.Width
		fixed += c.Width
		flex += c.Flex
		if i > 0 {
			fixed++ // separator
		}
	}
	extra := avail - fixed
	if extra > 0 && flex > 0 {
		given := 0
		last := -1
		for i, c := range m.cols {
			if c.Flex > 0 {
				add := extra * c.Flex / flex
				widths[i] += add
				given += add
				last = i
			}
		}
		widths[last] += extra - given
	}
	return widths
}

// Update handles list keys. It reports whether the cursor moved.
func (m *Model) Update(msg tea.Msg) bool {
	before := m.cursor
	switch msg := msg.(type) {
	case tea.KeyMsg:
		switch {
		case key.Matches(msg, m.keys.Up):
			m.cursor--
		case key.Matches(msg, m.keys.Down):
			m.cursor++
		case key.Matches(msg, m.keys.PageUp):
			m.cursor -= m.VisibleRows()
		case key.Matches(msg, m.keys.PageDown):
			m.cursor += m.VisibleRows()
		case key.Matches(msg, m.keys.Top):
			m.cursor = 0
		case key.Matches(msg, m.keys.Bottom):
			m.cursor = m.Len() - 1
		case key.Matches(msg, m.keys.Wrap):
			m.wrap, m.xoff = !m.wrap, 0
			m.layout()
		case key.Matches(msg, m.keys.ScrollRight):
			m.wrap, m.xoff = false, min(m.xoff+ScrollStep, maxXOff)
			m.layout()
		case key.Matches(msg, m.keys.ScrollLeft):
			m.xoff = max(m.xoff-ScrollStep, 0)
			m.layout()
		default:
			return false
		}
		m.clamp()
	}
	return m.cursor != before
}

// Mouse handles a wheel or click at row y (0 = the table's first line,
// i.e. its header). It reports whether the cursor moved and whether the
// click landed on a row.
func (m *Model) Mouse(msg tea.MouseMsg, y int) (moved, clicked bool) {
	before := m.cursor
	switch {
	case msg.Button == tea.MouseButtonWheelUp:
		m.offset -= 3
		if m.offset < 0 {
			m.offset = 0
		}
		if m.cursor >= m.offset+m.VisibleRows() {
			m.cursor = m.offset + m.VisibleRows() - 1
		}
	case msg.Button == tea.MouseButtonWheelDown:
		maxOff := m.Len() - m.VisibleRows()
		m.offset += 3
		if m.offset > maxOff {
			m.offset = max(maxOff, 0)
		}
		if m.cursor < m.offset {
			m.cursor = m.offset
		}
	case msg.Button == tea.MouseButtonLeft && msg.Action == tea.MouseActionPress:
		row := y
		if !m.noHead {
			row--
		}
		if row >= 0 && row < m.VisibleRows() && m.offset+row < m.Len() {
			m.cursor = m.offset + row
			clicked = true
		}
	}
	return m.cursor != before, clicked
}

// View renders the header and the visible rows, exactly m.height lines.
func (m *Model) View() string {
	var b strings.Builder
	lines := 0
	if !m.noHead {
		var hb strings.Builder
		hb.WriteString("  ")
		for i, c := range m.cols {
			if i > 0 {
				hb.WriteByte(' ')
			}
			t := fit(c.Title, m.vwidths[i], c.Right)
			hb.WriteString(m.st.TableHeader.Render(t))
		}
		b.WriteString(m.window(hb.String()))
		lines++
	}
	n := m.Len()
	vis := m.VisibleRows()
	if n == 0 && m.Empty != "" {
		if lines > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("  " + m.st.Faint.Render(m.Empty))
		lines++
	}
	for r := m.offset; r < n && r < m.offset+vis; r++ {
		if lines > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(m.renderRow(r, r == m.cursor))
		lines++
		if r == m.cursor {
			for _, l := range m.wrapLines() {
				b.WriteString("\n" + l)
				lines++
			}
		}
	}
	for ; lines < m.height; lines++ {
		b.WriteByte('\n')
	}
	return b.String()
}

func (m *Model) renderRow(r int, selected bool) string {
	cells := m.rows.Cells(r)
	var b strings.Builder
	gap := m.st.Row
	if selected {
		gap = m.st.Selected
		b.WriteString(m.st.Marker.Render("▶"))
		b.WriteString(gap.Render(" "))
	} else {
		b.WriteString("  ")
	}
	for i, c := range m.cols {
		if i > 0 {
			b.WriteString(gap.Render(" "))
		}
		var cell Cell
		if i < len(cells) {
			cell = cells[i]
		}
		if c.Mid {
			cell = middle(cell, m.vwidths[i])
		}
		b.WriteString(m.renderCell(cell, m.vwidths[i], c.Right, selected))
	}
	return m.window(b.String())
}

// window cuts a line laid out xoff cells wider than the screen to the
// part → scrolled to, keeping the selection marker and marking the cut
// with "…".
func (m *Model) window(line string) string {
	if m.xoff <= 0 {
		return line
	}
	w := ansi.StringWidth(line)
	return ansi.Cut(line, 0, 2) + m.st.Faint.Render("…") + ansi.Cut(line, 2+m.xoff+1, min(w, m.width+m.xoff))
}

// middle cuts c's text in its middle to w cells ("customer-00…0042"), so
// the distinguishing end of a long id stays visible.
func middle(c Cell, w int) Cell {
	text := sanitize(c.Text)
	if ansi.StringWidth(text) <= w || w < 5 {
		return c
	}
	head := ansi.Truncate(text, (w-1)/2, "")
	tw := w - 1 - ansi.StringWidth(head)
	tail := ansi.TruncateLeft(text, ansi.StringWidth(text)-tw, "")
	from := len(text) - len(tail)
	var idx []int
	for _, i := range c.Match {
		switch {
		case i < len(head):
			idx = append(idx, i)
		case i >= from:
			idx = append(idx, i-from+len(head)+len("…"))
		}
	}
	return Cell{Text: head + "…" + tail, Style: c.Style, Match: idx}
}

// maxWrap bounds the extra lines of the selected row when wrapped.
func (m *Model) maxWrap() int { return max((m.height-1)/2, 1) }

// wrapLines are the selected row's cut cells in full (w), each under its
// column, one line per piece: empty unless wrapping and something is cut.
func (m *Model) wrapLines() []string {
	if !m.wrap || m.rows == nil || m.cursor < 0 || m.cursor >= m.Len() || len(m.widths) != len(m.cols) {
		return nil
	}
	cells := m.rows.Cells(m.cursor)
	var out []string
	x := 2
	for i, c := range m.cols {
		if i > 0 {
			x++
		}
		w := m.widths[i]
		if i < len(cells) && w > 0 {
			text := sanitize(cells[i].Text)
			// what the row shows of it: w-1 cells and "…", fewer when
			// the columns are wider than the screen
			start := max(min(w, m.width-x)-1, 0)
			if tw := ansi.StringWidth(text); c.Mid && tw > w && len(out) < m.maxWrap() {
				// a middle-cut id: the whole of it, from its column
				out = append(out, strings.Repeat(" ", x)+m.st.Faint.Render(ansi.Truncate(text, max(m.width-x, 1), "…")))
			} else if (tw > start+1 || start < w-1) && tw > start && !c.Mid {
				// under its column, or from the left when the column is narrow
				indent := x
				if m.width-x < 30 {
					indent = 4
				}
				room := max(m.width-indent, 10)
				for from := start; from < tw && len(out) < m.maxWrap(); from += room {
					piece := ansi.Cut(text, from, min(from+room, tw))
					out = append(out, strings.Repeat(" ", indent)+m.st.Faint.Render(piece))
				}
			}
		}
		x += w
	}
	if len(out) == m.maxWrap() {
		out[len(out)-1] = ansi.Truncate(out[len(out)-1], max(m.width-1, 1), "") + "…"
	}
	return out
}

func (m *Model) renderCell(c Cell, w int, right, selected bool) string {
	if w <= 0 {
		return ""
	}
	base := m.st.Row
	if c.Style != nil {
		base = *c.Style
	}
	hl := m.st.Match
	if selected {
		base = base.Inherit(m.st.Selected)
		hl = m.st.MatchSelected
	}
	text := sanitize(c.Text)
	tw := ansi.StringWidth(text)
	cut := tw > w
	if cut {
		text = ansi.Truncate(text, w-1, "")
	}
	pad := w - ansi.StringWidth(text)
	if cut {
		pad--
	}
	var b strings.Builder
	if right && pad > 0 {
		b.WriteString(base.Render(strings.Repeat(" ", pad)))
	}
	if len(c.Match) == 0 {
		b.WriteString(base.Render(text))
	} else {
		b.WriteString(highlight(text, c.Match, base, hl))
	}
	if cut {
		b.WriteString(base.Render("…"))
	}
	if !right && pad > 0 {
		b.WriteString(base.Render(strings.Repeat(" ", pad)))
	}
	return b.String()
}

// highlight renders text with the bytes at idx in hl and the rest in base.
func highlight(text string, idx []int, base, hl lipgloss.Style) string {
	set := make(map[int]bool, len(idx))
	for _, i := range idx {
		set[i] = true
	}
	var b, run strings.Builder
	inHL := false
	flush := func() {
		if run.Len() == 0 {
			return
		}
		if inHL {
			b.WriteString(hl.Render(run.String()))
		} else {
			b.WriteString(base.Render(run.String()))
		}
		run.Reset()
	}
	for i, r := range text {
		h := set[i]
		if h != inHL {
			flush()
			inHL = h
		}
		run.WriteRune(r)
	}
	flush()
	return b.String()
}

// sanitize is textsafe.Line: a cell never moves the cursor, and no C1
// control or format character (a bidi override, a zero-width space) makes
// one id look like another; what is unsafe is shown escaped.
func sanitize(s string) string { return textsafe.Line(s) }

func fit(s string, w int, right bool) string {
	sw := ansi.StringWidth(s)
	if sw > w {
		return ansi.Truncate(s, w, "…")
	}
	if right {
		return strings.Repeat(" ", w-sw) + s
	}
	return s + strings.Repeat(" ", w-sw)
}
