package common

import (
	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"

	"eventscope/tui/styles"
)

// NewInput makes a focused text input with a steady cursor: a blinking
// cursor would re-render the screen twice a second for nothing (and make
// golden tests drift).
func NewInput(st *styles.Styles, placeholder string) textinput.Model {
	ti := textinput.New()
	ti.Prompt = ""
	ti.Placeholder = placeholder
	ti.PlaceholderStyle = st.Placeholder
	ti.TextStyle = st.Input
	ti.CharLimit = 256
	ti.Cursor.SetMode(cursor.CursorStatic)
	ti.Focus()
	return ti
}
