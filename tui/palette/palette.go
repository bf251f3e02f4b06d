// Package palette is the ":" command palette with fuzzy completion of the
// commands, of stream ids (narrowed on the server) and of subscription
// names.
package palette

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/sahilm/fuzzy"

	"eventscope/store"
	"eventscope/tui/common"
)

// Source completes stream ids.
type Source interface {
	ListStreams(ctx context.Context, o store.ListStreamsOptions) (store.StreamList, error)
}

type suggestMsg struct {
	id, seq int64
	prefix  string
	ids     []string
}

type debounceMsg struct{ id, seq int64 }

var errNoSuggestion = errors.New("no suggestion")

// Model is the open palette.
type Model struct {
	c      common.Common
	ctx    context.Context
	src    Source
	id     int64
	seq    int64
	input  textinput.Model
	cmds   []Command
	subs   []string
	sugg   []suggestion
	cursor int
	err    string
	// hist is the command history; hpos the entry shown (-1: none, the
	// line is the user's own).
	hist *History
	hpos int
}

type suggestion struct {
	value string // the full command line
	label string
	hint  string
	match []int
}

// New opens the palette over cmds; subs are the known subscription names.
func New(ctx context.Context, c common.Common, src Source, cmds []Command, subs []string) *Model {
	m := &Model{c: c, ctx: ctx, src: src, id: common.NewID(), cmds: cmds, subs: subs, hpos: -1}
	m.input = common.NewInput(c.Styles, "command (tab completes): "+Names(cmds))
	m.suggest(nil)
	return m
}

// WithHistory gives the palette the command history: ↑ on an empty line
// (or while going through the history) recalls older commands, ↓ newer
// ones; every command that runs is added.
func (m *Model) WithHistory(h *History) *Model {
	m.hist = h
	return m
}

// recall shows the history entry at i (-1: an empty line again).
func (m *Model) recall(i int) tea.Cmd {
	m.hpos = i
	v := ""
	if i >= 0 {
		v = m.hist.at(i)
	}
	m.input.SetValue(v)
	m.input.CursorEnd()
	m.err = ""
	m.cursor = 0
	return m.changed()
}

type strs []string

func (s strs) String(i int) string { return s[i] }
func (s strs) Len() int            { return len(s) }

// suggest recomputes the suggestions; ids are stream ids from the server.
func (m *Model) suggest(ids []string) {
	v := m.input.Value()
	name, arg, hasArg := strings.Cut(strings.TrimLeft(v, " "), " ")
	m.sugg = m.sugg[:0]
	if !hasArg {
		names := make([]string, len(m.cmds))
		for i, c := range m.cmds {
			names[i] = c.Name
		}
		if name == "" {
			for _, c := range m.cmds {
				m.sugg = append(m.sugg, suggestion{value: c.Name + argSpace(c.Arg), label: c.Name + " " + c.Arg, hint: c.Desc})
			}
		} else {
			for _, fm := range fuzzy.FindFrom(name, strs(names)) {
				c := m.cmds[fm.Index]
				m.sugg = append(m.sugg, suggestion{value: c.Name + argSpace(c.Arg), label: c.Name + " " + c.Arg, hint: c.Desc, match: fm.MatchedIndexes})
			}
		}
	} else {
		c, _ := find(m.cmds, name)
		switch c.Complete {
		case CompleteStreams:
			// The "@VERSION" typed after the id stays on the suggestion.
			suffix := ""
			if at := strings.IndexByte(arg, '@'); at >= 0 {
				suffix = arg[at:]
			}
			for _, id := range rankIDs(arg, ids) {
				m.sugg = append(m.sugg, suggestion{value: name + " " + id.Str + suffix, label: name + " " + id.Str + suffix, match: shift(id.MatchedIndexes, len(name)+1)})
			}
		case CompleteSubs:
			if arg == "" {
				for _, s := range m.subs {
					m.sugg = append(m.sugg, suggestion{value: name + " " + s, label: name + " " + s})
				}
				break
			}
			for _, fm := range fuzzy.FindFrom(arg, strs(m.subs)) {
				m.sugg = append(m.sugg, suggestion{value: name + " " + fm.Str, label: name + " " + fm.Str, match: shift(fm.MatchedIndexes, len(name)+1)})
			}
		}
	}
	if m.cursor >= len(m.sugg) {
		m.cursor = max(len(m.sugg)-1, 0)
	}
}

func rankIDs(q string, ids []string) fuzzy.Matches {
	if q == "" {
		out := make(fuzzy.Matches, len(ids))
		for i, id := range ids {
			out[i] = fuzzy.Match{Str: id, Index: i}
		}
		return out
	}
	at := strings.IndexByte(q, '@')
	if at >= 0 {
		q = q[:at]
	}
	return fuzzy.FindFrom(q, strs(ids))
}

func shift(idx []int, by int) []int {
	out := make([]int, len(idx))
	for i, x := range idx {
		out[i] = x + by
	}
	return out
}

func argSpace(arg string) string {
	if arg == "" {
		return ""
	}
	return " "
}

// Update handles a key or a completion result. done closes the palette;
// cmd performs the command.
func (m *Model) Update(msg tea.Msg) (cmd tea.Cmd, done bool) {
	switch msg := msg.(type) {
	case suggestMsg:
		if msg.id == m.id && msg.seq == m.seq {
			m.suggest(msg.ids)
		}
		return nil, false
	case debounceMsg:
		if msg.id == m.id && msg.seq == m.seq {
			return m.complete(), false
		}
		return nil, false
	case tea.KeyMsg:
		switch msg.Type {
		case tea.KeyEsc:
			return nil, true
		case tea.KeyUp:
			if (m.input.Value() == "" || m.hpos >= 0) && m.hpos+1 < m.hist.Len() {
				return m.recall(m.hpos + 1), false
			}
			m.cursor = max(m.cursor-1, 0)
			return nil, false
		case tea.KeyDown:
			if m.hpos >= 0 {
				return m.recall(m.hpos - 1), false
			}
			m.cursor = min(m.cursor+1, max(len(m.sugg)-1, 0))
			return nil, false
		case tea.KeyTab:
			if m.cursor < len(m.sugg) {
				m.input.SetValue(m.sugg[m.cursor].value)
				m.input.CursorEnd()
				return m.changed(), false
			}
			return nil, false
		case tea.KeyEnter:
			// The highlighted suggestion wins (it is what the marker
			// shows); else the line as typed.
			var (
				out  tea.Msg
				err  error = errNoSuggestion
				line string
			)
			if m.cursor < len(m.sugg) && m.hpos < 0 {
				line = m.sugg[m.cursor].value
				out, err = Parse(m.cmds, line, m.c.Now())
			}
			if err != nil {
				line = m.input.Value()
				out, err = Parse(m.cmds, line, m.c.Now())
			}
			if err != nil {
				m.err = err.Error()
				return nil, false
			}
			m.hist.Add(strings.TrimSpace(line))
			return func() tea.Msg { return out }, true
		}
		before := m.input.Value()
		var c tea.Cmd
		m.input, c = m.input.Update(msg)
		if m.input.Value() != before {
			m.err = ""
			m.cursor = 0
			m.hpos = -1 // edited: the line is the user's now
			return tea.Batch(c, m.changed()), false
		}
		return c, false
	}
	return nil, false
}

// changed re-ranks at once and, for a stream argument, asks the server
// after a short debounce.
func (m *Model) changed() tea.Cmd {
	m.seq++
	m.suggest(nil)
	name, _, hasArg := strings.Cut(strings.TrimLeft(m.input.Value(), " "), " ")
	if c, ok := find(m.cmds, name); ok && c.Complete == CompleteStreams && hasArg && m.src != nil {
		id, seq := m.id, m.seq
		return m.c.Tick(60*time.Millisecond, func(time.Time) tea.Msg { return debounceMsg{id: id, seq: seq} })
	}
	return nil
}

func (m *Model) complete() tea.Cmd {
	_, arg, _ := strings.Cut(strings.TrimLeft(m.input.Value(), " "), " ")
	arg = strings.TrimSpace(arg)
	if at := strings.IndexByte(arg, '@'); at >= 0 {
		arg = arg[:at]
	}
	id, seq, src, ctx := m.id, m.seq, m.src, m.ctx
	return func() tea.Msg {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var ids []string
		seen := map[string]bool{}
		if arg != "" {
			if l, err := src.ListStreams(cctx, store.ListStreamsOptions{Prefix: arg, Limit: 20}); err == nil {
				for _, s := range l.Streams {
					seen[s.StreamID] = true
					ids = append(ids, s.StreamID)
				}
			}
		}
		if l, err := src.ListStreams(cctx, store.ListStreamsOptions{Match: arg, Limit: 200}); err == nil {
			for _, s := range l.Streams {
				if !seen[s.StreamID] {
					ids = append(ids, s.StreamID)
				}
			}
		}
		return suggestMsg{id: id, seq: seq, prefix: arg, ids: ids}
	}
}

// View renders the input and up to 8 suggestions.
func (m *Model) View(w int) string {
	st := m.c.Styles
	var b strings.Builder
	start := 0
	if m.cursor >= 8 {
		start = m.cursor - 7
	}
	for i := start; i < len(m.sugg) && i < start+8; i++ {
		s := m.sugg[i]
		set := map[int]bool{}
		for _, x := range s.match {
			set[x] = true
		}
		var lb strings.Builder
		for j, r := range s.label {
			if set[j] {
				lb.WriteString(st.Match.Render(string(r)))
			} else {
				lb.WriteRune(r)
			}
		}
		line := lb.String()
		if s.hint != "" {
			line += "  " + st.Faint.Render(s.hint)
		}
		if i == m.cursor {
			b.WriteString(st.Marker.Render("▶ ") + common.Truncate(line, w-2) + "\n")
		} else {
			b.WriteString("  " + common.Truncate(line, w-2) + "\n")
		}
	}
	if m.err != "" {
		b.WriteString(st.Error.Render(common.Truncate(m.err, w)) + "\n")
	}
	b.WriteString(st.Accent.Render(":") + m.input.View())
	return b.String()
}

// PageID addresses the results to the page that asked (common.Addressed).
func (m suggestMsg) PageID() int64  { return m.id }
func (m debounceMsg) PageID() int64 { return m.id }

// ID is the palette's address.
func (m *Model) ID() int64 { return m.id }
