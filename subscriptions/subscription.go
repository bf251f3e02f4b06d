package subscriptions

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// ControlChannel is the LISTEN/NOTIFY channel admin operations use to tell a
// subscription's holder that its row changed. The payload is the
// subscription's name.
const ControlChannel = "eventscope_control"

// Handler handles one event. It is called at least once per event (a crash
// redelivers at most the unfinished batch). An error makes the runner retry
// the event with backoff, then park it (or stop, with StopOnFailure).
type Handler func(ctx context.Context, e store.Event) error

// TxHandler handles one event inside the transaction that advances the
// subscription's checkpoint: its writes through tx happen exactly once. It
// must not commit or roll back tx. An error rolls the transaction back and
// the event is retried alone, then parked (or the subscription stops).
// Keep it short: an open transaction holds back the global log for every
// reader.
type TxHandler func(ctx context.Context, tx pgx.Tx, e store.Event) error

// RetryPolicy is how a failing event is retried before it is parked.
type RetryPolicy struct {
	// Attempts is the number of handler calls for one event, the first
	// included, before it is parked. Default 5.
	Attempts int
	// Initial is the wait after the first failure; it doubles after each
	// further failure. Default 100ms.
	Initial time.Duration
	// Max caps the wait. Default 10s.
	Max time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = 5
	}
	if p.Initial <= 0 {
		p.Initial = 100 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 10 * time.Second
	}
	if p.Max < p.Initial {
		p.Max = p.Initial
	}
	return p
}

// backoff is the wait after the n-th failed attempt (n >= 1).
func (p RetryPolicy) backoff(n int) time.Duration {
	d := p.Initial
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Subscription describes a durable subscriber.
type Subscription struct {
	// Name identifies the subscription across processes and restarts.
	Name string
	// Categories keeps only events of these stream categories. Default all.
	Categories []string
	// Types keeps only events of these types. Default all.
	Types []string
	// Start is where a NEW subscription starts: events after it are
	// delivered. Default (zero) the beginning of the log. An existing
	// subscription resumes from its stored checkpoint.
	Start store.Checkpoint
	// StartAtEnd starts a NEW subscription at the head of the log (only
	// events appended afterwards are delivered). Default false.
	StartAtEnd bool
	// BatchSize is the number of events per batch: a Handler's checkpoint
	// moves once per batch (so a crash redelivers at most one batch), a
	// TxHandler's batch is one transaction. Pages of up to 10 batches
	// (1,000 events, or one batch if larger) are read at a time. Default 100.
	BatchSize int
	// Retry is how failing events are retried. Defaults: 5 attempts, 100ms
	// doubling up to 10s.
	Retry RetryPolicy
	// StopOnFailure stops the subscription at an event that failed its last
	// attempt, holding its position (state "stopped"), instead of parking
	// the event and moving on. Resume retries the event; a reset moves past
	// it. Default false.
	StopOnFailure bool
	// Handler is an at-least-once handler. Exactly one of Handler and
	// TxHandler must be set.
	Handler Handler
	// TxHandler is an exactly-once (for its writes to this database)
	// handler, run in the checkpoint's transaction.
	TxHandler TxHandler
	// Partitions, when > 0, makes the subscription a group of competing
	// consumers: its streams are split over this many partitions
	// (PartitionOf), each with its own checkpoint and lease, shared among
	// every Runner that runs the group (its members); each stream's events
	// reach one member at a time, in order. The count is fixed when the
	// group is created (a runner with another count takes no partitions).
	// At most MaxPartitions. Default 0: one holder for the whole
	// subscription. See group.go.
	Partitions int
}

func (s Subscription) withDefaults() Subscription {
	if s.BatchSize <= 0 {
		s.BatchSize = 100
	}
	s.Retry = s.Retry.withDefaults()
	s.Categories = nonNil(s.Categories)
	s.Types = nonNil(s.Types)
	return s
}

func (s Subscription) validate() error {
	if err := ValidateName(s.Name); err != nil {
		return err
	}
	if (s.Handler == nil) == (s.TxHandler == nil) {
		return store.InvalidField("handler", fmt.Sprintf("subscription %s needs exactly one of Handler and TxHandler", s.Name))
	}
	if s.Partitions < 0 || s.Partitions > MaxPartitions {
		return store.InvalidField("partitions", fmt.Sprintf("subscription %s has %d partitions; want 0 (no group) to %d", s.Name, s.Partitions, MaxPartitions))
	}
	if s.StartAtEnd && !s.Start.IsZero() {
		return store.InvalidField("start", fmt.Sprintf("subscription %s sets both Start and StartAtEnd", s.Name))
	}
	for _, c := range s.Categories {
		if c == "" {
			return store.InvalidField("categories", fmt.Sprintf("subscription %s has an empty category", s.Name))
		}
	}
	for _, t := range s.Types {
		if t == "" {
			return store.InvalidField("types", fmt.Sprintf("subscription %s has an empty type", s.Name))
		}
	}
	return nil
}

// matches reports whether an event of category cat passes the category
// filter (the type filter is the store's business).
func matchesCategory(cats []string, cat string) bool {
	if len(cats) == 0 {
		return true
	}
	for _, c := range cats {
		if c == cat {
			return true
		}
	}
	return false
}

// ValidateName checks a subscription name: 1 to 200 bytes of UTF-8, no
// whitespace or control characters, no comma, no # (which names a group's
// partitions: GROUP#K).
func ValidateName(name string) error {
	switch {
	case name == "":
		return store.InvalidField("name", "must not be empty")
	case len(name) > 200:
		return store.InvalidField("name", fmt.Sprintf("is %d bytes, at most 200 allowed", len(name)))
	case !utf8.ValidString(name):
		return store.InvalidField("name", "is not valid UTF-8")
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == ',' || r == '#' {
			return store.InvalidField("name", fmt.Sprintf("%q must not contain whitespace, control characters, commas or #", name))
		}
	}
	return nil
}

// Holder is the process holding a subscription.
type Holder struct {
	Host     string `json:"host"`
	PID      int    `json:"pid"`
	Instance string `json:"instance"`
}

func (h *Holder) String() string {
	if h == nil {
		return "-"
	}
	return fmt.Sprintf("%s/%d/%s", h.Host, h.PID, h.Instance)
}

// Status is one subscription's monitoring row.
type Status struct {
	Name       string   `json:"name"`
	State      State    `json:"state"`
	Categories []string `json:"categories"`
	Types      []string `json:"types"`
	// Holder is nil when no process holds the subscription: none has sent
	// a heartbeat for 3 seconds, and no lease lock is held by the last
	// holder (one that holds it silently shows with State unresponsive).
	Holder    *Holder   `json:"holder"`
	Heartbeat time.Time `json:"heartbeat,omitzero"`
	// Checkpoint is the last event processed (or scanned past); Head the
	// newest deliverable event of the log.
	Checkpoint store.Checkpoint `json:"checkpoint"`
	Head       store.Checkpoint `json:"head"`
	// Lag is the number of events after Checkpoint up to Head: matching the
	// filter and exact when the gap is at most 10,000 events; otherwise an
	// estimate, the difference of positions over all events
	// (LagEstimated is then true).
	Lag          int64 `json:"lag"`
	LagEstimated bool  `json:"lag_estimated"`
	// Rate is events processed per second over the last RateWindow (10 s),
	// as the holder measured it (0 without a holder): it falls to 0 within
	// that window once nothing is processed (paused, idle).
	Rate        float64   `json:"rate"`
	Processed   int64     `json:"processed"`
	Parked      int64     `json:"parked"`
	Failures    int64     `json:"failures"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// Paused and Stopped are the control flags (State shows them too).
	Paused  bool `json:"paused"`
	Stopped bool `json:"stopped"`
	// ControlPending is true while the holder has not yet acted on the
	// latest admin operation.
	ControlPending bool `json:"control_pending"`
	// PausedAt is when the pause that paused it was made (zero unless
	// paused).
	PausedAt time.Time `json:"paused_at,omitzero"`
	// Retry is the event the holder is retrying now (nil when none, and
	// without a holder).
	Retry *Retrying `json:"retrying,omitempty"`
	// HandlerP99 is the 99th percentile of the holder's handler time per
	// event over its last HandlerCalls calls (at most 256; 0 when none).
	HandlerP99   time.Duration `json:"handler_p99_ns,omitempty"`
	HandlerCalls int           `json:"handler_calls,omitempty"`
	// At is the server's time of the snapshot.
	At time.Time `json:"at"`

	// A group of competing consumers (Subscription.Partitions > 0) is one
	// Status: Holder is nil, Checkpoint is its partitions' oldest, Lag the
	// largest of theirs, Rate, Processed, Parked and Failures their sums,
	// State the most urgent of theirs (see foldGroups). Members are its
	// runners, Partitions each partition's own status.
	Members    []Member          `json:"members,omitempty"`
	Partitions []PartitionStatus `json:"partitions,omitempty"`

	group                 *string // the row's group (partition rows only)
	partition, partitions *int32
}

// Member is one runner of a group.
type Member struct {
	Instance string    `json:"instance"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	JoinedAt time.Time `json:"joined_at"`
	// Live: the member's lease connection exists. A member that is not
	// live holds nothing; it is forgotten a minute after its last round.
	Live bool `json:"live"`
	// Partitions are the partitions it holds now.
	Partitions []int `json:"partitions"`
	// Lag is the largest lag of its partitions (events of the group's
	// filter after the partition's checkpoint; LagEstimated as Status's).
	Lag          int64   `json:"lag"`
	LagEstimated bool    `json:"lag_estimated"`
	Rate         float64 `json:"rate"`
}

// PartitionStatus is one partition of a group. Lag counts the events of
// the group's filter after the partition's checkpoint up to the head, in
// every partition (the log a holder still has to scan); about 1/Partitions
// of them are the partition's own.
type PartitionStatus struct {
	Partition    int              `json:"partition"`
	State        State            `json:"state"`
	Holder       *Holder          `json:"holder"`
	Checkpoint   store.Checkpoint `json:"checkpoint"`
	Lag          int64            `json:"lag"`
	LagEstimated bool             `json:"lag_estimated"`
	Rate         float64          `json:"rate"`
	Processed    int64            `json:"processed"`
	Parked       int64            `json:"parked"`
}

// ParkedEvent is an event a subscription gave up on.
type ParkedEvent struct {
	Subscription string      `json:"subscription"`
	Event        store.Event `json:"event"`
	Attempts     int         `json:"attempts"`
	LastError    string      `json:"last_error"`
	ParkedAt     time.Time   `json:"parked_at"`
	// RetryRequested is true while a retry waits for the holder.
	RetryRequested bool `json:"retry_requested"`
	// FirstFailedAt is the first failure's time (zero for events parked
	// before version 15 of the schema recorded it).
	FirstFailedAt time.Time `json:"first_failed_at,omitzero"`
	// History is its failed attempts, oldest first (the last 20, each
	// error cut to 500 bytes); LastError holds the last error whole.
	History []Attempt `json:"history"`
}

// Errors: an unknown subscription or parked event is a *store.NotFoundError
// (errors.Is(err, store.ErrNotFound)); bad input (a subscription
// definition, a reset target) is a *store.ValidationError
// (errors.Is(err, store.ErrInvalid)) naming the field.

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// describeEvent names an event in errors and logs.
func describeEvent(e store.Event) string {
	return fmt.Sprintf("event %s (%s@%d, checkpoint %s)", e.EventID, e.StreamID, e.Version, e.Checkpoint)
}

// errString flattens an error for storage (bounded, one line).
func errString(err error) string {
	s := strings.TrimSpace(err.Error())
	if len(s) > 2000 {
		s = s[:2000] + "…"
	}
	return s
}
