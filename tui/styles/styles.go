// Package styles holds the console's lipgloss styles. Every colour is a
// lipgloss.AdaptiveColor so the console reads on light and dark terminals.
// With NO_COLOR the console uses NoColor: no colour at all, but bold,
// reverse and underline stay, so the active tab, the selected row and the
// fuzzy-match highlights remain visible (NO_COLOR asks for no colour, not
// for no emphasis; termenv alone would drop both). Nothing the console
// shows relies on colour alone: the selected row has a marker, diffs have
// +/~/- signs, states are words.
package styles

import (
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// Palette colours (light, dark).
var (
	accent  = lipgloss.AdaptiveColor{Light: "#5A3FC0", Dark: "#A78BFA"}
	faint   = lipgloss.AdaptiveColor{Light: "#6B6B6B", Dark: "#8A8A8A"}
	subtle  = lipgloss.AdaptiveColor{Light: "#D0D0D0", Dark: "#3A3A3A"}
	green   = lipgloss.AdaptiveColor{Light: "#1A7F37", Dark: "#3FB950"}
	yellow  = lipgloss.AdaptiveColor{Light: "#9A6700", Dark: "#D29922"}
	red     = lipgloss.AdaptiveColor{Light: "#CF222E", Dark: "#F85149"}
	blue    = lipgloss.AdaptiveColor{Light: "#0969DA", Dark: "#58A6FF"}
	magenta = lipgloss.AdaptiveColor{Light: "#8250DF", Dark: "#D2A8FF"}
	cyan    = lipgloss.AdaptiveColor{Light: "#1B7C83", Dark: "#39C5CF"}
	onColor = lipgloss.AdaptiveColor{Light: "#FFFFFF", Dark: "#0D1117"}
	selBg   = lipgloss.AdaptiveColor{Light: "#E8E0FF", Dark: "#2D2640"}
)

// Styles are the console's styles. Build them with New; treat the result as
// read-only.
type Styles struct {
	Renderer *lipgloss.Renderer

	Title, DB, HeaderInfo, ReadOnly, HeldBack lipgloss.Style
	TabActive, TabInactive, TabSep            lipgloss.Style
	Crumb, CrumbLast, CrumbSep                lipgloss.Style
	Banner                                    lipgloss.Style
	StatusInfo, StatusOK, StatusErr           lipgloss.Style
	Footer                                    lipgloss.Style

	TableHeader, Row, Selected, Marker lipgloss.Style
	Match, MatchSelected               lipgloss.Style
	Faint, Bold, Label, Value, Section lipgloss.Style
	Warning, Error, OK, Accent         lipgloss.Style
	Box                                lipgloss.Style
	Input, Placeholder                 lipgloss.Style

	JSONKey, JSONString, JSONNumber, JSONBool, JSONNull, JSONPunct lipgloss.Style
	Added, Changed, Removed                                        lipgloss.Style

	// Subscription states.
	StateLive, StateCatchingUp, StatePaused, StateFailing, StateStopped, StateNoHolder lipgloss.Style

	Spark lipgloss.Style

	HelpKey, HelpDesc, HelpSep lipgloss.Style
}

// New builds the styles on a renderer (lipgloss.DefaultRenderer() in the
// program; a renderer with an ASCII profile in tests).
func New(r *lipgloss.Renderer) *Styles { return build(r, false) }

// NoColor builds the styles for NO_COLOR on a terminal: the renderer is set
// to a profile that writes attributes (termenv reads NO_COLOR as "no escape
// sequences at all"), and the styles use none of the colours; what colour
// alone marked (a badge, the selected row's background) is reversed.
func NoColor(r *lipgloss.Renderer) *Styles {
	r.SetColorProfile(termenv.ANSI)
	return build(r, true)
}

func build(r *lipgloss.Renderer, mono bool) *Styles {
	var accent, faint, subtle, green, yellow, red, blue, magenta, cyan, onColor, selBg lipgloss.TerminalColor = accent, faint, subtle, green, yellow, red, blue, magenta, cyan, onColor, selBg
	plain := func(st lipgloss.Style) lipgloss.Style { return st }
	badge := plain // a style whose background carries it
	if mono {
		none := lipgloss.NoColor{}
		accent, faint, subtle, green, yellow, red, blue, magenta, cyan, onColor, selBg =
			none, none, none, none, none, none, none, none, none, none, none
		badge = func(st lipgloss.Style) lipgloss.Style { return st.Reverse(true) }
	}
	n := r.NewStyle
	s := &Styles{Renderer: r}
	s.Title = n().Bold(true).Foreground(accent)
	s.DB = n().Foreground(faint)
	s.HeaderInfo = n().Foreground(faint)
	s.ReadOnly = badge(n().Bold(true).Foreground(onColor).Background(yellow).Padding(0, 1))
	s.HeldBack = badge(n().Bold(true).Foreground(onColor).Background(red).Padding(0, 1))
	s.TabActive = n().Bold(true).Foreground(accent).Underline(true)
	s.TabInactive = n().Foreground(faint)
	s.TabSep = n().Foreground(subtle)
	s.Crumb = n().Foreground(faint)
	s.CrumbLast = n().Bold(true)
	s.CrumbSep = n().Foreground(subtle)
	s.Banner = badge(n().Bold(true).Foreground(onColor).Background(red))
	s.StatusInfo = n().Foreground(faint)
	s.StatusOK = n().Foreground(green)
	s.StatusErr = n().Bold(true).Foreground(red)
	s.Footer = n().Foreground(faint)

	s.TableHeader = n().Bold(true).Foreground(faint)
	s.Row = n()
	s.Selected = badge(n().Bold(true).Background(selBg))
	s.Marker = n().Bold(true).Foreground(accent)
	s.Match = n().Bold(true).Foreground(magenta).Underline(true)
	s.MatchSelected = badge(n().Bold(true).Foreground(magenta).Underline(true).Background(selBg))
	s.Faint = n().Foreground(faint)
	s.Bold = n().Bold(true)
	s.Label = n().Foreground(faint)
	s.Value = n()
	s.Section = n().Bold(true).Foreground(accent)
	s.Warning = n().Bold(true).Foreground(yellow)
	s.Error = n().Bold(true).Foreground(red)
	s.OK = n().Foreground(green)
	s.Accent = n().Foreground(accent)
	s.Box = n().Border(lipgloss.RoundedBorder()).BorderForeground(accent).Padding(0, 1)
	s.Input = n().Bold(true)
	s.Placeholder = n().Foreground(faint)

	s.JSONKey = n().Foreground(blue)
	s.JSONString = n().Foreground(green)
	s.JSONNumber = n().Foreground(cyan)
	s.JSONBool = n().Foreground(magenta)
	s.JSONNull = n().Foreground(faint)
	s.JSONPunct = n().Foreground(faint)
	s.Added = n().Foreground(green).Bold(true)
	s.Changed = n().Foreground(yellow).Bold(true)
	s.Removed = n().Foreground(red).Strikethrough(true)

	s.StateLive = n().Foreground(green)
	s.StateCatchingUp = n().Foreground(yellow)
	s.StatePaused = n().Foreground(blue)
	s.StateFailing = n().Bold(true).Foreground(red)
	s.StateStopped = n().Foreground(faint)
	s.StateNoHolder = n().Foreground(magenta)
	s.Spark = n().Foreground(accent)

	s.HelpKey = n().Foreground(accent)
	s.HelpDesc = n().Foreground(faint)
	s.HelpSep = n().Foreground(subtle)
	return s
}
