// Package confirm is the console's confirmation dialog. The default answer
// is No: only "y" (or, for actions that discard data, typing the exact
// name) runs the action; enter, n and esc cancel.
package confirm

import (
	"strings"

	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"eventscope/internal/textsafe"
	"eventscope/tui/common"
)

// Model is an open dialog.
type Model struct {
	c     common.Common
	req   common.ConfirmMsg
	input textinput.Model
	wrong bool
}

// New opens a dialog for req.
func New(c common.Common, req common.ConfirmMsg) *Model {
	m := &Model{c: c, req: req}
	if req.Typed != "" {
		m.input = common.NewInput(c.Styles, "")
	}
	return m
}

// Update handles a key. done is true when the dialog closes; cmd is the
// action when confirmed.
func (m *Model) Update(msg tea.Msg) (cmd tea.Cmd, done bool) {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil, false
	}
	if km.Type == tea.KeyEsc || km.Type == tea.KeyCtrlC {
		return common.Status(common.Info, "cancelled"), true
	}
	if m.req.Typed == "" {
		switch strings.ToLower(km.String()) {
		case "y":
			return m.req.Action, true
		case "n", "enter":
			return common.Status(common.Info, "cancelled"), true
		}
		return nil, false
	}
	if km.Type == tea.KeyEnter {
		if m.input.Value() == m.req.Typed {
			return m.req.Action, true
		}
		m.wrong = true
		return nil, false
	}
	m.wrong = false
	m.input, cmd = m.input.Update(msg)
	return cmd, false
}

// View renders the dialog box at most w wide.
func (m *Model) View(w int) string {
	st := m.c.Styles
	bw := min(max(w-10, 30), 80)
	var b strings.Builder
	b.WriteString(st.Warning.Render(textsafe.Line(m.req.Title)) + "\n\n")
	b.WriteString(textsafe.Block(m.req.Prompt) + "\n\n")
	if m.req.Typed == "" {
		b.WriteString(st.Bold.Render("Proceed? [y/N]") + st.Faint.Render("  (enter or esc cancels)"))
	} else {
		b.WriteString("This discards data. Type " + st.Bold.Render(textsafe.Line(m.req.Typed)) + " to confirm:\n")
		b.WriteString("> " + m.input.View() + "\n")
		if m.wrong {
			b.WriteString(st.Error.Render("that is not the name") + "  ")
		}
		b.WriteString(st.Faint.Render("enter confirms · esc cancels"))
	}
	return st.Box.Width(bw).Render(b.String())
}
