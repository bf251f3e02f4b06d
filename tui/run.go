// Package tui is eventscope's console: a terminal explorer and admin
// console over the store (bubbletea). The root model in this package does
// layout, routing and navigation; every view is a package of its own under
// tui/, reading through a narrow interface it defines. Run wires the real
// store, subscriptions admin and monitor, and the domain's time-travel into
// those interfaces.
package tui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/term"
	"github.com/google/uuid"

	"eventscope/domain"
	"eventscope/store"
	"eventscope/store/query"
	"eventscope/subscriptions"
	"eventscope/tui/action"
	"eventscope/tui/common"
	"eventscope/tui/header"
	"eventscope/tui/keymap"
	qview "eventscope/tui/query"
	"eventscope/tui/styles"
	"eventscope/tui/tail"
	"eventscope/tui/timetravel"
)

// Config is what the console runs on.
type Config struct {
	Store      *store.Store
	Admin      *subscriptions.Admin
	Monitor    *subscriptions.Monitor
	TimeTravel *domain.TimeTravel
	// Forget is a time travel on the primary that forgets subjects (and
	// rebuilds their snapshots); nil: the console cannot forget.
	Forget   *domain.TimeTravel
	ReadOnly bool
	// ReadOnlyReason says why ReadOnly when the connected role's
	// privileges imposed it (store.Capabilities); empty for --read-only.
	ReadOnlyReason string
	// DatabaseURL is shown in the header, with any password redacted.
	DatabaseURL string
	// Primary, when Store is a hot standby of it (--read-db), is where
	// writes and admin go (Admin, Monitor and Forget are built on it); the
	// header shows the standby's lag behind it and the tail takes its
	// wake-ups from it. Nil or Store itself: reads come from the primary.
	Primary *store.Store
}

// Run runs the console until the user quits or ctx is done. The terminal
// is always restored: a panic is caught, the terminal released, and the
// panic returned as an error (its stack trace goes to a file, never to the
// screen).
func Run(ctx context.Context, cfg Config) (err error) {
	if cfg.Store == nil {
		return errors.New("tui: no store")
	}
	if err := CheckTerminal(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d := DepsFor(ctx, cfg)
	d.Clipboard = os.Stdout
	d.ClipboardCheck = func() error {
		return common.ClipboardSupport(os.Getenv, func() (string, error) {
			out, err := exec.CommandContext(ctx, "tmux", "show-options", "-gv", "set-clipboard").Output()
			return string(out), err
		})
	}
	st := styles.New(lipgloss.DefaultRenderer())
	if os.Getenv("NO_COLOR") != "" { // no colour, but bold, reverse and underline
		st = styles.NoColor(lipgloss.DefaultRenderer())
	}
	c := common.New(st, keymap.Default())
	m := New(ctx, c, d)
	p := tea.NewProgram(m,
		tea.WithAltScreen(),
		tea.WithMouseCellMotion(),
		tea.WithContext(ctx),
		tea.WithoutCatchPanics(), // ours print no stack over the screen
	)
	defer func() {
		if r := recover(); r != nil {
			_ = p.ReleaseTerminal()
			path := logPanic(r, debug.Stack())
			err = fmt.Errorf("the console crashed: %v (stack trace in %s)", r, path)
		}
	}()
	_, err = p.Run()
	if path := lastPanic.Load(); path != nil && err == nil {
		fmt.Fprintf(os.Stderr, "eventscope: the console recovered from an internal error; details in %s\n", *path)
	}
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // cancelled from outside (a signal): a normal end
	}
	return err
}

// ErrNoTerminal: the console needs a terminal on stdin and stdout.
var ErrNoTerminal = errors.New("the console needs a terminal (stdin and stdout); for scripts use the subcommands, see eventscope --help")

// CheckTerminal returns ErrNoTerminal unless stdin and stdout are a
// terminal (callers check before connecting to anything).
func CheckTerminal() error {
	if !term.IsTerminal(os.Stdin.Fd()) || !term.IsTerminal(os.Stdout.Fd()) {
		return ErrNoTerminal
	}
	return nil
}

var lastPanic atomic.Pointer[string]

// logPanic writes a panic's stack trace to a temporary file and returns
// its path.
func logPanic(r any, stack []byte) string {
	f, err := os.CreateTemp("", "eventscope-panic-*.txt")
	if err != nil {
		return "(could not write the stack trace: " + err.Error() + ")"
	}
	defer f.Close()
	fmt.Fprintf(f, "panic: %v\n\n%s", r, stack)
	path := f.Name()
	lastPanic.Store(&path)
	return path
}

// DepsFor adapts the real packages to the views' interfaces.
func DepsFor(ctx context.Context, cfg Config) Deps {
	st := cfg.Store
	d := Deps{
		Header:      st,
		Overview:    st,
		Streams:     st,
		Stream:      streamSource{st},
		Event:       eventSource{Store: st, adm: cfg.Admin},
		Events:      st,
		Related:     st,
		Tail:        tailStarter{st: st},
		Trace:       st,
		Types:       st,
		Query:       qview.FromStore(st),
		ReadOnly:    cfg.ReadOnly,
		DatabaseURL: cfg.DatabaseURL,
	}
	d.ReadOnlyReason = cfg.ReadOnlyReason
	if cfg.Primary != nil && cfg.Primary != st {
		d.Replica = replicaLag{primary: cfg.Primary, replica: st}
		d.Tail = tailStarter{st: st, primary: cfg.Primary}
	}
	if cfg.TimeTravel != nil {
		d.TimeTravel = timeTravel{tt: cfg.TimeTravel, st: st}
	}
	if cfg.Forget != nil && !cfg.ReadOnly {
		d.Forget = forgetter{cfg.Forget}
	}
	if cfg.Admin != nil {
		a := admin{cfg.Admin}
		d.Subs, d.SubDetail, d.Admin = a, a, a
	}
	if cfg.Monitor != nil {
		d.SubsFeed = startMonitor(ctx, cfg.Monitor)
	}
	return d
}

// streamSource is the store with the stream view's server-side search.
type streamSource struct{ *store.Store }

func (s streamSource) FindInStream(ctx context.Context, stream string, f query.Filter, o query.FindOptions) (query.Found, error) {
	return query.FindInStream(ctx, s.Store, stream, f, o)
}

// tailStarter follows the global log from its head with
// subscriptions.Follow (its own LISTEN connection, the held-back watcher,
// polling, reconnection) into the tail's bounded feed.
type tailStarter struct {
	st      *store.Store
	primary *store.Store // when st is a standby of it: wake-ups from there
}

// replicaLag is the header's view of subscriptions.ReplicaLag.
type replicaLag struct{ primary, replica *store.Store }

func (r replicaLag) ReplicaLag(ctx context.Context) (header.Lag, error) {
	s, err := subscriptions.ReplicaLag(ctx, r.primary, r.replica)
	return header.Lag{InRecovery: s.InRecovery, Bytes: s.LagBytes, Time: s.LagTime}, err
}

func (t tailStarter) StartTail(ctx context.Context, feed *tail.Feed) {
	go func() {
		defer func() {
			if r := recover(); r != nil {
				feed.SetState(tail.ReaderState{Err: fmt.Errorf("tail stopped: %v", r), Since: time.Now()})
			}
		}()
		var head store.Checkpoint
		for {
			h, err := t.st.Head(ctx)
			if err == nil {
				head = h
				break
			}
			feed.SetState(tail.ReaderState{Err: err, Since: time.Now()})
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
		feed.SetState(tail.ReaderState{})
		var failing atomic.Bool
		_ = subscriptions.Follow(ctx, t.st, head, subscriptions.FollowOptions{
			BatchSize: 1000,
			Primary:   t.primary,
			Logf: func(format string, args ...any) {
				failing.Store(true)
				feed.SetState(tail.ReaderState{Err: fmt.Errorf(format, args...), Since: time.Now()})
			},
		}, func(evs []store.Event) error {
			if failing.Swap(false) {
				feed.SetState(tail.ReaderState{})
			}
			feed.Push(evs) // never blocks: drops the oldest when the UI lags
			return nil
		})
	}()
}

// timeTravel adapts domain.TimeTravel.
type timeTravel struct {
	tt *domain.TimeTravel
	st *store.Store
}

func (t timeTravel) TransitionAt(ctx context.Context, stream string, version int64) (timetravel.Transition, error) {
	if version < 0 {
		info, err := t.st.StreamInfo(ctx, stream)
		if err != nil {
			return timetravel.Transition{}, err
		}
		version = info.Version
	}
	tr, err := t.tt.TransitionAt(ctx, stream, version)
	if err != nil {
		return timetravel.Transition{}, err
	}
	out := timetravel.Transition{Before: tr.Before, After: convState(tr.After)}
	for _, c := range tr.Changes {
		out.Changes = append(out.Changes, timetravel.Change{Path: c.Path, Kind: string(c.Kind), Before: c.Before, After: c.After})
	}
	return out, nil
}

func (t timeTravel) VersionAt(ctx context.Context, stream string, at time.Time) (int64, error) {
	return t.tt.VersionAt(ctx, stream, at)
}

func convState(s domain.State) timetravel.State {
	return timetravel.State{
		Stream: s.Stream, Version: s.Version, LastVersion: s.LastVersion,
		Aggregate: s.Aggregate, Generic: s.Generic, State: json.RawMessage(s.State),
		Event: s.Event, FromSnapshot: s.FromSnapshot,
	}
}

// admin adapts subscriptions.Admin to the action layer and the views.
type admin struct{ a *subscriptions.Admin }

func convStatus(s subscriptions.Status) common.SubStatus {
	out := common.SubStatus{
		Name: s.Name, State: s.State, Categories: s.Categories, Types: s.Types,
		Heartbeat: s.Heartbeat, Checkpoint: s.Checkpoint, Head: s.Head, Lag: s.Lag, Rate: s.Rate,
		Processed: s.Processed, Parked: s.Parked, LastError: s.LastError, LastErrorAt: s.LastErrorAt,
	}
	if s.Holder != nil {
		out.Holder = fmt.Sprintf("%s:%d", s.Holder.Host, s.Holder.PID)
		if s.Holder.Instance != "" {
			out.Holder += " (" + s.Holder.Instance + ")"
		}
	}
	out.Partitions = len(s.Partitions)
	for _, m := range s.Members {
		out.Members = append(out.Members, common.SubMember{Instance: m.Instance, Holder: fmt.Sprintf("%s:%d", m.Host, m.PID),
			Live: m.Live, Partitions: m.Partitions, Lag: m.Lag, Rate: m.Rate})
	}
	for _, p := range s.Partitions {
		if p.Holder == nil {
			out.Unheld = append(out.Unheld, p.Partition)
		}
	}
	return out
}

func convStatuses(l []subscriptions.Status) []common.SubStatus {
	out := make([]common.SubStatus, len(l))
	for i, s := range l {
		out[i] = convStatus(s)
	}
	return out
}

func (a admin) List(ctx context.Context) ([]common.SubStatus, error) {
	l, err := a.a.List(ctx)
	return convStatuses(l), err
}

func (a admin) Get(ctx context.Context, name string) (common.SubStatus, error) {
	s, err := a.a.Get(ctx, name)
	return convStatus(s), err
}

func (a admin) Parked(ctx context.Context, name string) ([]common.ParkedEvent, error) {
	l, err := a.a.Parked(ctx, name)
	if err != nil {
		return nil, err
	}
	out := make([]common.ParkedEvent, len(l))
	for i, p := range l {
		out[i] = common.ParkedEvent{Event: p.Event, Attempts: p.Attempts, LastError: p.LastError, ParkedAt: p.ParkedAt,
			RetryRequested: p.RetryRequested, FirstFailedAt: p.FirstFailedAt}
		for _, h := range p.History {
			out[i].History = append(out[i].History, common.Attempt{At: h.At, Attempt: h.Attempt, Error: h.Error})
		}
	}
	return out, nil
}

// eventSource is the event view's source: the store for the stream,
// the admin for the deliveries (nil without one).
type eventSource struct {
	*store.Store
	adm *subscriptions.Admin
}

func (s eventSource) Deliveries(ctx context.Context, e store.Event) ([]common.Delivery, error) {
	if s.adm == nil {
		return nil, errors.New("no subscriptions admin")
	}
	l, err := s.adm.Deliveries(ctx, e)
	if err != nil {
		return nil, err
	}
	out := make([]common.Delivery, len(l))
	for i, d := range l {
		out[i] = common.Delivery{Subscription: d.Subscription, State: d.State, SubState: d.SubState,
			Attempts: d.Attempts, Of: d.Of, LastError: d.LastError, ParkedAt: d.ParkedAt}
	}
	return out, nil
}

func (a admin) ReplayCount(ctx context.Context, name string) (int64, bool, error) {
	r, err := a.a.ReplayCount(ctx, name)
	return r.Events, r.AtMost, err
}

func (a admin) Why(ctx context.Context, name string) (common.SubWhy, error) {
	w, err := a.a.Why(ctx, name)
	if err != nil {
		return common.SubWhy{}, err
	}
	return common.SubWhy{Reason: w.Reason, Line: w.Line(w.At), At: w.At}, nil
}

func (a admin) Pause(ctx context.Context, name string) error  { return a.a.Pause(ctx, name) }
func (a admin) Resume(ctx context.Context, name string) error { return a.a.Resume(ctx, name) }

func (a admin) Reset(ctx context.Context, name string, to action.ResetTarget) error {
	return a.a.Reset(ctx, name, to)
}

func (a admin) Retry(ctx context.Context, name string, id uuid.UUID) error {
	return a.a.Retry(ctx, name, id)
}

func (a admin) RetryAll(ctx context.Context, name string) (int, error) {
	n, err := a.a.RetryAll(ctx, name)
	return n, err
}

func (a admin) Skip(ctx context.Context, name string, id uuid.UUID) error {
	return a.a.Skip(ctx, name, id)
}

// monitorFeed runs the monitor on its own goroutine and keeps only the
// newest snapshot: the UI takes it when it is ready, and a slow UI never
// blocks the monitor (tea.Program.Send would).
type monitorFeed struct {
	ctx    context.Context
	mu     sync.Mutex
	latest *common.SubsMsg
	signal chan struct{}
}

func startMonitor(ctx context.Context, mon *subscriptions.Monitor) *monitorFeed {
	f := &monitorFeed{ctx: ctx, signal: make(chan struct{}, 1)}
	go func() {
		defer func() {
			if r := recover(); r != nil {
				f.put(common.SubsMsg{Err: fmt.Errorf("monitor stopped: %v", r), At: time.Now()})
			}
		}()
		mon.Run(ctx, func(l []subscriptions.Status, err error) {
			f.put(common.SubsMsg{Subs: convStatuses(l), Err: err, At: time.Now()})
		})
	}()
	return f
}

func (f *monitorFeed) put(m common.SubsMsg) {
	f.mu.Lock()
	f.latest = &m
	f.mu.Unlock()
	select {
	case f.signal <- struct{}{}:
	default:
	}
}

// Next waits for the next snapshot.
func (f *monitorFeed) Next() tea.Cmd {
	return func() tea.Msg {
		for {
			select {
			case <-f.signal:
			case <-f.ctx.Done():
				return nil
			}
			f.mu.Lock()
			m := f.latest
			f.latest = nil
			f.mu.Unlock()
			if m != nil {
				return *m
			}
		}
	}
}

// forgetter forgets subjects for the console.
type forgetter struct{ tt *domain.TimeTravel }

func (f forgetter) Forget(ctx context.Context, subject string) (string, error) {
	res, err := domain.Forget(ctx, f.tt, subject)
	switch {
	case err != nil:
		return "", err
	case !res.HadKey:
		return fmt.Sprintf("%s had no key: nothing erased (%d events already read as null)", subject, res.Events), nil
	}
	return fmt.Sprintf("forgot %s: %d events in %d streams now read its fields as null; %d snapshots rebuilt", subject, res.Events, len(res.Streams), res.SnapshotsRebuilt), nil
}
