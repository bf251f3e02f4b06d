package common

import (
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"eventscope/tui/styles"
)

func plainStyles() *styles.Styles {
	r := lipgloss.NewRenderer(nil)
	r.SetColorProfile(termenv.Ascii)
	return styles.New(r)
}
