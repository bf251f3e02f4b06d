package table

import (
	"fmt"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"eventscope/tui/tuitest"
)

type nums int

func (n nums) Len() int { return int(n) }
func (n nums) Cells(i int) []Cell {
	return []Cell{{Text: fmt.Sprintf("row-%d", i)}, {Text: "x"}}
}

func newTable(n, h int) Model {
	c := tuitest.Common(40, h)
	m := New(c.Styles, c.Keys, []Column{{Title: "id", Width: 10, Flex: 1}, {Title: "v", Width: 3, Right: true}})
	m.SetSize(40, h)
	m.SetRows(nums(n))
	return m
}

func TestKeys(t *testing.T) {
	t.Parallel()
	m := newTable(100, 11) // 10 visible rows
	steps := []struct {
		key  string
		want int
	}{
		{"down", 1}, {"j", 2}, {"up", 1}, {"k", 0}, {"k", 0},
		{"pgdown", 10}, {"pgup", 0}, {"G", 99}, {"g", 0}, {"end", 0},
	}
	for _, s := range steps {
		key := tuitest.Key(s.key)
		if s.key == "end" {
			key = tea.KeyMsg{Type: tea.KeyEnd}
			s.want = 99
		}
		m.Update(key)
		if m.Cursor() != s.want {
			t.Fatalf("after %s cursor = %d, want %d", s.key, m.Cursor(), s.want)
		}
	}
	if m.Offset() != 90 || !m.AtBottom() {
		t.Fatalf("offset %d at bottom %v", m.Offset(), m.AtBottom())
	}
}

func TestMouse(t *testing.T) {
	t.Parallel()
	m := newTable(100, 11)
	m.Mouse(tea.MouseMsg{Button: tea.MouseButtonWheelDown}, 0)
	if m.Offset() != 3 || m.Cursor() != 3 {
		t.Fatalf("wheel down: offset %d cursor %d", m.Offset(), m.Cursor())
	}
	moved, clicked := m.Mouse(tea.MouseMsg{Button: tea.MouseButtonLeft, Action: tea.MouseActionPress}, 5)
	if !moved || !clicked || m.Cursor() != 7 { // header line, then rows 3..
		t.Fatalf("click: moved %v clicked %v cursor %d", moved, clicked, m.Cursor())
	}
	_, clicked = m.Mouse(tea.MouseMsg{Button: tea.MouseButtonLeft, Action: tea.MouseActionPress}, 0)
	if clicked {
		t.Fatal("a click on the header selects nothing")
	}
	m.Mouse(tea.MouseMsg{Button: tea.MouseButtonWheelUp}, 0)
	if m.Offset() != 0 {
		t.Fatalf("wheel up: offset %d", m.Offset())
	}
}

func TestViewRendersOnlyVisibleRows(t *testing.T) {
	t.Parallel()
	m := newTable(100000, 6)
	m.SetCursor(50000)
	v := tuitest.Plain(m.View())
	lines := strings.Split(v, "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines:\n%s", len(lines), v)
	}
	if !strings.HasPrefix(lines[5], "▶ row-50000") {
		t.Fatalf("selected row not last visible:\n%s", v)
	}
}

func TestHighlightAndTruncate(t *testing.T) {
	t.Parallel()
	c := tuitest.Common(20, 3)
	m := New(c.Styles, c.Keys, []Column{{Title: "id", Width: 8}})
	m.SetSize(12, 3)
	m.SetRows(rowsFunc(func(i int) []Cell { return []Cell{{Text: "order-000042", Match: []int{0, 11}}} }))
	v := tuitest.Plain(m.View())
	if !strings.Contains(v, "order-0…") {
		t.Fatalf("not truncated with an ellipsis:\n%q", v)
	}
}

type rowsFunc func(int) []Cell

func (f rowsFunc) Len() int           { return 1 }
func (f rowsFunc) Cells(i int) []Cell { return f(i) }

type long int

func (n long) Len() int { return int(n) }
func (n long) Cells(i int) []Cell {
	return []Cell{{Text: fmt.Sprintf("customer-0000000000%02d", i)}, {Text: "the start of a long error message that goes on and ends here"}}
}

// TestLongContent (issue 14, item 5): ids are cut in the middle so their
// end stays; cut text ends in …; → and ← scroll the flexible columns
// sideways; w shows the selected row's cut cells in full.
func TestLongContent(t *testing.T) {
	t.Parallel()
	c := tuitest.Common(40, 10)
	m := New(c.Styles, c.Keys, []Column{{Title: "id", Width: 12, Mid: true}, {Title: "error", Width: 10, Flex: 1}})
	m.SetSize(40, 10)
	m.SetRows(long(3))
	v := tuitest.Plain(m.View())
	if !strings.Contains(v, "custo…000000") || !strings.Contains(v, "custo…000001") {
		t.Fatalf("ids not cut in the middle:\n%s", v)
	}
	if !strings.Contains(v, "the start of a long erro…") {
		t.Fatalf("cut text does not end in …:\n%s", v)
	}
	m.Update(tuitest.Key("right"))
	m.Update(tuitest.Key("right"))
	v = tuitest.Plain(m.View())
	if !strings.Contains(v, "▶ …start of a long error message that g…") || m.XOffset() != 2*ScrollStep {
		t.Fatalf("→ did not scroll the error sideways:\n%s", v)
	}
	m.Update(tuitest.Key("left"))
	m.Update(tuitest.Key("left"))
	m.Update(tuitest.Key("left"))
	if m.XOffset() != 0 {
		t.Fatalf("← stopped at %d", m.XOffset())
	}
	m.Update(tuitest.Key("w"))
	v = tuitest.Plain(m.View())
	if !m.Wrapped() || !strings.Contains(v, "  customer-000000000000\n") || !strings.Contains(v, "    r message that goes on and ends here\n") {
		t.Fatalf("w did not show the selected row in full:\n%s", v)
	}
	if strings.Count(v, "custo…") != 3 {
		t.Fatalf("wrapping hid the other rows:\n%s", v)
	}
	m.Update(tuitest.Key("w"))
	if m.Wrapped() || len(m.wrapLines()) != 0 {
		t.Fatal("w again did not cut the row again")
	}
}
