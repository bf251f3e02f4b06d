// Package picker is a small fuzzy chooser: a text input over a list of
// items ranked with sahilm/fuzzy. The command palette, the category filter
// and the reset menu use it.
package picker

import (
	"strings"

	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/sahilm/fuzzy"

	"eventscope/internal/textsafe"
	"eventscope/tui/common"
)

// Item is a choice: Value is what is returned, Label what is matched and
// shown, Hint a faint description.
type Item struct {
	Value string
	Label string
	Hint  string
}

// Model is the picker.
type Model struct {
	c       common.Common
	Prompt  string
	input   textinput.Model
	items   []Item
	matches []match
	cursor  int
	MaxRows int
}

type match struct {
	item Item
	idx  []int
}

// New makes a picker with a prompt.
func New(c common.Common, prompt, placeholder string) *Model {
	ti := common.NewInput(c.Styles, placeholder)
	p := &Model{c: c, Prompt: prompt, input: ti, MaxRows: 8}
	return p
}

// SetItems replaces the choices and re-ranks them.
func (p *Model) SetItems(items []Item) { p.items = items; p.rank() }

// SetValue sets the input text.
func (p *Model) SetValue(s string) { p.input.SetValue(s); p.input.CursorEnd(); p.rank() }

// Value is the input text.
func (p *Model) Value() string { return p.input.Value() }

// Selected is the highlighted item, if any.
func (p *Model) Selected() (Item, bool) {
	if p.cursor < 0 || p.cursor >= len(p.matches) {
		return Item{}, false
	}
	return p.matches[p.cursor].item, true
}

// Len is the number of matching items.
func (p *Model) Len() int { return len(p.matches) }

type labels []Item

func (l labels) String(i int) string { return l[i].Label }
func (l labels) Len() int            { return len(l) }

func (p *Model) rank() {
	q := strings.TrimSpace(p.input.Value())
	p.matches = p.matches[:0]
	if q == "" {
		for _, it := range p.items {
			p.matches = append(p.matches, match{item: it})
		}
	} else {
		for _, fm := range fuzzy.FindFrom(q, labels(p.items)) {
			p.matches = append(p.matches, match{item: p.items[fm.Index], idx: fm.MatchedIndexes})
		}
	}
	if p.cursor >= len(p.matches) {
		p.cursor = len(p.matches) - 1
	}
	if p.cursor < 0 {
		p.cursor = 0
	}
}

// Update handles typing and moving. It reports whether the text changed.
func (p *Model) Update(msg tea.Msg) (tea.Cmd, bool) {
	if km, ok := msg.(tea.KeyMsg); ok {
		switch km.String() {
		case "up", "ctrl+p", "ctrl+k":
			if p.cursor > 0 {
				p.cursor--
			}
			return nil, false
		case "down", "ctrl+n", "ctrl+j":
			if p.cursor < len(p.matches)-1 {
				p.cursor++
			}
			return nil, false
		}
	}
	before := p.input.Value()
	var cmd tea.Cmd
	p.input, cmd = p.input.Update(msg)
	changed := p.input.Value() != before
	if changed {
		p.cursor = 0
		p.rank()
	}
	return cmd, changed
}

// View renders the input line and up to MaxRows choices under it.
func (p *Model) View(w int) string {
	st := p.c.Styles
	var b strings.Builder
	b.WriteString(st.Accent.Render(p.Prompt) + p.input.View())
	start := 0
	if p.cursor >= p.MaxRows {
		start = p.cursor - p.MaxRows + 1
	}
	for i := start; i < len(p.matches) && i < start+p.MaxRows; i++ {
		mt := p.matches[i]
		b.WriteByte('\n')
		label := mt.item.Label
		var lb strings.Builder
		set := map[int]bool{}
		for _, x := range mt.idx {
			set[x] = true
		}
		for j, r := range label {
			// textsafe.Line per rune keeps the match indexes (runes of
			// the label) and escapes what is unsafe.
			if set[j] {
				lb.WriteString(st.Match.Render(textsafe.Line(string(r))))
			} else {
				lb.WriteString(textsafe.Line(string(r)))
			}
		}
		line := lb.String()
		if mt.item.Hint != "" {
			line += "  " + st.Faint.Render(textsafe.Line(mt.item.Hint))
		}
		if i == p.cursor {
			b.WriteString(st.Marker.Render("▶ ") + common.Truncate(line, w-2))
		} else {
			b.WriteString("  " + common.Truncate(line, w-2))
		}
	}
	if len(p.matches) == 0 && len(p.items) > 0 {
		b.WriteString("\n  " + st.Faint.Render("no match"))
	}
	return b.String()
}
