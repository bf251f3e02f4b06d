package tail

import (
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"eventscope/store"
)

// BatchWindow is how long the feed collects events before handing them to
// the view as one message: at 2,000 events/s that is ~13 renders a second
// instead of 2,000.
const BatchWindow = 75 * time.Millisecond

// Feed is the bounded buffer between the reader goroutine and the view.
// The reader never blocks on the UI: Push appends and, past Max pending
// events, drops the oldest and counts them. The view pulls batches with
// Next, a command that waits for events and the batch window. (tea's
// Program.Send blocks, so the reader must not call it.)
type Feed struct {
	Max int
	// MaxBytes bounds the pending events by bytes too (by Size); 0 means
	// no byte bound. The newest event is kept even when larger.
	MaxBytes int64

	mu      sync.Mutex
	pending []store.Event
	pbytes  int64
	dropped int64
	state   ReaderState
	changed bool
	signal  chan struct{}
	done    <-chan struct{}
	last    time.Time
	window  time.Duration
}

// ReaderState is what the reader reports besides events.
type ReaderState struct {
	Err   error     // the last read error (nil when reading)
	Since time.Time // when Err started
}

// NewFeed makes a feed holding at most max pending events; done ends Next.
func NewFeed(max int, done <-chan struct{}) *Feed {
	return &Feed{Max: max, signal: make(chan struct{}, 1), done: done, window: BatchWindow}
}

// SetWindow changes the batch window (tests use 0).
func (f *Feed) SetWindow(d time.Duration) { f.window = d }

// Push adds events; it never blocks.
func (f *Feed) Push(evs []store.Event) {
	if len(evs) == 0 {
		return
	}
	f.mu.Lock()
	f.pending = append(f.pending, evs...)
	for i := range evs {
		f.pbytes += Size(&evs[i])
	}
	over := max(len(f.pending)-f.Max, 0)
	if f.MaxBytes > 0 {
		b := f.pbytes
		for i := 0; i < over; i++ {
			b -= Size(&f.pending[i])
		}
		for over < len(f.pending)-1 && b > f.MaxBytes {
			b -= Size(&f.pending[over])
			over++
		}
	}
	if over > 0 {
		f.dropped += int64(over)
		for i := 0; i < over; i++ {
			f.pbytes -= Size(&f.pending[i])
		}
		// Copy down so the backing array does not grow without bound.
		n := copy(f.pending, f.pending[over:])
		clear(f.pending[n:])
		f.pending = f.pending[:n]
	}
	f.mu.Unlock()
	f.kick()
}

// SetState records the reader's state (shown by the view).
func (f *Feed) SetState(s ReaderState) {
	f.mu.Lock()
	changed := (s.Err == nil) != (f.state.Err == nil)
	f.state = s
	if changed {
		f.changed = true
	}
	f.mu.Unlock()
	if changed {
		f.kick()
	}
}

func (f *Feed) kick() {
	select {
	case f.signal <- struct{}{}:
	default:
	}
}

// BatchMsg is one batch of events for the view with id.
type BatchMsg struct {
	ID      int64
	Events  []store.Event
	Dropped int64 // events dropped since the previous batch (the UI lagged)
	State   ReaderState
}

// Next returns a command that waits for the next batch for the view id.
func (f *Feed) Next(id int64) tea.Cmd {
	return func() tea.Msg {
		select {
		case <-f.signal:
		case <-f.done:
			return nil
		}
		f.mu.Lock()
		wait := f.window - time.Since(f.last)
		f.mu.Unlock()
		if wait > 0 {
			select {
			case <-time.After(wait):
			case <-f.done:
				return nil
			}
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		msg := BatchMsg{ID: id, Events: f.pending, Dropped: f.dropped, State: f.state}
		f.pending, f.pbytes, f.dropped, f.changed = nil, 0, 0, false
		f.last = time.Now()
		// Drain a signal that arrived for events now taken.
		select {
		case <-f.signal:
		default:
		}
		return msg
	}
}

// PageID addresses the batch to its tail view (common.Addressed).
func (m BatchMsg) PageID() int64 { return m.ID }
