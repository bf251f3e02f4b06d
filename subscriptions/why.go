package subscriptions

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"eventscope/store"
)

// Retrying is the event a subscription's holder is retrying now.
type Retrying struct {
	EventID  uuid.UUID `json:"event_id"`
	StreamID string    `json:"stream_id"`
	Version  int64     `json:"version"`
	// Attempt is the number of attempts that failed so far, of Attempts
	// (the policy's) before the event is parked.
	Attempt  int `json:"attempt"`
	Attempts int `json:"attempts"`
	// NextAt is when the next attempt starts (zero after the last one).
	NextAt time.Time `json:"next_at,omitzero"`
}

// Attempt is one failed delivery of a parked event.
type Attempt struct {
	At      time.Time `json:"at"`
	Attempt int       `json:"attempt"` // 1 for the first call of a round of retries
	Error   string    `json:"error"`
}

// attemptLog is the goroutine's record of the failed attempts on the event
// it is delivering (reset at each first failure), parked with the event.
type attemptLog struct {
	event uuid.UUID
	list  []Attempt
}

func (l *attemptLog) add(e uuid.UUID, attempt int, err error) {
	if attempt <= 1 || l.event != e {
		l.event, l.list = e, l.list[:0]
	}
	msg := errString(err)
	if len(msg) > historyErrorBytes {
		msg = cutUTF8(msg, historyErrorBytes) + "…"
	}
	l.list = append(l.list, Attempt{At: time.Now().Round(time.Microsecond), Attempt: attempt, Error: msg}) // as the server keeps times
	if len(l.list) > historyKeep {
		l.list = l.list[len(l.list)-historyKeep:]
	}
}

// of returns the attempts recorded for e (as JSON for parkSQL) and the
// first failure's time.
func (l *attemptLog) of(e uuid.UUID) ([]byte, *time.Time) {
	if l.event != e || len(l.list) == 0 {
		return []byte("[]"), nil
	}
	b, err := json.Marshal(l.list)
	if err != nil {
		return []byte("[]"), nil
	}
	first := l.list[0].At
	return b, &first
}

func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// handlerTimes keeps the durations of a subscription's last handler calls
// (written by its goroutine, read by the heartbeat) for their 99th
// percentile.
type handlerTimes struct {
	n   atomic.Int64
	buf [handlerSamples]atomic.Int64
}

// handlerSamples is how many of the last handler calls the percentile is
// taken over.
const handlerSamples = 256

func (h *handlerTimes) add(d time.Duration) {
	i := h.n.Add(1) - 1
	h.buf[i%handlerSamples].Store(int64(d))
}

// p99 is the 99th percentile of the recorded calls and their number (0, 0
// when none was recorded).
func (h *handlerTimes) p99() (time.Duration, int) {
	n := int(min(h.n.Load(), handlerSamples))
	if n == 0 {
		return 0, 0
	}
	v := make([]int64, n)
	for i := range v {
		v[i] = h.buf[i].Load()
	}
	slices.Sort(v)
	k := (99*n + 99) / 100 // ceil(0.99 n)
	return time.Duration(v[k-1]), n
}

// timed runs a handler call and records its duration.
func (s *sub) timed(f func() error) error {
	t := time.Now()
	err := callSafe(f)
	s.handler.add(time.Since(t))
	return err
}

// Reason is the main reason a subscription is behind, one of the
// constants below.
type Reason string

// The reasons, in the order Why looks for them.
const (
	ReasonUpToDate     Reason = "up-to-date"   // nothing undelivered
	ReasonPaused       Reason = "paused"       // an operator paused it
	ReasonStopped      Reason = "stopped"      // StopOnFailure stopped it at a failing event
	ReasonNoHolder     Reason = "no-holder"    // no process runs it
	ReasonUnresponsive Reason = "unresponsive" // its holder sends no heartbeat
	ReasonRetrying     Reason = "retrying"     // its handler fails an event, being retried
	ReasonHeldBack     Reason = "held-back"    // an open transaction holds the log back
	ReasonSlow         Reason = "slow"         // it is working through a backlog
)

// Why says why a subscription is behind: its time lag (the age of the
// oldest event it has not processed) and the main reason.
type Why struct {
	Status Status `json:"status"`
	// Oldest is the oldest event after the checkpoint that the filter takes
	// (nil when there is none). When none of the 10,000 events after the
	// checkpoint matches the filter, it is the first event after the
	// checkpoint and OldestEstimated is true.
	Oldest          *store.PendingEvent `json:"oldest,omitempty"`
	OldestEstimated bool                `json:"oldest_estimated,omitempty"`
	// TimeLag is Oldest's age (0 when up to date).
	TimeLag time.Duration `json:"time_lag_ns"`
	// Reason is the main reason; up-to-date also when the time lag is
	// under a second (events take a moment to commit and be delivered).
	Reason Reason `json:"reason"`
	// Blocker is the transaction holding the log back when the oldest
	// event waits behind it (Reason held-back).
	Blocker *store.Blocker `json:"blocker,omitempty"`
	// At is the server's time of the answer.
	At time.Time `json:"at"`
}

// Why explains one subscription's delay: three queries (its status, the
// oldest event after its checkpoint, and, when that event waits behind an
// open transaction, which transaction), each bounded.
func (a *Admin) Why(ctx context.Context, name string) (Why, error) {
	s, err := a.Get(ctx, name)
	if err != nil {
		return Why{}, err
	}
	w := Why{Status: s, At: s.At}
	old, found, err := a.st.OldestAfter(ctx, s.Checkpoint, store.ReadAllOptions{Categories: s.Categories, Types: s.Types}, lagExactLimit)
	if err != nil {
		return Why{}, fmt.Errorf("why is %s behind: %w", name, err)
	}
	if found {
		w.Oldest, w.OldestEstimated, w.TimeLag = &old, !old.Matches, old.Age
		if !old.Deliverable {
			if w.Blocker, err = a.st.LogBlocker(ctx); err != nil {
				return Why{}, fmt.Errorf("why is %s behind: %w", name, err)
			}
		}
	}
	w.Reason = w.reason()
	return w, nil
}

// behindAfter is the time lag under which a subscription is not behind:
// every event takes a moment to commit and be delivered, and every
// writing transaction holds the log back for its few milliseconds.
const behindAfter = time.Second

func (w Why) reason() Reason {
	s := w.Status
	switch {
	case s.State == StatePaused:
		return ReasonPaused
	case s.State == StateStopped:
		return ReasonStopped
	case w.Oldest == nil && s.Lag == 0:
		return ReasonUpToDate
	case s.State == StateNoHolder:
		return ReasonNoHolder
	case s.State == StateUnresponsive:
		return ReasonUnresponsive
	case s.Retry != nil:
		return ReasonRetrying
	case w.TimeLag < behindAfter:
		return ReasonUpToDate
	case w.Oldest != nil && !w.Oldest.Deliverable && w.Blocker != nil:
		return ReasonHeldBack
	}
	return ReasonSlow
}

// Line is the explanation in one line: "behind 4m12s (1,234 events):
// retrying order-0042@3 (attempt 3 of 5, next in 2s) · 3 parked", or "up
// to date". now is the clock the ages are taken from (the server's, At,
// for an exact answer).
func (w Why) Line(now time.Time) string {
	s := w.Status
	var b strings.Builder
	if w.Reason == ReasonUpToDate {
		b.WriteString("up to date")
	} else {
		if w.Oldest != nil {
			fmt.Fprintf(&b, "behind %s", shortDuration(w.TimeLag+now.Sub(w.At)))
			if w.OldestEstimated {
				b.WriteString("+")
			}
		} else {
			b.WriteString("behind")
		}
		if s.Lag > 0 {
			est := ""
			if s.LagEstimated {
				est = "~"
			}
			unit := "events"
			if s.Lag == 1 && !s.LagEstimated {
				unit = "event"
			}
			fmt.Fprintf(&b, " (%s%s %s)", est, countText(s.Lag), unit)
		}
		b.WriteString(": ")
		b.WriteString(w.reasonText(now))
	}
	if s.Parked > 0 {
		fmt.Fprintf(&b, " · %s parked", countText(s.Parked))
	}
	return b.String()
}

func (w Why) reasonText(now time.Time) string {
	s := w.Status
	switch w.Reason {
	case ReasonPaused:
		if s.PausedAt.IsZero() {
			return "paused"
		}
		return fmt.Sprintf("paused since %s (%s ago)", clock(s.PausedAt), shortDuration(now.Sub(s.PausedAt)))
	case ReasonStopped:
		t := "stopped at a failing event"
		if !s.LastErrorAt.IsZero() {
			t += fmt.Sprintf(" since %s", clock(s.LastErrorAt))
		}
		if s.LastError != "" {
			t += ": " + firstLineOf(s.LastError)
		}
		return t + " (resume retries it)"
	case ReasonNoHolder:
		if s.Heartbeat.IsZero() {
			return "no process runs it (start a worker)"
		}
		return fmt.Sprintf("no process runs it (last heartbeat %s ago)", shortDuration(now.Sub(s.Heartbeat)))
	case ReasonUnresponsive:
		return fmt.Sprintf("holder %s silent for %s (frozen or starved)", s.Holder, shortDuration(now.Sub(s.Heartbeat)))
	case ReasonRetrying:
		r := s.Retry
		t := fmt.Sprintf("retrying %s@%d (attempt %d of %d", r.StreamID, r.Version, r.Attempt, r.Attempts)
		if !r.NextAt.IsZero() {
			t += fmt.Sprintf(", next in %s", shortDuration(max(r.NextAt.Sub(now), 0)))
		}
		return t + ")"
	case ReasonHeldBack:
		if b := w.Blocker; b != nil {
			who := fmt.Sprintf("pid %d", b.PID)
			if b.Prepared != "" {
				who = fmt.Sprintf("prepared transaction %q", b.Prepared)
			}
			t := fmt.Sprintf("held back by %s (transaction open %s", who, shortDuration(b.Age))
			if b.State != "" && b.Prepared == "" {
				t += ", " + b.State
			}
			if b.ApplicationName != "" {
				t += ", " + b.ApplicationName
			}
			return t + ")"
		}
		return "held back by an open transaction"
	}
	// slow
	t := fmt.Sprintf("handler slow, catching up at %s", rateText(s.Rate))
	if s.HandlerCalls > 0 {
		t += fmt.Sprintf(" (p99 %s per event over %d calls)", shortDuration(s.HandlerP99), s.HandlerCalls)
	}
	return t
}

func firstLineOf(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func clock(t time.Time) string { return t.Local().Format("15:04:05") }

// shortDuration is a duration people read at a glance: 850ms, 2.4s, 4m12s,
// 3h05m, 2d04h.
func shortDuration(d time.Duration) string {
	switch {
	case d < 0:
		d = 0
		fallthrough
	case d < time.Millisecond:
		if d < time.Microsecond {
			return fmt.Sprintf("%dns", d.Nanoseconds())
		}
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

func countText(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func rateText(r float64) string {
	switch {
	case r <= 0:
		return "0/s"
	case r < 10:
		return fmt.Sprintf("%.1f/s", r)
	}
	return fmt.Sprintf("%s/s", countText(int64(r+0.5)))
}

// ReplayScope is how many events a reset to the start delivers again.
type ReplayScope struct {
	// Events is the number of events of its categories up to its
	// checkpoint (all of them when it has no category filter).
	Events int64 `json:"events"`
	// AtMost: it filters by type too, so fewer of them are delivered.
	AtMost bool `json:"at_most"`
}

// ReplayCount says how many events resetting the subscription to the start
// would deliver again: the events of its categories (from the streams'
// counts, one cheap query) less those after its checkpoint, which it has
// still to receive anyway.
func (a *Admin) ReplayCount(ctx context.Context, name string) (ReplayScope, error) {
	s, err := a.Get(ctx, name)
	if err != nil {
		return ReplayScope{}, err
	}
	st, err := a.st.Stats(ctx, store.StatsOptions{})
	if err != nil {
		return ReplayScope{}, fmt.Errorf("replay count of %s: %w", name, err)
	}
	var total int64
	for _, c := range st.Categories {
		if len(s.Categories) == 0 || slices.Contains(s.Categories, c.Category) {
			total += c.Events
		}
	}
	return ReplayScope{Events: max(total-s.Lag, 0), AtMost: len(s.Types) > 0}, nil
}
