// Package styles holds the console's lipgloss styles. Every colour is a
// lipgloss.AdaptiveColor so the console reads on light and dark terminals;
// with NO_COLOR (or an ASCII colour profile) lipgloss drops colours and
// attributes, so nothing the console shows relies on colour alone: the
// selected row has a marker, diffs have +/~/- signs, states are words.
package styles

import "github.com/charmbracelet/lipgloss"

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
func New(r *lipgloss.Renderer) *Styles {
	n := r.NewStyle
	s := &Styles{Renderer: r}
	s.Title = n().Bold(true).Foreground(accent)
	s.DB = n().Foreground(faint)
	s.HeaderInfo = n().Foreground(faint)
	s.ReadOnly = n().Bold(true).Foreground(onColor).Background(yellow).Padding(0, 1)
	s.HeldBack = n().Bold(true).Foreground(onColor).Background(red).Padding(0, 1)
	s.TabActive = n().Bold(true).Foreground(accent).Underline(true)
	s.TabInactive = n().Foreground(faint)
	s.TabSep = n().Foreground(subtle)
	s.Crumb = n().Foreground(faint)
	s.CrumbLast = n().Bold(true)
	s.CrumbSep = n().Foreground(subtle)
	s.Banner = n().Bold(true).Foreground(onColor).Background(red)
	s.StatusInfo = n().Foreground(faint)
	s.StatusOK = n().Foreground(green)
	s.StatusErr = n().Bold(true).Foreground(red)
	s.Footer = n().Foreground(faint)

	s.TableHeader = n().Bold(true).Foreground(faint)
	s.Row = n()
	s.Selected = n().Bold(true).Background(selBg)
	s.Marker = n().Bold(true).Foreground(accent)
	s.Match = n().Bold(true).Foreground(magenta).Underline(true)
	s.MatchSelected = n().Bold(true).Foreground(magenta).Underline(true).Background(selBg)
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
