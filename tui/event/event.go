// Package event shows one event: its identity (stream, version, event id,
// checkpoint, time), and its data and metadata as pretty, coloured JSON.
// The causation id in the metadata jumps to the event that caused this one;
// the correlation id lists every event of the same conversation, across
// streams; S opens the event's stream. Personal fields are named (and shown
// as erased after their subject was forgotten); F forgets the subject
// (admin, confirmed by typing it).
package event

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"eventscope/internal/textsafe"
	"eventscope/store"
	"eventscope/subscriptions"
	"eventscope/tui/action"
	"eventscope/tui/common"
	"eventscope/tui/eventlist"
	"eventscope/tui/table"
)

// Source is what the view reads: the neighbouring events of the stream,
// and where the event stands for each subscription whose filter takes it.
type Source interface {
	ReadStream(ctx context.Context, stream string, o store.ReadStreamOptions) ([]store.Event, error)
	Deliveries(ctx context.Context, e store.Event) ([]common.Delivery, error)
}

// deliveriesMsg is the answer of Deliveries for the event shown.
type deliveriesMsg struct {
	id, seq int64
	list    []common.Delivery
	err     error
}

// PageID addresses the answer to the page that asked (common.Addressed).
func (m deliveriesMsg) PageID() int64 { return m.id }

// Metadata keys that hold correlation and causation ids, in the spellings
// in common use.
var (
	CorrelationKeys = []string{"correlation_id", "correlationId", "$correlationId", "correlation"}
	CausationKeys   = []string{"causation_id", "causationId", "$causationId", "causation"}
)

type neighbourMsg struct {
	id, seq int64
	ev      store.Event
	found   bool
	err     error
}

// Model is the event view.
type Model struct {
	c      common.Common
	ctx    context.Context
	src    Source
	id     int64
	seq    int64
	ev     store.Event
	lines  []string
	offset int
	width  int

	correlation, causation string

	// deliveries: where the event stands for each subscription (nil until
	// loaded), reloaded with monitor snapshots while any is not final.
	deliv     []common.Delivery
	delivErr  error
	delivSeq  int64
	delivBusy bool
	personal  *store.Personal
	act       *action.Actions

	// refs: the values of the data that name a stream (enter follows the
	// selected one).
	refs   []dataRef
	refSel int

	// wrap (w) folds long lines; xoff (←/→) scrolls them sideways.
	wrap bool
	xoff int
}

// display is the lines as shown (folded when wrapping, shifted when
// scrolled sideways), and where each of m.lines starts among them.
func (m *Model) display() ([]string, []int) {
	w := max(m.c.Width, 1)
	start := make([]int, len(m.lines))
	out := make([]string, 0, len(m.lines))
	for i, l := range m.lines {
		start[i] = len(out)
		switch {
		case m.wrap:
			out = append(out, strings.Split(ansi.Hardwrap(l, w, true), "\n")...)
		case m.xoff > 0:
			lw := ansi.StringWidth(l)
			if lw <= m.xoff {
				out = append(out, "")
				continue
			}
			out = append(out, "…"+ansi.Cut(l, m.xoff+1, lw))
		default:
			out = append(out, l)
		}
	}
	return out, start
}

// WithActions lets the view forget the event's subject (F).
func (m *Model) WithActions(act *action.Actions) *Model {
	m.act = act
	return m
}

// New makes the view of e.
func New(ctx context.Context, c common.Common, src Source, e store.Event) *Model {
	m := &Model{c: c, ctx: ctx, src: src, id: common.NewID()}
	m.set(e)
	return m
}

func (m *Model) set(e store.Event) {
	m.ev = e
	m.offset = 0
	m.deliv, m.delivErr = nil, nil
	m.correlation = lookup(e.Metadata, CorrelationKeys)
	m.causation = lookup(e.Metadata, CausationKeys)
	m.personal, _ = e.Personal()
	m.refSel = 0
	m.render()
}

// lookup finds the first key of keys in a JSON object holding a string.
func lookup(meta json.RawMessage, keys []string) string {
	var obj map[string]any
	if json.Unmarshal(meta, &obj) != nil {
		return ""
	}
	for _, k := range keys {
		if s, ok := obj[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// Title is the breadcrumb.
func (m *Model) Title() string {
	return fmt.Sprintf("%s@%d %s", m.ev.StreamID, m.ev.Version, m.ev.Type)
}

// Event is the event shown.
func (m *Model) Event() store.Event { return m.ev }

// SetSize sets the area.
func (m *Model) SetSize(w, h int) {
	m.c.SetSize(w, h)
	if w != m.width {
		m.render()
	}
}

// Init loads where the event stands for each subscription.
func (m *Model) Init() tea.Cmd { return m.loadDeliveries() }

func (m *Model) loadDeliveries() tea.Cmd {
	m.delivSeq++
	m.delivBusy = true
	id, seq, src, ctx, e := m.id, m.delivSeq, m.src, m.ctx, m.ev
	return func() tea.Msg {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		l, err := src.Deliveries(cctx, e)
		return deliveriesMsg{id: id, seq: seq, list: l, err: err}
	}
}

// unsettled: some subscription has not handled or parked the event yet.
func (m *Model) unsettled() bool {
	for _, d := range m.deliv {
		if d.State == subscriptions.DeliveryPending || d.State == subscriptions.DeliveryRetrying {
			return true
		}
	}
	return false
}

// deliveryLines is the Subscriptions section.
func (m *Model) deliveryLines() []string {
	st := m.c.Styles
	out := []string{st.Section.Render("Subscriptions") + st.Faint.Render("  (those whose filter takes this event)")}
	switch {
	case m.delivErr != nil:
		return append(out, st.Faint.Render("  unavailable: "+firstLine(m.delivErr.Error())))
	case m.deliv == nil:
		return append(out, st.Faint.Render("  loading…"))
	case len(m.deliv) == 0:
		return append(out, st.Faint.Render("  none"))
	}
	w := 0
	for _, d := range m.deliv {
		w = max(w, len([]rune(textsafe.Line(d.Subscription))))
	}
	w = min(w, 32)
	for _, d := range m.deliv {
		name := "  " + common.PadRight(common.Truncate(textsafe.Line(d.Subscription), w), w) + "  "
		var text string
		switch d.State {
		case subscriptions.DeliveryHandled:
			text = st.OK.Render("✓ handled")
		case subscriptions.DeliveryPending:
			text = st.Warning.Render("… pending") + st.Faint.Render(" ("+string(d.SubState)+")")
		case subscriptions.DeliveryRetrying:
			text = st.Error.Render(fmt.Sprintf("↻ retrying, attempt %d of %d failed", d.Attempts, d.Of))
			if d.LastError != "" {
				text += st.Error.Render(": " + textsafe.Line(firstLine(d.LastError)))
			}
		case subscriptions.DeliveryParked:
			text = st.Error.Render(fmt.Sprintf("✗ parked after %d attempts (%s): %s", d.Attempts, common.Ago(m.c.Now(), d.ParkedAt), textsafe.Line(firstLine(d.LastError))))
		default:
			text = textsafe.Line(string(d.State))
		}
		out = append(out, common.Truncate(name+text, max(m.c.Width, 20)))
	}
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func (m *Model) render() {
	st := m.c.Styles
	e := m.ev
	m.width = m.c.Width
	kv := func(k, v string) string { return st.Label.Render(common.PadRight(k, 12)) + v }
	lines := []string{
		st.Bold.Render(fmt.Sprintf("%s @ v%d", textsafe.Line(e.StreamID), e.Version)) + "  " + st.Accent.Render(textsafe.Line(e.Type)),
		kv("event id", e.EventID.String()),
		kv("checkpoint", e.Checkpoint.String()+st.Faint.Render(fmt.Sprintf("  (transaction %d, position %d)", e.Checkpoint.Tx, e.Position))),
		kv("recorded", common.Timestamp(e.RecordedAt)+"  "+st.Faint.Render(e.RecordedAt.UTC().Format(time.RFC3339Nano))),
		kv("size", common.Bytes(len(e.Data))+" data, "+common.Bytes(len(e.Metadata))+" metadata"),
	}
	if m.causation != "" {
		lines = append(lines, kv("causation", textsafe.Line(m.causation)+st.Faint.Render("  (C opens it)")))
	}
	if m.correlation != "" {
		lines = append(lines, kv("correlation", textsafe.Line(m.correlation)+st.Faint.Render("  (O lists the correlated events, T traces them by causation)")))
	}
	if p := m.personal; p != nil {
		fields := strings.Join(p.FieldNames(), ", ")
		if p.Erased {
			lines = append(lines, kv("personal", st.Warning.Render("ERASED")+" "+fields+st.Faint.Render("  (read as null: "+textsafe.Line(p.Subject)+" was forgotten)")))
		} else {
			lines = append(lines, kv("personal", fields+" of "+st.Bold.Render(textsafe.Line(p.Subject))+st.Faint.Render("  (stored encrypted; F forgets the subject)")))
		}
	}
	lines = append(lines, "")
	lines = append(lines, m.deliveryLines()...)
	lines = append(lines, "", st.Section.Render("Data"))
	first := len(lines)
	lines = append(lines, common.PrettyJSON(e.Data, st)...)
	m.refs = dataRefs(e.Data, first)
	m.refSel = min(m.refSel, max(len(m.refs)-1, 0))
	for i, r := range m.refs {
		if i == m.refSel {
			l := lines[r.line]
			if strings.HasPrefix(l, " ") {
				l = st.Accent.Render("▸") + l[1:]
			}
			lines[r.line] = l + st.Accent.Render("  ↵ ") + st.Faint.Render(textsafe.Line(strings.Join(r.streams, " or ")))
		} else {
			lines[r.line] += st.Faint.Render("  →")
		}
	}
	lines = append(lines, "", st.Section.Render("Metadata"))
	if len(strings.TrimSpace(string(e.Metadata))) == 0 || string(e.Metadata) == "{}" {
		lines = append(lines, st.Faint.Render("(none)"))
	} else {
		lines = append(lines, common.PrettyJSON(e.Metadata, st)...)
	}
	m.lines = lines
}

// CopyText copies the event as every event list does (eventlist.CopyEvent),
// indented: the open event is copied to be read, a listed one to be piped.
func (m *Model) CopyText() (string, string, bool) {
	text, what, ok := eventlist.CopyEvent(m.ev)
	if !ok {
		return "", "", false
	}
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(text), "", "  "); err != nil {
		return "", "", false
	}
	return b.String(), what, true
}

func (m *Model) maxOffset() int {
	d, _ := m.display()
	return max(len(d)-m.c.Height, 0)
}

// Update handles keys and results.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k := m.c.Keys
	switch msg := msg.(type) {
	case tea.MouseMsg:
		switch msg.Button {
		case tea.MouseButtonWheelUp:
			m.offset = max(m.offset-3, 0)
		case tea.MouseButtonWheelDown:
			m.offset = min(m.offset+3, m.maxOffset())
		}
	case tea.KeyMsg:
		switch {
		case key.Matches(msg, k.Up):
			m.offset = max(m.offset-1, 0)
		case key.Matches(msg, k.Down):
			m.offset = min(m.offset+1, m.maxOffset())
		case key.Matches(msg, k.PageUp):
			m.offset = max(m.offset-m.c.Height, 0)
		case key.Matches(msg, k.PageDown):
			m.offset = min(m.offset+m.c.Height, m.maxOffset())
		case key.Matches(msg, k.Wrap):
			m.wrap, m.xoff = !m.wrap, 0
			m.offset = min(m.offset, m.maxOffset())
			if m.wrap {
				return common.Status(common.Info, "wrapping long lines (w cuts them again)")
			}
		case key.Matches(msg, k.ScrollRight):
			if m.wrap {
				return common.Status(common.Info, "lines are wrapped: nothing to scroll (w cuts them)")
			}
			m.xoff = min(m.xoff+table.ScrollStep, m.longest())
		case key.Matches(msg, k.ScrollLeft):
			m.xoff = max(m.xoff-table.ScrollStep, 0)
		case key.Matches(msg, k.Top):
			m.offset = 0
		case key.Matches(msg, k.Bottom):
			m.offset = m.maxOffset()
		case key.Matches(msg, k.Open):
			if len(m.refs) == 0 {
				return common.Status(common.Info, "no value of this event's data names a stream (a key such as orderId or customer_id)")
			}
			return m.follow(m.refs[m.refSel])
		case key.Matches(msg, k.NextMatch):
			if len(m.refs) == 0 {
				return common.Status(common.Info, "no value of this event's data names a stream")
			}
			m.selectRef(m.refSel + 1)
		case key.Matches(msg, k.PrevMatch):
			if len(m.refs) == 0 {
				return common.Status(common.Info, "no value of this event's data names a stream")
			}
			m.selectRef(m.refSel - 1)
		case key.Matches(msg, k.Causation):
			if m.causation == "" {
				return common.Status(common.Info, "this event has no causation id in its metadata")
			}
			return common.Navigate(common.OpenEventIDMsg{ID: m.causation, Role: "causation"})
		case key.Matches(msg, k.Correlation):
			if m.correlation == "" {
				return common.Status(common.Info, "this event has no correlation id in its metadata")
			}
			return common.Navigate(common.OpenCorrelatedMsg{ID: m.correlation, From: m.ev.EventID.String()})
		case key.Matches(msg, k.Trace):
			return common.Navigate(common.OpenViewMsg{View: "trace", Arg: m.ev.EventID.String()})
		case key.Matches(msg, k.OpenStream):
			return common.Navigate(common.OpenStreamMsg{Stream: m.ev.StreamID, Version: m.ev.Version})
		case key.Matches(msg, k.Forget):
			return m.forget()
		case key.Matches(msg, k.TimeTravel):
			return common.Navigate(common.OpenTimeTravelMsg{Stream: m.ev.StreamID, Version: m.ev.Version})
		case key.Matches(msg, k.PrevEvent):
			if m.ev.Version == 0 {
				return common.Status(common.Info, "this is the stream's first event")
			}
			return m.neighbour(store.ReadStreamOptions{From: m.ev.Version - 1, Backward: true, Limit: 1})
		case key.Matches(msg, k.NextEvent):
			return m.neighbour(store.ReadStreamOptions{From: m.ev.Version + 1, Limit: 1})
		}
	case action.DoneMsg:
		if msg.Op == "forget" && msg.Err == nil && m.personal != nil && msg.Name == m.personal.Subject {
			return m.neighbour(store.ReadStreamOptions{From: m.ev.Version, Limit: 1}) // read it again: now erased
		}
	case refMsg:
		if msg.id != m.id {
			return nil
		}
		if msg.err != nil {
			return common.ErrCmd("follow "+textsafe.Line(msg.ref.key), msg.err)
		}
		if msg.stream == "" {
			return common.Status(common.Failure, "no stream %s exists (named by %s %q)", textsafe.Line(strings.Join(msg.ref.streams, " nor ")), textsafe.Line(msg.ref.key), textsafe.Line(msg.ref.value))
		}
		return common.Navigate(common.OpenStreamMsg{Stream: msg.stream, Version: -1})
	case deliveriesMsg:
		if msg.id != m.id || msg.seq != m.delivSeq {
			return nil
		}
		m.delivBusy = false
		m.deliv, m.delivErr = msg.list, msg.err
		if m.deliv == nil && m.delivErr == nil {
			m.deliv = []common.Delivery{}
		}
		m.render()
	case common.SubsMsg:
		if m.unsettled() && !m.delivBusy {
			return m.loadDeliveries()
		}
	case common.RefreshMsg:
		return m.loadDeliveries()
	case neighbourMsg:
		if msg.id != m.id || msg.seq != m.seq {
			return nil
		}
		if msg.err != nil {
			return common.ErrCmd("read "+m.ev.StreamID, msg.err)
		}
		if !msg.found {
			return common.Status(common.Info, "this is the stream's last event")
		}
		m.set(msg.ev)
		return m.loadDeliveries()
	}
	return nil
}

func (m *Model) forget() tea.Cmd {
	p := m.personal
	switch {
	case p == nil:
		return common.Status(common.Info, "this event holds no personal data")
	case p.Erased:
		return common.Status(common.Info, "%s was forgotten already: its fields read as null", p.Subject)
	}
	if deny := m.act.DeniedForget(); deny != nil {
		return deny
	}
	return common.Confirm("Forget "+p.Subject,
		"Erase every personal value of "+p.Subject+" in every event, for good: its key is deleted, the fields read as null from now on, and the erasure is recorded in "+store.ErasureStream+". Backups taken before still hold the key.",
		p.Subject, m.act.Forget(p.Subject))
}

func (m *Model) neighbour(o store.ReadStreamOptions) tea.Cmd {
	m.seq++
	id, seq, src, ctx, s := m.id, m.seq, m.src, m.ctx, m.ev.StreamID
	return func() tea.Msg {
		evs, err := src.ReadStream(ctx, s, o)
		if err != nil || len(evs) == 0 {
			return neighbourMsg{id: id, seq: seq, err: err}
		}
		return neighbourMsg{id: id, seq: seq, ev: evs[0], found: true}
	}
}

// longest is the width of the longest line less the screen's (how far →
// can scroll).
func (m *Model) longest() int {
	w := 0
	for _, l := range m.lines {
		w = max(w, ansi.StringWidth(l))
	}
	return max(w-m.c.Width+1, 0)
}

// View renders the visible lines.
func (m *Model) View() string {
	d, _ := m.display()
	off := min(m.offset, max(len(d)-1, 0))
	end := min(off+m.c.Height, len(d))
	return common.FitLines(strings.Join(d[off:end], "\n"), m.c.Width, m.c.Height)
}

// refKeys are enter, n and N as the event view uses them.
func (m *Model) refKeys() []key.Binding {
	k := m.c.Keys
	open, next, prev := k.Open, k.NextMatch, k.PrevMatch
	open.SetHelp("enter", "follow reference")
	next.SetHelp("n", "next reference")
	prev.SetHelp("N", "previous reference")
	return []key.Binding{open, next, prev}
}

// ShortHelp is the footer help.
func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	var out []key.Binding
	out = append(out, k.Up, k.Down)
	if len(m.refs) > 0 {
		out = append(out, m.refKeys()[0])
	}
	out = append(out, k.Causation, k.Correlation, k.Trace, k.OpenStream, k.TimeTravel, k.PrevEvent, k.NextEvent)
	if m.personal != nil && !m.personal.Erased {
		out = append(out, k.Forget)
	}
	return append(out, k.Copy, k.Back)
}

// FullHelp is the full help.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.c.Keys
	acts := []key.Binding{k.Causation, k.Correlation, k.Trace, k.OpenStream, k.TimeTravel, k.PrevEvent, k.NextEvent}
	if m.personal != nil && !m.personal.Erased {
		acts = append(acts, k.Forget) // only where there is something to forget, as in the footer
	}
	return [][]key.Binding{k.Moves(), m.refKeys(), append(acts, k.Copy, k.Back)}
}

// PageID addresses the results to the page that asked (common.Addressed).
func (m neighbourMsg) PageID() int64 { return m.id }

// ID is the page's address.
func (m *Model) ID() int64 { return m.id }
