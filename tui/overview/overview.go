// Package overview is the console's first view: counts of events, streams
// and categories, the top categories and event types, an append-rate
// sparkline, a subscriptions summary, and a warning naming the transaction
// that holds the global log back.
package overview

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"eventscope/internal/textsafe"
	"eventscope/store"
	"eventscope/subscriptions"
	"eventscope/tui/common"
)

// Source is what the overview reads.
type Source interface {
	Stats(ctx context.Context, o store.StatsOptions) (store.Stats, error)
}

// Poll periods: counts are cheap (a GROUP BY over streams) and refresh as
// often as every live view does; per-type counts scan every event, so they
// refresh rarely (their age is shown).
const (
	StatsInterval = common.RefreshEvery
	TypesInterval = 60 * time.Second
	rateBucket    = 5 // seconds per sparkline sample
)

type statsMsg struct {
	id, seq int64
	types   bool
	stats   store.Stats
	err     error
}

type tickMsg struct {
	id, gen int64
	types   bool
}

// Model is the overview.
type Model struct {
	c   common.Common
	ctx context.Context
	src Source
	id  int64
	seq int64

	stats     store.Stats
	loaded    bool
	types     []store.TypeCount
	typesOK   bool
	typesBusy bool  // a per-type count is in flight
	typesAt   int64 // the event count when types were last counted
	countsGen int64
	typesGen  int64
	err       error

	statsAt   time.Time // when the counts were read
	typesRead time.Time // when the types were counted

	// The head and the horizon are the header's probe (common.RateMsg):
	// one source, so the overview and the header agree.
	head    store.Checkpoint
	horizon store.Horizon
	probed  bool

	rates      *common.Ring
	bucketSum  float64
	bucketN    int
	rate       float64
	subs       []common.SubStatus
	subsLoaded bool
	subsErr    error
}

// New makes the overview.
func New(ctx context.Context, c common.Common, src Source) *Model {
	return &Model{c: c, ctx: ctx, src: src, id: common.NewID(), rates: common.NewRing(120)}
}

// Title is the breadcrumb.
func (m *Model) Title() string { return "Overview" }

// SetSize sets the area.
func (m *Model) SetSize(w, h int) { m.c.SetSize(w, h) }

// Init loads the counts first (fast); the per-type counts (a scan of every
// event) follow once they are in, so the two do not compete for the first
// frame with data.
func (m *Model) Init() tea.Cmd { return m.load(false) }

func (m *Model) load(types bool) tea.Cmd {
	m.seq++
	id, seq, src, ctx := m.id, m.seq, m.src, m.ctx
	return func() tea.Msg {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s, err := src.Stats(cctx, store.StatsOptions{Types: types})
		return statsMsg{id: id, seq: seq, types: types, stats: s, err: err}
	}
}

// tick schedules the next poll. Each result schedules one and only the
// newest schedule counts (a refresh or an extra load must not start a
// second polling chain).
func (m *Model) tick(types bool) tea.Cmd {
	d := StatsInterval
	gen := &m.countsGen
	if types {
		d, gen = TypesInterval, &m.typesGen
	}
	*gen++
	id, g := m.id, *gen
	return m.c.Tick(d, func(time.Time) tea.Msg { return tickMsg{id: id, gen: g, types: types} })
}

// Update handles keys and results.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.KeyMsg:
		if key.Matches(msg, m.c.Keys.Refresh) {
			m.typesBusy = true
			return tea.Batch(m.load(false), m.load(true), common.Status(common.Info, "refreshing overview…"))
		}
	case common.RefreshMsg:
		m.typesBusy = true
		return tea.Batch(m.load(false), m.load(true))
	case tickMsg:
		if msg.id == m.id && (msg.types && msg.gen == m.typesGen || !msg.types && msg.gen == m.countsGen) {
			if msg.types {
				m.typesBusy = true
			}
			return m.load(msg.types)
		}
	case statsMsg:
		if msg.id != m.id {
			return nil
		}
		next := m.tick(msg.types)
		if msg.err != nil {
			m.err = msg.err
			return tea.Batch(next, common.ErrCmd("overview: stats", msg.err))
		}
		m.err = nil
		m.statsAt = m.c.Now()
		if msg.types {
			m.types, m.typesOK, m.typesBusy = msg.stats.Types, true, false
			m.typesAt, m.typesRead = msg.stats.Events, m.statsAt
		} else if !m.typesBusy && (!m.typesOK || msg.stats.Events > m.typesAt+m.typesAt/10+100) {
			// The first per-type count comes after the first frame; later
			// ones when the log grew by a tenth (a seed loading), else
			// every TypesInterval.
			m.typesBusy = true
			next = tea.Batch(next, m.load(true))
		}
		// Counts from either load are current; keep the newest.
		types := m.stats.Types
		m.stats, m.loaded = msg.stats, true
		if !msg.types {
			m.stats.Types = types
		}
		sm := common.StatsMsg{Stats: msg.stats, At: m.c.Now()}
		return tea.Batch(next, func() tea.Msg { return sm })
	case common.RateMsg:
		m.head, m.horizon, m.probed = msg.Head, msg.Horizon, true
		m.rate = msg.Rate
		m.bucketSum += msg.Rate
		m.bucketN++
		if m.bucketN >= rateBucket {
			m.rates.Add(m.bucketSum / float64(m.bucketN))
			m.bucketSum, m.bucketN = 0, 0
		}
	case common.SubsMsg:
		m.subsLoaded = true
		m.subsErr = msg.Err
		if msg.Err == nil {
			m.subs = msg.Subs
		}
	}
	return nil
}

// View renders the overview.
func (m *Model) View() string {
	st := m.c.Styles
	w := m.c.Width
	var b strings.Builder
	line := func(s string) { b.WriteString(s + "\n") }
	kv := func(label, value string, width int) string {
		return common.PadRight(st.Label.Render(label+" ")+st.Bold.Render(value), width)
	}
	if !m.loaded {
		if m.err != nil {
			line(st.Error.Render("Could not load the counts: " + m.err.Error()))
		} else {
			line(st.Faint.Render("Loading counts…"))
		}
	} else {
		s := m.stats
		col := max((w-2)/3, 24)
		line(" " + kv("Events", common.Count(s.Events), col) + kv("Streams", common.Count(s.Streams), col) + kv("Categories", common.Count(int64(len(s.Categories))), col))
		head := "…"
		if m.probed {
			head = m.head.String()
		}
		line(" " + kv("Head", head, col) + kv("Last position", common.Count(s.LastPosition), col) + kv("Append rate", common.Rate(m.rate), col))
		line(" " + st.Faint.Render(common.Updated(m.c.Now(), m.statsAt)))
	}
	line("")
	// Append rate sparkline.
	sw := max(min(w-36, len(m.rates.Values())), 0)
	spark := common.Sparkline(m.rates.Values(), sw)
	if spark == "" {
		spark = st.Faint.Render("(collecting: one sample per 5 s)")
	} else {
		spark = st.Spark.Render(spark)
	}
	line(" " + st.Section.Render("Append rate") + st.Faint.Render(" last 10 min ") + spark)
	line("")
	// The transaction holding the global log back.
	if common.HeldBack(m.horizon.Blocker) {
		bl := m.horizon.Blocker
		who := fmt.Sprintf("pid %d", bl.PID)
		if bl.Prepared != "" {
			who = fmt.Sprintf("prepared transaction \"%s\"", textsafe.Line(bl.Prepared))
		}
		q := textsafe.Line(strings.Join(strings.Fields(bl.Query), " "))
		if q == "" {
			q = "(no query)"
		}
		line(" " + st.Error.Render(fmt.Sprintf("⚠ The global log is held back by %s, in a transaction for %s (%s).", who, common.Age(bl.Age), textsafe.Line(bl.State))))
		line("   " + st.Label.Render("query: ") + common.Truncate(q, w-12))
		n := common.Count(m.horizon.Pending)
		if m.horizon.PendingMore {
			n += "+"
		}
		detail := fmt.Sprintf("%s committed events wait behind it; subscribers and the tail see them when it ends.", n)
		if bl.ApplicationName != "" || bl.Database != "" {
			detail = fmt.Sprintf("application \"%s\", database \"%s\". ", textsafe.Line(bl.ApplicationName), textsafe.Line(bl.Database)) + detail
		}
		line("   " + st.Faint.Render(common.Truncate(detail, w-4)))
		line("")
	}
	// Subscriptions summary.
	line(" " + st.Section.Render("Subscriptions") + "  " + m.subsSummary())
	line("")
	// Top categories and types, side by side.
	half := max((w-3)/2, 30)
	left := m.topCategories(half)
	right := m.topTypes(half)
	b.WriteString(lipgloss.JoinHorizontal(lipgloss.Top, " ", common.PadRight("", 0)+left, " ", right))
	return common.FitLines(b.String(), w, m.c.Height)
}

func (m *Model) subsSummary() string {
	st := m.c.Styles
	switch {
	case m.subsErr != nil && len(m.subs) == 0:
		return st.Error.Render("unavailable: " + m.subsErr.Error())
	case !m.subsLoaded:
		return st.Faint.Render("loading…")
	case len(m.subs) == 0:
		return st.Faint.Render("none yet")
	}
	var live, held, lagging, failing, paused, idle int
	var parked int64
	for _, s := range m.subs {
		parked += s.Parked
		switch s.State {
		case subscriptions.StateFailing:
			failing++
		case subscriptions.StatePaused:
			paused++
		case subscriptions.StateLive:
			switch {
			case common.HeldBack(m.horizon.Blocker):
				held++
			case s.Lag >= common.LagThreshold:
				lagging++
			default:
				live++
			}
		case subscriptions.StateCatchingUp:
			lagging++
		default:
			idle++
		}
	}
	parts := []string{
		st.StateLive.Render(fmt.Sprintf("%d live", live)),
	}
	if held > 0 { // live, but an open transaction holds the log back
		parts = append(parts, st.StateFailing.Render(fmt.Sprintf("%d held back", held)))
	}
	parts = append(parts,
		st.StateCatchingUp.Render(fmt.Sprintf("%d lagging", lagging)),
		st.StateFailing.Render(fmt.Sprintf("%d failing", failing)),
		st.StatePaused.Render(fmt.Sprintf("%d paused", paused)),
	)
	if idle > 0 {
		parts = append(parts, st.StateStopped.Render(fmt.Sprintf("%d stopped/no holder", idle)))
	}
	p := fmt.Sprintf("%s parked", common.Count(parked))
	if parked > 0 {
		p = st.Warning.Render(p)
	}
	return strings.Join(append(parts, p), " · ")
}

func (m *Model) topCategories(w int) string {
	st := m.c.Styles
	var b strings.Builder
	b.WriteString(st.Section.Render("Top categories") + "\n")
	b.WriteString(st.TableHeader.Render(common.PadRight("category", w-26)+common.PadLeft("streams", 12)+common.PadLeft("events", 14)) + "\n")
	if !m.loaded {
		return b.String()
	}
	n := max(m.c.Height-14, 3)
	for i, c := range m.stats.Categories {
		if i >= n {
			b.WriteString(st.Faint.Render(fmt.Sprintf("… %d more", len(m.stats.Categories)-n)) + "\n")
			break
		}
		b.WriteString(common.PadRight(textsafe.Line(c.Category), w-26) + common.PadLeft(common.Count(c.Streams), 12) + common.PadLeft(common.Count(c.Events), 14) + "\n")
	}
	return b.String()
}

func (m *Model) topTypes(w int) string {
	st := m.c.Styles
	var b strings.Builder
	title := st.Section.Render("Top event types")
	if m.typesOK {
		title += st.Faint.Render(" counted " + common.Since(m.c.Now(), m.typesRead))
	}
	b.WriteString(title + "\n")
	b.WriteString(st.TableHeader.Render(common.PadRight("type", w-14)+common.PadLeft("events", 14)) + "\n")
	if !m.typesOK {
		b.WriteString(st.Faint.Render("counting…") + "\n")
		return b.String()
	}
	n := max(m.c.Height-14, 3)
	for i, t := range m.types {
		if i >= n {
			b.WriteString(st.Faint.Render(fmt.Sprintf("… %d more", len(m.types)-n)) + "\n")
			break
		}
		b.WriteString(common.PadRight(textsafe.Line(t.Type), w-14) + common.PadLeft(common.Count(t.Events), 14) + "\n")
	}
	return b.String()
}

// ShortHelp is the footer help.
func (m *Model) ShortHelp() []key.Binding { return []key.Binding{m.c.Keys.Refresh} }

// FullHelp is the full help.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

// PageID addresses the results to the page that asked (common.Addressed).
func (m statsMsg) PageID() int64 { return m.id }
func (m tickMsg) PageID() int64  { return m.id }

// ID is the page's address.
func (m *Model) ID() int64 { return m.id }
