// Package header is the console's top line: the database (password
// redacted), the server version, the head checkpoint, the append rate, and
// the READ-ONLY and HELD-BACK badges and, when the log is read from a hot
// standby (--read-db), how far that replica is behind the primary. It
// probes the horizon (the head and what holds it back, and the replica's
// lag) once a second and shares it with every view (common.RateMsg), so
// they all show one head; the probe doubles as the connection check behind
// the lost-connection banner.
package header

import (
	"context"
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"eventscope/store"
	"eventscope/tui/common"
)

// Source is what the header reads: the head and what holds it back, in
// one probe (*store.Store is one).
type Source interface {
	Horizon(ctx context.Context) (store.Horizon, error)
}

// Replica reports how far the read database (a hot standby the console
// reads the log from) is behind the primary that takes writes and admin.
type Replica interface {
	ReplicaLag(ctx context.Context) (Lag, error)
}

// Lag is the read database's distance behind the primary.
type Lag struct {
	// InRecovery is false when the read database is not a standby.
	InRecovery bool
	// Bytes of WAL it has still to replay; Time, the age of the last
	// transaction it replayed while it is behind (0 when caught up).
	Bytes int64
	Time  time.Duration
}

// Interval is the probe period.
const Interval = time.Second

// LagWarn is the replica lag past which the header warns.
const LagWarn = 5 * time.Second

type headMsg struct {
	id   int64
	head store.Horizon
	at   time.Time
	err  error
	// the replica's lag (with a Replica only)
	lag    Lag
	lagErr error
}

type tickMsg struct{ id int64 }

// Model is the header state.
type Model struct {
	c        common.Common
	ctx      context.Context
	src      Source
	id       int64
	db       string
	readOnly bool
	replica  Replica

	lag      Lag
	lagErr   error
	lagKnown bool

	version string
	head    store.Checkpoint
	rate    float64
	lastPos int64
	lastAt  time.Time
	horizon store.Horizon
	up      bool
	probed  bool
}

// New makes the header. dbURL is redacted here, once.
func New(ctx context.Context, c common.Common, src Source, dbURL string, readOnly bool) *Model {
	return &Model{c: c, ctx: ctx, src: src, id: common.NewID(), db: common.RedactURL(dbURL), readOnly: readOnly, up: true}
}

// WithReplica makes the header show the read database's lag behind the
// primary, probed with the head (nil: reads come from the primary).
func (m *Model) WithReplica(r Replica) *Model {
	m.replica = r
	return m
}

// Init starts probing.
func (m *Model) Init() tea.Cmd { return m.probe() }

func (m *Model) probe() tea.Cmd {
	if m.src == nil {
		return nil
	}
	id, src, rep, ctx := m.id, m.src, m.replica, m.ctx
	return func() tea.Msg {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		h, err := src.Horizon(cctx)
		msg := headMsg{id: id, head: h, at: time.Now(), err: err}
		if rep != nil && err == nil {
			msg.lag, msg.lagErr = rep.ReplicaLag(cctx)
		}
		return msg
	}
}

// Up reports whether the last probe reached the database.
func (m *Model) Up() bool { return m.up }

// Update handles the probe results and the stats the overview polls.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tickMsg:
		if msg.id == m.id {
			return m.probe()
		}
	case headMsg:
		if msg.id != m.id {
			return nil
		}
		next := m.c.Tick(Interval, func(time.Time) tea.Msg { return tickMsg{id: m.id} })
		if msg.err != nil {
			m.up = false
			err := msg.err
			return tea.Batch(next, func() tea.Msg { return common.ConnStateMsg{Up: false, Err: err} })
		}
		cmds := []tea.Cmd{next}
		if !m.up {
			cmds = append(cmds, func() tea.Msg { return common.ConnStateMsg{Up: true} })
		}
		m.up = true
		if m.probed && msg.at.After(m.lastAt) {
			d := msg.head.Head.Pos - m.lastPos
			if d < 0 {
				d = 0
			}
			m.rate = float64(d) / msg.at.Sub(m.lastAt).Seconds()
		}
		m.probed = true
		if m.replica != nil {
			m.lag, m.lagErr, m.lagKnown = msg.lag, msg.lagErr, true
		}
		m.head, m.lastPos, m.lastAt, m.horizon = msg.head.Head, msg.head.Head.Pos, msg.at, msg.head
		rm := common.RateMsg{Head: m.head, Rate: m.rate, At: msg.at, Horizon: msg.head}
		cmds = append(cmds, func() tea.Msg { return rm })
		return tea.Batch(cmds...)
	case common.StatsMsg:
		// Only the version: the head and the held-back badge are the
		// probe's, the one source every view shows.
		m.version, _, _ = strings.Cut(msg.Stats.ServerVersion, " ")
	}
	return nil
}

// View renders the header line at width w.
func (m *Model) View(w int) string {
	st := m.c.Styles
	left := st.Title.Render("eventscope") + " " + st.DB.Render(m.db)
	var parts []string
	if m.version != "" {
		parts = append(parts, "PostgreSQL "+m.version)
	}
	parts = append(parts, "head "+m.head.String())
	if m.probed {
		parts = append(parts, common.Rate(m.rate))
	}
	right := st.HeaderInfo.Render(strings.Join(parts, " · "))
	if r, warn := m.replicaText(); r != "" {
		style := st.HeaderInfo
		if warn {
			style = st.Warning
		}
		right += " " + style.Render(r)
	}
	if b := m.horizon.Blocker; common.HeldBack(b) {
		right += " " + st.HeldBack.Render(fmt.Sprintf("HELD BACK pid %d %s", b.PID, common.Age(b.Age)))
	}
	if m.readOnly {
		right += " " + st.ReadOnly.Render("READ-ONLY")
	}
	lw, rw := ansi.StringWidth(left), ansi.StringWidth(right)
	if lw+1+rw > w {
		// Shorten the database first; the badges matter more.
		room := w - rw - 1
		if room < 12 {
			return ansi.Truncate(right, w, "…")
		}
		left = ansi.Truncate(left, room, "…")
		lw = ansi.StringWidth(left)
	}
	return left + strings.Repeat(" ", max(w-lw-rw, 1)) + right
}

// replicaText is the replica part of the header ("replica · 0.4 s
// behind"), and whether it is a warning: lag past LagWarn, a failed lag
// probe, or a read database that is not a standby. Empty when reads come
// from the primary.
func (m *Model) replicaText() (string, bool) {
	if m.replica == nil {
		return "", false
	}
	switch {
	case !m.lagKnown:
		return "replica", false
	case m.lagErr != nil:
		return "replica · lag unknown", true
	case !m.lag.InRecovery:
		return "replica · not a standby", true
	case m.lag.Bytes <= 0:
		return "replica · caught up", false
	case m.lag.Time <= 0:
		return fmt.Sprintf("replica · %s B of WAL behind", common.Count(m.lag.Bytes)), false
	}
	return "replica · " + lagString(m.lag.Time) + " behind", m.lag.Time >= LagWarn
}

// lagString is a lag as the header shows it: tenths of a second under a
// minute, then common.Age.
func lagString(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return common.Age(d)
}

// PageID addresses the results to the page that asked (common.Addressed).
func (m headMsg) PageID() int64 { return m.id }
func (m tickMsg) PageID() int64 { return m.id }

// ID is the page's address.
func (m *Model) ID() int64 { return m.id }
