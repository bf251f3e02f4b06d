package common

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/charmbracelet/lipgloss"

	"eventscope/tui/styles"

	"time"

	"eventscope/store"
	"eventscope/subscriptions"
)

// SubStatus is a subscription's status as the console shows it (the
// subscriptions package's Status, adapted by tui.Run, so views depend on
// that package's enums only, not on its Admin).
type SubStatus struct {
	Name        string
	State       subscriptions.State
	Categories  []string
	Types       []string
	Holder      string // host:pid (instance), "" when none
	Heartbeat   time.Time
	Checkpoint  store.Checkpoint
	Head        store.Checkpoint
	Lag         int64
	Rate        float64
	Processed   int64
	Parked      int64
	LastError   string
	LastErrorAt time.Time
	// A group of competing consumers: its partition count (0 for a plain
	// subscription), its members, and the partitions no member holds.
	Partitions int
	Members    []SubMember
	Unheld     []int
}

// SubMember is one member of a subscription group.
type SubMember struct {
	Instance   string
	Holder     string // host:pid
	Live       bool
	Partitions []int
	Lag        int64
	Rate       float64
}

// HolderText is the holder column: the holder, a group's live members and
// partition count in parentheses, or "" when none.
func (s SubStatus) HolderText() string {
	if s.Partitions == 0 {
		return s.Holder
	}
	live := 0
	for _, m := range s.Members {
		if m.Live {
			live++
		}
	}
	return fmt.Sprintf("%d members (%d)", live, s.Partitions)
}

// PartitionList prints partition numbers as 0,2,4 ("-" for none).
func PartitionList(ps []int) string {
	if len(ps) == 0 {
		return "-"
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = strconv.Itoa(p)
	}
	return strings.Join(parts, ",")
}

// SubsMsg is a snapshot of every subscription (from the monitor, about
// once a second). The root hands it to every view.
type SubsMsg struct {
	Subs []SubStatus
	Err  error
	At   time.Time
}

// RateMsg is the header's probe result: the head checkpoint, the append
// rate measured since the previous probe, and the horizon (what waits
// behind an open transaction, and which). The root hands it to every
// view: it is the one source of the head and of the held-back state.
type RateMsg struct {
	Head    store.Checkpoint
	Rate    float64
	At      time.Time
	Horizon store.Horizon
}

// LagThreshold is the lag (events) above which a live subscription counts
// as lagging.
const LagThreshold = 1000

// ParkedEvent is an event a subscription gave up on after its retries.
type ParkedEvent struct {
	Event          store.Event
	Attempts       int
	LastError      string
	ParkedAt       time.Time
	RetryRequested bool
	// FirstFailedAt is zero when it was parked before the store kept it.
	FirstFailedAt time.Time
	// History is its failed attempts, oldest first (the last 20).
	History []Attempt
}

// Attempt is one failed delivery of a parked event.
type Attempt struct {
	At      time.Time
	Attempt int
	Error   string
}

// Delivery is where an event stands for one subscription whose filter
// takes it (the subscriptions package's Delivery, adapted by tui.Run).
type Delivery struct {
	Subscription string
	State        subscriptions.DeliveryState
	// SubState is the subscription's state (why a pending event waits).
	SubState subscriptions.State
	// Attempts (of Of, while retrying) and LastError: a parked or
	// retrying event's.
	Attempts, Of int
	LastError    string
	ParkedAt     time.Time
}

// SubWhy says why a subscription is behind, in one line (the
// subscriptions package's Why, adapted by tui.Run).
type SubWhy struct {
	Reason subscriptions.Reason
	// Line is the explanation: "behind 4m12s (1,234 events): paused since
	// 12:01:07 (4m ago) · 3 parked".
	Line string
	At   time.Time
}

// SubHistory keeps each subscription's recent lag and rate (one sample per
// snapshot) for sparklines. The subscriptions view feeds it; the detail
// view reads it.
type SubHistory struct {
	n    int
	lag  map[string]*Ring
	rate map[string]*Ring
}

// NewSubHistory keeps n samples per subscription.
func NewSubHistory(n int) *SubHistory {
	return &SubHistory{n: n, lag: map[string]*Ring{}, rate: map[string]*Ring{}}
}

// Add records a snapshot.
func (h *SubHistory) Add(subs []SubStatus) {
	for _, s := range subs {
		if h.lag[s.Name] == nil {
			h.lag[s.Name], h.rate[s.Name] = NewRing(h.n), NewRing(h.n)
		}
		h.lag[s.Name].Add(float64(s.Lag))
		h.rate[s.Name].Add(s.Rate)
	}
}

// Lag returns a subscription's lag samples, oldest first.
func (h *SubHistory) Lag(name string) []float64 {
	if r := h.lag[name]; r != nil {
		return r.Values()
	}
	return nil
}

// Rate returns a subscription's rate samples, oldest first.
func (h *SubHistory) Rate(name string) []float64 {
	if r := h.rate[name]; r != nil {
		return r.Values()
	}
	return nil
}

// StateHeldBack is the state shown for a live subscription while an
// open transaction holds the log back: its lag 0 means "nothing visible
// yet", not "up to date".
const StateHeldBack subscriptions.State = "held back"

// ShownState is the state word the console shows for a subscription in
// state while the log is as h says.
func ShownState(state subscriptions.State, h store.Horizon) subscriptions.State {
	if state == subscriptions.StateLive && HeldBack(h.Blocker) {
		return StateHeldBack
	}
	return state
}

// StateStyle is the style of a subscription state word.
func StateStyle(st *styles.Styles, state subscriptions.State) lipgloss.Style {
	switch state {
	case StateHeldBack:
		return st.StateFailing
	case subscriptions.StateLive:
		return st.StateLive
	case subscriptions.StateCatchingUp:
		return st.StateCatchingUp
	case subscriptions.StatePaused:
		return st.StatePaused
	case subscriptions.StateFailing:
		return st.StateFailing
	case subscriptions.StateNoHolder:
		return st.StateNoHolder
	}
	return st.StateStopped
}

// HeldBackAfter is how long a transaction must hold the global log back
// before the console warns: every writing transaction holds it for its
// few milliseconds, which is normal.
const HeldBackAfter = time.Second

// HeldBack reports whether b deserves the warning.
func HeldBack(b *store.Blocker) bool { return b != nil && b.Age >= HeldBackAfter }

// HeldBackText says what holds the log back, compactly, for a status
// line: "held back by pid 4242 for 12s · 3 committed events wait" ("" when
// nothing does, or not for long).
func HeldBackText(h store.Horizon) string {
	b := h.Blocker
	if !HeldBack(b) {
		return ""
	}
	who := fmt.Sprintf("pid %d", b.PID)
	if b.Prepared != "" {
		who = fmt.Sprintf("prepared transaction %q", b.Prepared)
	}
	n := Count(h.Pending)
	if h.PendingMore {
		n += "+"
	}
	unit := "events wait"
	if h.Pending == 1 && !h.PendingMore {
		unit = "event waits"
	}
	return fmt.Sprintf("held back by %s for %s · %s committed %s", who, Age(b.Age), n, unit)
}
