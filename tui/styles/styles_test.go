package styles

import (
	"bytes"
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// TestNoColorKeepsEmphasis (issue 14, item 9): NO_COLOR drops every colour
// but keeps bold, reverse and underline: the active tab, the selected row
// and the fuzzy-match highlights stay visible.
func TestNoColorKeepsEmphasis(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	r := lipgloss.NewRenderer(&bytes.Buffer{})
	r.SetColorProfile(termenv.EnvColorProfile()) // what a terminal with NO_COLOR gets: Ascii
	s := NoColor(r)
	for name, c := range map[string]struct {
		style lipgloss.Style
		want  []string // SGR parameters that must be there
	}{
		"active tab":     {s.TabActive, []string{"1", "4"}},
		"selected row":   {s.Selected, []string{"1", "7"}},
		"fuzzy match":    {s.Match, []string{"1", "4"}},
		"match selected": {s.MatchSelected, []string{"1", "4", "7"}},
		"held back":      {s.HeldBack, []string{"1", "7"}},
		"error":          {s.Error, []string{"1"}},
	} {
		out := c.style.Render("x")
		if !strings.Contains(out, "\x1b[") {
			t.Errorf("%s: %q has no attributes", name, out)
			continue
		}
		var params []string // of every SGR sequence in the output
		for _, part := range strings.Split(out, "\x1b[")[1:] {
			if i := strings.IndexByte(part, 'm'); i >= 0 {
				params = append(params, strings.Split(part[:i], ";")...)
			}
		}
		for _, w := range c.want {
			found := false
			for _, p := range params {
				found = found || p == w
			}
			if !found {
				t.Errorf("%s: %q lacks SGR %s", name, out, w)
			}
		}
		for _, p := range params {
			if p == "38" || p == "48" || (len(p) == 2 && (p[0] == '3' || p[0] == '4') && p != "4") || (len(p) == 2 && (p[0] == '9')) {
				t.Errorf("%s: %q carries a colour (SGR %s)", name, out, p)
			}
		}
	}
	if out := s.Faint.Render("x"); out != "x" {
		t.Errorf("a colour-only style renders %q under NO_COLOR, want plain text", out)
	}
}
