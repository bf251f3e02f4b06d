package tui

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/google/uuid"

	"eventscope/internal/textsafe"
	"eventscope/store"
	"eventscope/tui/action"
	"eventscope/tui/common"
	"eventscope/tui/confirm"
	"eventscope/tui/event"
	"eventscope/tui/header"
	"eventscope/tui/overview"
	"eventscope/tui/palette"
	qview "eventscope/tui/query"
	"eventscope/tui/related"
	"eventscope/tui/stream"
	"eventscope/tui/streams"
	"eventscope/tui/subdetail"
	"eventscope/tui/subs"
	"eventscope/tui/tail"
	"eventscope/tui/timetravel"
	"eventscope/tui/trace"
	"eventscope/tui/types"
)

// EventFinder finds an event by its id (for correlation/causation jumps).
type EventFinder interface {
	EventByID(ctx context.Context, id uuid.UUID) (store.Event, error)
}

// SubsFeed delivers monitor snapshots: Next returns a command that waits
// for the next one and yields a common.SubsMsg.
type SubsFeed interface {
	Next() tea.Cmd
}

// Deps are the data sources of the views, each the narrow interface the
// view defines. tui.Run fills them from the store, the subscriptions admin
// and monitor, and the domain's time-travel; tests use fakes. Nil sources
// make their views say they are unavailable.
type Deps struct {
	Header header.Source
	// Replica is the read database's lag behind the primary, when the log
	// is read from a hot standby (nil: reads come from the primary).
	Replica    header.Replica
	Overview   overview.Source
	Streams    streams.Source
	Stream     stream.Source
	Event      event.Source
	Events     EventFinder
	Related    related.Source
	TimeTravel timetravel.Source
	Tail       tail.Starter
	Subs       subs.Source
	SubDetail  subdetail.Source
	SubsFeed   SubsFeed
	Admin      action.Admin
	// Forget erases a subject's personal data (nil: unavailable).
	Forget action.Forgetter
	Trace  trace.Source
	Types  types.Source
	Query  qview.Source

	ReadOnly bool
	// ReadOnlyReason says why ReadOnly when the role's privileges imposed
	// it (shown at start and when an action is refused); empty for --read-only.
	ReadOnlyReason string
	DatabaseURL    string
	// Clipboard receives the OSC 52 sequence of "y" (the terminal).
	Clipboard io.Writer
	// ClipboardCheck says whether the terminal takes OSC 52 writes (nil
	// error) or why not (common.ClipboardSupport); nil: assume it does.
	ClipboardCheck func() error
}

// Minimum usable terminal.
const (
	MinWidth  = 80
	MinHeight = 20
)

// Model is the root model: layout, routing, navigation, dialogs. Views do
// the work.
type Model struct {
	ctx  context.Context
	c    common.Common
	d    Deps
	act  *action.Actions
	hist *common.SubHistory
	hdr  *header.Model
	help help.Model

	views  views
	tabs   [][]common.Page // one stack per tab, in registry order
	inited []bool
	tab    int
	w, h   int

	status   common.StatusMsg
	statusID int64
	connErr  error
	showHelp bool
	palette  *palette.Model
	phist    palette.History // the palette's command history (↑/↓)
	confirm  *confirm.Model
	subNames []string
	quitting bool
	jumping  bool // handling what the palette asked for (a jump)
	// undo is what the last page that replaced a tab's stack replaced,
	// put back when that page cannot load what it was opened on.
	undo *replaced
	// returnTo: the page on top of tab returnTo.tab… was opened from
	// another tab (t on a stream opens Time-travel): esc at its root goes
	// back there, once. Switching tabs forgets it, so esc never bounces.
	returnTo *origin
}

type origin struct {
	page int64
	tab  int
}

type replaced struct {
	tab, from int
	id        int64
	stack     []common.Page
	inited    bool
}

// jumpMsg is what a palette command sent: a jump, not a drill-down.
type jumpMsg struct{ msg tea.Msg }

// jumped marks the palette command's message as a jump.
func jumped(cmd tea.Cmd) tea.Cmd {
	if cmd == nil {
		return nil
	}
	return func() tea.Msg { return jumpMsg{msg: cmd()} }
}

type clearStatusMsg struct{ id int64 }

// beatMsg schedules the refresh beat (common.BeatMsg).
type beatMsg struct{}

// New builds the root model.
func New(ctx context.Context, c common.Common, d Deps) *Model {
	c.ReadOnly = c.ReadOnly || d.ReadOnly
	m := &Model{ctx: ctx, c: c, d: d, hist: common.NewSubHistory(60)}
	m.act = action.New(ctx, d.Admin, d.ReadOnly)
	m.act.SetReason(d.ReadOnlyReason)
	if d.Forget != nil {
		m.act.SetForgetter(d.Forget)
	}
	m.hdr = header.New(ctx, c, d.Header, d.DatabaseURL, d.ReadOnly).WithReplica(d.Replica)
	m.help = help.New()
	m.help.Styles.ShortKey = c.Styles.HelpKey
	m.help.Styles.ShortDesc = c.Styles.HelpDesc
	m.help.Styles.ShortSeparator = c.Styles.HelpSep
	m.help.Styles.FullKey = c.Styles.HelpKey
	m.help.Styles.FullDesc = c.Styles.HelpDesc
	m.help.Styles.FullSeparator = c.Styles.HelpSep
	m.help.Styles.Ellipsis = c.Styles.HelpSep
	m.views = newViews()
	c.Keys.SetTabs(len(m.views.tabs))
	for _, i := range m.views.tabs {
		m.tabs = append(m.tabs, []common.Page{m.views.all[i].root(m)})
	}
	m.inited = make([]bool, len(m.tabs))
	return m
}

// Init starts the header probe, the monitor feed and the first view;
// other views load when first shown.
func (m *Model) Init() tea.Cmd {
	m.inited[0] = true
	cmds := []tea.Cmd{m.hdr.Init(), m.tabs[0][0].Init(), m.nextBeat()}
	if m.d.SubsFeed != nil {
		cmds = append(cmds, m.d.SubsFeed.Next())
	}
	if m.d.ReadOnly && m.d.ReadOnlyReason != "" {
		cmds = append(cmds, common.Status(common.Info, "read-only: %s", m.d.ReadOnlyReason))
	}
	return safe(tea.Batch(cmds...))
}

func (m *Model) page() common.Page { s := m.tabs[m.tab]; return s[len(s)-1] }

// bodyTop is the first screen line of the page (header, tabs, crumbs,
// and the banner when the connection is down).
func (m *Model) bodyTop() int {
	if m.connErr != nil {
		return 4
	}
	return 3
}

func (m *Model) bodyHeight() int { return max(m.h-m.bodyTop()-2, 1) }

func (m *Model) resize() {
	for _, stack := range m.tabs {
		for _, p := range stack {
			p.SetSize(m.w, m.bodyHeight())
		}
	}
}

// Update routes a message. A panic in a view becomes an error in the
// status line instead of a crash.
func (m *Model) Update(msg tea.Msg) (_ tea.Model, cmd tea.Cmd) {
	defer func() {
		if r := recover(); r != nil {
			m.status = common.StatusMsg{Kind: common.Failure, Text: fmt.Sprintf("internal error (please report): %v", r)}
			logPanic(r, debug.Stack())
			cmd = nil
		}
	}()
	return m, safe(m.update(msg))
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		m.help.Width = msg.Width
		m.resize()
		return nil
	case tea.KeyMsg:
		// Keys typed faster than the terminal is read (or sent by tmux)
		// arrive as one message of several runes: handle them one by one,
		// so "/ord" is the filter key then "ord".
		if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste {
			var cmds []tea.Cmd
			for _, r := range msg.Runes {
				cmds = append(cmds, m.key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt}))
			}
			return tea.Batch(cmds...)
		}
		return m.key(msg)
	case tea.MouseMsg:
		return m.mouse(msg)
	case common.StatusMsg:
		return m.setStatus(msg)
	case clearStatusMsg:
		if msg.id == m.statusID {
			m.status = common.StatusMsg{}
		}
		return nil
	case beatMsg:
		return tea.Batch(m.nextBeat(), m.page().Update(common.BeatMsg{}))
	case common.ErrorMsg:
		if common.IsConnError(msg.Err) {
			m.connErr = msg.Err
			m.resize()
		}
		return m.setStatus(common.StatusMsg{Kind: common.Failure, Text: msg.Error()})
	case common.ConnStateMsg:
		return tea.Batch(m.connState(msg), m.broadcast(msg))
	case common.ConfirmMsg:
		m.confirm = confirm.New(m.c, msg)
		return nil
	case common.CopyMsg:
		return m.copy(msg.Text, msg.What)
	case palette.QuitMsg:
		m.quitting = true
		return tea.Quit
	case palette.HelpMsg:
		m.showHelp = true
		return nil
	case common.SwitchTabMsg:
		if t := m.views.tabIndex(msg.View); t >= 0 {
			return m.switchTab(t)
		}
		return m.setStatus(common.StatusMsg{Kind: common.Failure, Text: "no view is called " + msg.View})
	case common.BackMsg:
		return m.back()
	case common.OpenFailedMsg:
		if u := m.undo; u != nil && u.id == msg.Page {
			if s := m.tabs[u.tab]; len(s) == 1 && s[0].ID() == msg.Page {
				m.tabs[u.tab], m.inited[u.tab], m.tab = u.stack, u.inited, u.from
			}
			m.undo = nil
		}
		return m.setStatus(common.StatusMsg{Kind: common.Failure, Text: msg.Err.Error()})
	case jumpMsg:
		m.jumping = true
		defer func() { m.jumping = false }()
		return m.update(msg.msg)
	case common.OpenStreamMsg, common.OpenEventMsg, common.OpenCorrelatedMsg, common.OpenTimeTravelMsg, common.OpenSubMsg, common.OpenViewMsg:
		return m.open(msg)
	case common.OpenEventIDMsg:
		return m.findEvent(msg)
	case foundEventMsg:
		if msg.err != nil {
			if common.IsNotFound(msg.err) {
				return m.setStatus(common.StatusMsg{Kind: common.Failure, Text: fmt.Sprintf("no event has the %s id %s", msg.role, msg.id)})
			}
			return m.setStatus(common.StatusMsg{Kind: common.Failure, Text: msg.err.Error()})
		}
		return m.open(common.OpenEventMsg{Event: msg.ev})
	case action.DoneMsg:
		st := common.StatusMsg{Kind: common.Success, Text: msg.Text}
		if msg.Err != nil {
			st = common.StatusMsg{Kind: common.Failure, Text: msg.Op + " " + msg.Name + ": " + msg.Err.Error()}
		}
		return tea.Batch(m.setStatus(st), m.broadcast(msg))
	case common.SubsMsg:
		if msg.Err == nil {
			m.subNames = m.subNames[:0]
			for _, s := range msg.Subs {
				m.subNames = append(m.subNames, s.Name)
			}
		} else if common.IsConnError(msg.Err) && m.connErr == nil {
			m.connErr = msg.Err
			m.resize()
		}
		var next tea.Cmd
		if m.d.SubsFeed != nil {
			next = m.d.SubsFeed.Next()
		}
		return tea.Batch(next, m.broadcast(msg))
	}
	return m.broadcast(msg)
}

// broadcast hands a result to its addressee (common.Addressed): the
// header, the palette, or one page of any stack; a result for a page that
// is gone is dropped. A feed (not addressed) goes to the header, the
// palette and the page on top of each tab: the pages being shown, or shown
// again when their tab is chosen.
func (m *Model) broadcast(msg tea.Msg) tea.Cmd {
	if a, ok := msg.(common.Addressed); ok {
		return m.route(a.PageID(), msg)
	}
	cmds := []tea.Cmd{m.hdr.Update(msg)}
	if m.palette != nil {
		c, _ := m.palette.Update(msg)
		cmds = append(cmds, c)
	}
	for _, stack := range m.tabs {
		cmds = append(cmds, stack[len(stack)-1].Update(msg))
	}
	return tea.Batch(cmds...)
}

// route delivers msg to the one component whose id it carries.
func (m *Model) route(id int64, msg tea.Msg) tea.Cmd {
	if id == m.hdr.ID() {
		return m.hdr.Update(msg)
	}
	if m.palette != nil && id == m.palette.ID() {
		c, _ := m.palette.Update(msg)
		return c
	}
	for _, stack := range m.tabs {
		for _, p := range stack {
			if p.ID() == id {
				return p.Update(msg)
			}
		}
	}
	return nil
}

func (m *Model) setStatus(s common.StatusMsg) tea.Cmd {
	m.status = s
	m.statusID++
	id := m.statusID
	d := 5 * time.Second
	if s.Kind == common.Failure {
		d = 10 * time.Second
	}
	return m.c.Tick(d, func(time.Time) tea.Msg { return clearStatusMsg{id: id} })
}

func (m *Model) connState(msg common.ConnStateMsg) tea.Cmd {
	if !msg.Up {
		if m.connErr == nil || common.IsConnError(msg.Err) {
			first := m.connErr == nil
			m.connErr = msg.Err
			if first {
				m.resize()
			}
		}
		return nil
	}
	if m.connErr == nil {
		return nil
	}
	m.connErr = nil
	m.resize()
	return tea.Batch(m.setStatus(common.StatusMsg{Kind: common.Success, Text: "reconnected to the database"}), m.page().Update(common.RefreshMsg{}))
}

func (m *Model) key(msg tea.KeyMsg) tea.Cmd {
	k := m.c.Keys
	if key.Matches(msg, k.ForceQuit) {
		m.quitting = true
		return tea.Quit
	}
	if m.confirm != nil {
		cmd, done := m.confirm.Update(msg)
		if done {
			m.confirm = nil
		}
		return cmd
	}
	if m.palette != nil {
		cmd, done := m.palette.Update(msg)
		if done {
			m.palette = nil
			return jumped(cmd)
		}
		return cmd
	}
	if m.showHelp {
		m.showHelp = false
		return nil
	}
	p := m.page()
	if cl, ok := p.(common.KeyClaimer); ok && cl.ClaimsKey(msg) {
		return p.Update(msg)
	}
	switch {
	case key.Matches(msg, k.Quit):
		m.quitting = true
		return tea.Quit
	case key.Matches(msg, k.Help):
		m.showHelp = true
		return nil
	case key.Matches(msg, k.Palette):
		m.palette = palette.New(m.ctx, m.c, m.d.Streams, m.views.cmds, m.subNames).WithHistory(&m.phist)
		return nil
	case key.Matches(msg, k.NextTab):
		return m.switchTab((m.tab + 1) % len(m.tabs))
	case key.Matches(msg, k.PrevTab):
		return m.switchTab((m.tab + len(m.tabs) - 1) % len(m.tabs))
	case key.Matches(msg, k.Tabs):
		return m.switchTab(int(msg.Runes[0] - '1'))
	case key.Matches(msg, k.Back):
		return m.back()
	case key.Matches(msg, k.Copy):
		if cp, ok := p.(common.Copier); ok {
			if text, what, ok := cp.CopyText(); ok {
				return m.copy(text, what)
			}
		}
		return m.setStatus(common.StatusMsg{Kind: common.Info, Text: "nothing to copy here"})
	}
	return p.Update(msg)
}

func (m *Model) mouse(msg tea.MouseMsg) tea.Cmd {
	if m.confirm != nil || m.palette != nil || m.showHelp {
		return nil
	}
	if msg.Y == 1 && msg.Button == tea.MouseButtonLeft && msg.Action == tea.MouseActionPress {
		x := 1
		for i := range m.tabs {
			wdt := ansi.StringWidth(m.tabLabel(i))
			if msg.X >= x && msg.X < x+wdt {
				return m.switchTab(i)
			}
			x += wdt + 1
		}
		return nil
	}
	top := m.bodyTop()
	if msg.Y < top || msg.Y >= top+m.bodyHeight() {
		return nil
	}
	msg.Y -= top
	return m.page().Update(msg)
}

func (m *Model) copy(text, what string) tea.Cmd {
	w := m.d.Clipboard
	if w == nil {
		return m.setStatus(common.StatusMsg{Kind: common.Failure, Text: "copy is unavailable (no terminal)"})
	}
	seq := common.OSC52(text)
	check := m.d.ClipboardCheck
	done := common.CopiedText(what, textsafe.Line(text))
	return func() tea.Msg {
		if check != nil {
			if err := check(); err != nil {
				return common.StatusMsg{Kind: common.Failure, Text: "could not copy " + what + ": " + err.Error()}
			}
		}
		if _, err := io.WriteString(w, seq); err != nil {
			return common.StatusMsg{Kind: common.Failure, Text: "copy failed: " + err.Error()}
		}
		return common.StatusMsg{Kind: common.Success, Text: done}
	}
}

func (m *Model) ensureInit(tab int) tea.Cmd {
	if m.inited[tab] {
		return nil
	}
	m.inited[tab] = true
	var cmds []tea.Cmd
	for _, p := range m.tabs[tab] {
		cmds = append(cmds, p.Init())
	}
	return tea.Batch(cmds...)
}

func (m *Model) switchTab(t int) tea.Cmd {
	if t < 0 || t >= len(m.tabs) {
		return nil
	}
	m.tab = t
	m.returnTo = nil
	if !m.inited[t] {
		return m.ensureInit(t)
	}
	return m.shown()
}

// nextBeat schedules the next refresh beat.
func (m *Model) nextBeat() tea.Cmd {
	return m.c.Tick(common.RefreshEvery, func(time.Time) tea.Msg { return beatMsg{} })
}

// shown tells the page shown again that it is: it refreshes what went
// stale while it was hidden, without waiting for the next beat.
func (m *Model) shown() tea.Cmd { return m.page().Update(common.BeatMsg{}) }

// back pops the current page. At a tab's root it returns to the page it
// was opened from in another tab, if it was just opened from one, and
// else does nothing (tabs are switched with their keys).
func (m *Model) back() tea.Cmd {
	s := m.tabs[m.tab]
	if len(s) > 1 {
		m.tabs[m.tab] = s[:len(s)-1]
		return m.shown()
	}
	if r := m.returnTo; r != nil && r.page == s[0].ID() {
		m.returnTo = nil
		m.tab = r.tab
		return m.shown()
	}
	return nil
}

// maxDepth bounds a tab's page stack (opening events from events could
// grow it forever).
const maxDepth = 12

func (m *Model) push(tab int, p common.Page) tea.Cmd {
	m.tab = tab
	init := m.ensureInit(tab)
	p.SetSize(m.w, m.bodyHeight())
	s := append(m.tabs[tab], p)
	if len(s) > maxDepth {
		s = append(s[:1], s[len(s)-maxDepth+1:]...)
	}
	m.tabs[tab] = s
	return tea.Batch(init, p.Init())
}

// drillTab is where a drill-down (a stream, an event) opens: in the
// current tab when it is a browsing tab, else in Streams.
func (m *Model) drillTab() int {
	if m.views.all[m.views.tabs[m.tab]].browse {
		return m.tab
	}
	return max(m.views.tabIndex("streams"), 0)
}

// open builds the page msg asks for (the registry knows which view) and
// shows it: pushed on the tab where the user browses, or on the view's
// home tab, or replacing that tab's stack.
func (m *Model) open(msg tea.Msg) tea.Cmd {
	v, p := m.views.opener(m, msg)
	if p == nil {
		return m.setStatus(common.StatusMsg{Kind: common.Failure, Text: fmt.Sprintf("no view opens %T", msg)})
	}
	tab := m.drillTab()
	if m.jumping {
		// A jump (a palette command) starts afresh in the view's home,
		// or in Streams: the breadcrumbs are the tab's root and the page,
		// not the trail of wherever the user was.
		tab = max(m.views.tabIndex("streams"), 0)
	}
	if v.home != "" {
		tab = m.views.tabIndex(v.home)
	}
	if m.jumping && !v.replace {
		m.tabs[tab] = m.tabs[tab][:1]
	}
	if !v.replace {
		return m.push(tab, p)
	}
	m.undo = &replaced{tab: tab, from: m.tab, id: p.ID(), stack: m.tabs[tab], inited: m.inited[tab]}
	m.returnTo = nil
	if tab != m.tab && !m.jumping {
		m.returnTo = &origin{page: p.ID(), tab: m.tab}
	}
	m.tab = tab
	m.inited[tab] = true
	p.SetSize(m.w, m.bodyHeight())
	m.tabs[tab] = []common.Page{p}
	return p.Init()
}

type foundEventMsg struct {
	role, id string
	ev       store.Event
	err      error
}

func (m *Model) findEvent(msg common.OpenEventIDMsg) tea.Cmd {
	id, err := uuid.Parse(msg.ID)
	if err != nil {
		return m.setStatus(common.StatusMsg{Kind: common.Failure, Text: fmt.Sprintf("the %s id %q is not an event id (not a UUID)", msg.Role, msg.ID)})
	}
	if m.d.Events == nil {
		return m.setStatus(common.StatusMsg{Kind: common.Failure, Text: "looking events up by id is unavailable"})
	}
	ctx, src := m.ctx, m.d.Events
	return func() tea.Msg {
		e, err := src.EventByID(ctx, id)
		return foundEventMsg{role: msg.Role, id: msg.ID, ev: e, err: err}
	}
}

// View lays out the header, tabs, breadcrumbs, banner, page, status line
// and footer. A panic while rendering shows an error instead.
func (m *Model) View() (out string) {
	defer func() {
		if r := recover(); r != nil {
			logPanic(r, debug.Stack())
			out = fmt.Sprintf("internal error while drawing (please report): %v\nPress q to quit.", r)
		}
	}()
	if m.w == 0 {
		return "starting…"
	}
	if m.w < MinWidth || m.h < MinHeight {
		msg := fmt.Sprintf("The terminal is too small: %d×%d.\nThe console needs at least %d×%d.\nEnlarge the window, or press q to quit.", m.w, m.h, MinWidth, MinHeight)
		return lipgloss.Place(m.w, m.h, lipgloss.Center, lipgloss.Center, msg)
	}
	st := m.c.Styles
	lines := []string{m.hdr.View(m.w), m.tabsLine(), m.crumbs()}
	if m.connErr != nil {
		lines = append(lines, st.Banner.Render(common.PadRight(" ⚠ connection to the database lost, reconnecting in the background: "+textsafe.Line(firstLine(m.connErr.Error())), m.w)))
	}
	bh := m.bodyHeight()
	var body string
	switch {
	case m.showHelp:
		body = m.fullHelp()
	default:
		body = m.page().View()
	}
	body = common.FitLines(body, m.w, bh)
	switch {
	case m.confirm != nil:
		body = overlay(body, m.confirm.View(m.w), m.w, bh)
	case m.palette != nil:
		body = bottom(body, m.palette.View(m.w), m.w, bh)
	}
	lines = append(lines, body, m.statusLine(), m.footer())
	return strings.Join(lines, "\n")
}

func (m *Model) tabsLine() string {
	st := m.c.Styles
	var b strings.Builder
	b.WriteString(" ")
	for i := range m.tabs {
		label := m.tabLabel(i)
		if i == m.tab {
			b.WriteString(st.TabActive.Render(label))
		} else {
			b.WriteString(st.TabInactive.Render(label))
		}
		b.WriteString(st.TabSep.Render("│"))
	}
	return common.Truncate(b.String(), m.w)
}

func (m *Model) tabLabel(i int) string { return fmt.Sprintf(" %d %s ", i+1, m.views.tabTitle(i)) }

func (m *Model) crumbs() string {
	st := m.c.Styles
	s := m.tabs[m.tab]
	parts := make([]string, len(s))
	for i, p := range s {
		if i == len(s)-1 {
			parts[i] = st.CrumbLast.Render(textsafe.Line(p.Title()))
		} else {
			parts[i] = st.Crumb.Render(textsafe.Line(p.Title()))
		}
	}
	return " " + cutLeft(strings.Join(parts, st.CrumbSep.Render(" › ")), m.w-1)
}

// cutLeft fits s in n cells by cutting it from the left, so its end (the
// current page of the breadcrumbs) stays.
func cutLeft(s string, n int) string {
	w := ansi.StringWidth(s)
	if w <= n {
		return s
	}
	if n < 2 {
		return common.Truncate(s, n)
	}
	return ansi.TruncateLeft(s, w-n+1, "…")
}

func (m *Model) statusLine() string {
	st := m.c.Styles
	s := m.status
	switch s.Kind {
	case common.Failure:
		return common.Truncate(st.StatusErr.Render(" ✗ "+textsafe.Line(firstLine(s.Text))), m.w)
	case common.Success:
		return common.Truncate(st.StatusOK.Render(" ✓ "+textsafe.Line(firstLine(s.Text))), m.w)
	}
	if s.Text == "" {
		return ""
	}
	return common.Truncate(st.StatusInfo.Render(" "+textsafe.Line(firstLine(s.Text))), m.w)
}

func (m *Model) globalKeys() []key.Binding {
	k := m.c.Keys
	return []key.Binding{k.Tabs, k.NextTab, k.PrevTab, k.Palette, k.Help, k.Quit}
}

// helpGroups is the full help of the page shown: its keys, then the
// root's, each key once.
func (m *Model) helpGroups() [][]key.Binding {
	groups := append(m.page().FullHelp(), m.rootKeys())
	if !m.escDoes() {
		for i, g := range groups {
			var keep []key.Binding
			for _, b := range g {
				if b.Help().Key != "esc" {
					keep = append(keep, b)
				}
			}
			groups[i] = keep
		}
	}
	return helpGroups(groups)
}

// escDoes reports whether esc does something on the page shown: a page to
// go back to, or the page takes it (to clear its filter).
func (m *Model) escDoes() bool {
	if len(m.tabs[m.tab]) > 1 || (m.returnTo != nil && m.returnTo.page == m.page().ID()) {
		return true
	}
	cl, ok := m.page().(common.KeyClaimer)
	return ok && cl.ClaimsKey(tea.KeyMsg{Type: tea.KeyEsc})
}

// rootKeys are the keys the root itself handles on this page: the
// global ones, y where the page has something to copy, esc where there is
// a page to go back to.
func (m *Model) rootKeys() []key.Binding {
	keys := m.globalKeys()
	if _, ok := m.page().(common.Copier); ok {
		keys = append(keys, m.c.Keys.Copy)
	}
	if m.escDoes() {
		keys = append(keys, m.c.Keys.Back)
	}
	return keys
}

// helpGroups drops a key already listed (the page's description of it
// wins) and the groups left empty: help lists each key once.
func helpGroups(groups [][]key.Binding) [][]key.Binding {
	seen := map[string]bool{}
	var out [][]key.Binding
	for _, g := range groups {
		var keep []key.Binding
		for _, b := range g {
			if k := b.Help().Key; !seen[k] {
				seen[k] = true
				keep = append(keep, b)
			}
		}
		if len(keep) > 0 {
			out = append(out, keep)
		}
	}
	return out
}

func (m *Model) footer() string {
	var b []key.Binding
	for _, g := range helpGroups([][]key.Binding{m.page().ShortHelp(), {m.c.Keys.Palette, m.c.Keys.Help, m.c.Keys.Quit}}) {
		b = append(b, g...)
	}
	return " " + ansi.Truncate(m.help.ShortHelpView(b), m.w-1, "…")
}

func (m *Model) fullHelp() string {
	st := m.c.Styles
	groups := m.helpGroups()
	return st.Section.Render("Keys — "+textsafe.Line(m.page().Title())) + st.Faint.Render("   (any key closes)") + "\n\n" + m.help.FullHelpView(groups) +
		"\n\n" + st.Faint.Render("Mouse: the wheel scrolls, a click selects (a click on the selected row opens it), a click on a tab switches.\n"+
		m.views.commandHelp(m.w-1))
}

// overlay centres box over body.
func overlay(body, box string, w, h int) string {
	bl := strings.Split(body, "\n")
	xl := strings.Split(box, "\n")
	top := max((h-len(xl))/2, 0)
	bw := 0
	for _, l := range xl {
		bw = max(bw, ansi.StringWidth(l))
	}
	left := max((w-bw)/2, 0)
	for i, l := range xl {
		y := top + i
		if y >= len(bl) {
			break
		}
		base := bl[y]
		pre := ansi.Truncate(base, left, "")
		pre += strings.Repeat(" ", max(left-ansi.StringWidth(pre), 0))
		rest := ansi.TruncateLeft(base, left+ansi.StringWidth(l), "")
		bl[y] = pre + l + rest
	}
	return strings.Join(bl, "\n")
}

// bottom replaces the last lines of body with panel.
func bottom(body, panel string, w, h int) string {
	bl := strings.Split(body, "\n")
	pl := strings.Split(panel, "\n")
	if len(pl) > h {
		pl = pl[len(pl)-h:]
	}
	bl = append(bl[:max(h-len(pl), 0)], pl...)
	return common.FitLines(strings.Join(bl, "\n"), w, h)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// safe wraps a command so a panic inside it becomes an error message
// instead of killing the program (batches are wrapped member by member).
func safe(cmd tea.Cmd) tea.Cmd {
	if cmd == nil {
		return nil
	}
	return func() (msg tea.Msg) {
		defer func() {
			if r := recover(); r != nil {
				logPanic(r, debug.Stack())
				msg = common.ErrorMsg{Op: "internal error (please report)", Err: fmt.Errorf("%v", r)}
			}
		}()
		msg = cmd()
		if b, ok := msg.(tea.BatchMsg); ok {
			for i := range b {
				b[i] = safe(b[i])
			}
			return b
		}
		return msg
	}
}
