// Package resetmenu is the reset dialog of a subscription: choose start,
// end, a checkpoint or a time; type the checkpoint or time; then confirm.
// Moving to the start replays: it says how many events are delivered again
// and asks y/N, or for the name from action.AtScale events on; moving
// forward may skip events, so the other targets ask for the subscription's
// name to be typed.
package resetmenu

import (
	"fmt"

	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"eventscope/internal/textsafe"
	"eventscope/store"
	"eventscope/subscriptions"
	"eventscope/tui/action"
	"eventscope/tui/common"
	"eventscope/tui/picker"
)

// Model is an open reset dialog.
type Model struct {
	c     common.Common
	act   *action.Actions
	name  string
	menu  *picker.Model
	kind  subscriptions.ResetKind
	input *textinput.Model
	err   string
}

// New opens the dialog for subscription name.
func New(c common.Common, act *action.Actions, name string) *Model {
	p := picker.New(c, "reset "+name+" to: ", "")
	p.SetItems([]picker.Item{
		{Value: "start", Label: "start", Hint: "replay every event from the beginning of the log"},
		{Value: "end", Label: "end", Hint: "skip to the head: only new events"},
		{Value: "checkpoint", Label: "checkpoint", Hint: "a checkpoint TX:POS (e.g. 7731:120455)"},
		{Value: "time", Label: "time", Hint: "the first event recorded at or after a time"},
	})
	return &Model{c: c, act: act, name: name, menu: p}
}

// Update handles a key; done closes the dialog, cmd may be a ConfirmMsg.
func (m *Model) Update(msg tea.Msg) (cmd tea.Cmd, done bool) {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil, false
	}
	if km.Type == tea.KeyEsc {
		return nil, true
	}
	if m.input == nil {
		if km.Type == tea.KeyEnter {
			it, ok := m.menu.Selected()
			if !ok {
				return nil, false
			}
			switch it.Value {
			case "start":
				return m.act.ConfirmResetStart(m.name), true
			case "end":
				return m.confirm(action.ResetTarget{Kind: subscriptions.ResetEnd}), true
			case "checkpoint":
				m.kind = subscriptions.ResetCheckpoint
				in := common.NewInput(m.c.Styles, "TX:POS")
				m.input = &in
			case "time":
				m.kind = subscriptions.ResetTime
				in := common.NewInput(m.c.Styles, "2024-05-01 10:00 or 15m ago")
				m.input = &in
			}
			return nil, false
		}
		cmd, _ := m.menu.Update(msg)
		return cmd, false
	}
	if km.Type == tea.KeyEnter {
		v := m.input.Value()
		t := action.ResetTarget{Kind: m.kind}
		if m.kind == subscriptions.ResetCheckpoint {
			cp, err := store.ParseCheckpoint(v)
			if err != nil {
				m.err = err.Error()
				return nil, false
			}
			t.Checkpoint = cp
		} else {
			at, err := store.ParseTime(v, m.c.Now())
			if err != nil {
				m.err = err.Error()
				return nil, false
			}
			t.Time = at
		}
		return m.confirm(t), true
	}
	m.err = ""
	in, cmd := m.input.Update(msg)
	m.input = &in
	return cmd, false
}

func (m *Model) confirm(t action.ResetTarget) tea.Cmd {
	run := m.act.Reset(m.name, t)
	return common.Confirm("Reset "+m.name, fmt.Sprintf("Move %s to %s? Events between its checkpoint and there are skipped (or delivered again).", m.name, t.Describe()), m.name, run)
}

// View renders the dialog.
func (m *Model) View(w int) string {
	st := m.c.Styles
	bw := min(max(w-10, 30), 90)
	var body string
	if m.input == nil {
		body = m.menu.View(bw - 4)
	} else {
		body = st.Accent.Render("reset "+textsafe.Line(m.name)+" to "+m.kind.String()+": ") + m.input.View()
		if m.err != "" {
			body += "\n" + st.Error.Render(textsafe.Line(m.err))
		}
	}
	return st.Box.Width(bw).Render(st.Warning.Render("Reset "+textsafe.Line(m.name)) + "\n\n" + body + "\n\n" + st.Faint.Render("enter chooses · esc cancels"))
}
