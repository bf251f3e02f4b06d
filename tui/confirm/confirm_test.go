package confirm

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"eventscope/tui/common"
	"eventscope/tui/tuitest"
)

type ran struct{}

func action() tea.Cmd { return func() tea.Msg { return ran{} } }

func TestYesNoDefaultsToNo(t *testing.T) {
	t.Parallel()
	for key, runs := range map[string]bool{"y": true, "Y": true, "n": false, "enter": false, "esc": false} {
		m := New(tuitest.Common(80, 20), common.ConfirmMsg{Title: "T", Prompt: "P?", Action: action()})
		cmd, done := m.Update(tuitest.Key(key))
		if !done {
			t.Fatalf("%s did not close", key)
		}
		_, isRan := cmd().(ran)
		if isRan != runs {
			t.Fatalf("%s ran=%v", key, isRan)
		}
	}
	m := New(tuitest.Common(80, 20), common.ConfirmMsg{Title: "T", Prompt: "P?", Action: action()})
	if _, done := m.Update(tuitest.Key("x")); done {
		t.Fatal("other keys keep it open")
	}
	if v := tuitest.Plain(m.View(80)); !strings.Contains(v, "Proceed? [y/N]") {
		t.Fatal(v)
	}
}

func TestTypedName(t *testing.T) {
	t.Parallel()
	m := New(tuitest.Common(80, 20), common.ConfirmMsg{Title: "Skip", Prompt: "Skip it?", Typed: "billing", Action: action()})
	if _, done := m.Update(tuitest.Key("y")); done {
		t.Fatal("y is not enough when the name must be typed")
	}
	for _, r := range "illin" {
		m.Update(tuitest.Key(string(r)))
	}
	if cmd, done := m.Update(tuitest.Key("enter")); done || cmd != nil {
		t.Fatal("a wrong name confirmed")
	}
	if !strings.Contains(tuitest.Plain(m.View(80)), "that is not the name") {
		t.Fatal(tuitest.Plain(m.View(80)))
	}
	m.Update(tuitest.Key("g"))
	m.Update(tuitest.Key("backspace"))
	m.Update(tuitest.Key("backspace"))
	m.input.SetValue("billing")
	cmd, done := m.Update(tuitest.Key("enter"))
	if !done {
		t.Fatal("the right name did not confirm")
	}
	if _, ok := cmd().(ran); !ok {
		t.Fatal("the action did not run")
	}
}
