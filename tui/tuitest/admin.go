package tuitest

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"eventscope/store"
	"eventscope/subscriptions"
	"eventscope/tui/common"
)

// Admin is the one fake subscriptions admin of the console's tests: it
// serves the subscriptions list and detail (subs.Source,
// subdetail.Source) and takes the actions (action.Admin), recording each
// call as "pause NAME", "resume NAME", "reset NAME TARGET", "retry NAME
// ID8", "retryall NAME", "skip NAME ID8" (ID8: the event id's first eight
// characters). An action on a subscription it does not hold is recorded,
// then fails with store.NotFoundError. Pause and resume change the state
// Get reports; retry and skip remove the parked event, retry all removes
// them all.
type Admin struct {
	mu     sync.Mutex
	subs   []common.SubStatus
	parked []common.ParkedEvent
	calls  []string
	why    map[string]common.SubWhy
	queue  bool // retries only mark the events (QueueRetries)
}

// QueueRetries makes retry and retry all do what the real admin does:
// mark the parked events for the holder to retry (RetryRequested), leaving
// them parked; the test then delivers or re-parks them with SetParked.
func (a *Admin) QueueRetries() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.queue = true
}

func (a *Admin) markRetry(id *uuid.UUID) int {
	n := 0
	for i := range a.parked {
		if id == nil || a.parked[i].Event.EventID == *id {
			a.parked[i].RetryRequested = true
			n++
		}
	}
	return n
}

// SetWhy sets what Why answers for a subscription (by default: "up to
// date" at lag 0, else a handler-slow line with the lag and rate).
func (a *Admin) SetWhy(name string, w common.SubWhy) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.why == nil {
		a.why = map[string]common.SubWhy{}
	}
	a.why[name] = w
}

// ReplayCount answers the subscription's Processed count (at most, when
// it filters by type).
func (a *Admin) ReplayCount(_ context.Context, name string) (int64, bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i := a.find(name); i >= 0 {
		return a.subs[i].Processed, len(a.subs[i].Types) > 0, nil
	}
	return 0, false, notFound(name)
}

// ParkedNow is the parked events as they stand (a copy).
func (a *Admin) ParkedNow() []common.ParkedEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]common.ParkedEvent(nil), a.parked...)
}

// SetParked replaces the parked events.
func (a *Admin) SetParked(p []common.ParkedEvent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.parked = append([]common.ParkedEvent(nil), p...)
}

// Why says why a subscription is behind (see SetWhy).
func (a *Admin) Why(_ context.Context, name string) (common.SubWhy, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	i := a.find(name)
	if i < 0 {
		return common.SubWhy{}, notFound(name)
	}
	if w, ok := a.why[name]; ok {
		return w, nil
	}
	s := a.subs[i]
	if s.Lag == 0 {
		return common.SubWhy{Reason: subscriptions.ReasonUpToDate, Line: "up to date"}, nil
	}
	return common.SubWhy{Reason: subscriptions.ReasonSlow, Line: fmt.Sprintf("behind 2.0s (%d events): handler slow, catching up at %.0f/s", s.Lag, s.Rate)}, nil
}

// Deliveries: every subscription takes every event; a parked event is
// parked for notifications, an event after a checkpoint pending, the rest
// handled.
func (a *Admin) Deliveries(_ context.Context, e store.Event) ([]common.Delivery, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []common.Delivery
	for _, s := range a.subs {
		d := common.Delivery{Subscription: s.Name, State: subscriptions.DeliveryHandled, SubState: s.State}
		if e.Checkpoint.Compare(s.Checkpoint) > 0 {
			d.State = subscriptions.DeliveryPending
		}
		for _, p := range a.parked {
			if p.Event.EventID == e.EventID && s.Name == "notifications" {
				d = common.Delivery{Subscription: s.Name, State: subscriptions.DeliveryParked, SubState: s.State, Attempts: p.Attempts, LastError: p.LastError, ParkedAt: p.ParkedAt}
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// NewAdmin holds subs with parked events parked.
func NewAdmin(subs []common.SubStatus, parked []common.ParkedEvent) *Admin {
	return &Admin{subs: subs, parked: parked}
}

// Calls are the actions taken so far, in order.
func (a *Admin) Calls() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}

// Subs are the subscriptions as they stand.
func (a *Admin) Subs() []common.SubStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]common.SubStatus(nil), a.subs...)
}

// List lists the subscriptions.
func (a *Admin) List(context.Context) ([]common.SubStatus, error) { return a.Subs(), nil }

// Get is one subscription's status.
func (a *Admin) Get(_ context.Context, name string) (common.SubStatus, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i := a.find(name); i >= 0 {
		return a.subs[i], nil
	}
	return common.SubStatus{}, notFound(name)
}

// Parked lists the parked events.
func (a *Admin) Parked(context.Context, string) ([]common.ParkedEvent, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]common.ParkedEvent(nil), a.parked...), nil
}

func notFound(name string) error { return &store.NotFoundError{What: "subscription " + name} }

func (a *Admin) find(name string) int {
	for i := range a.subs {
		if a.subs[i].Name == name {
			return i
		}
	}
	return -1
}

// act records call and runs fn on the subscription, or fails when there is
// none.
func (a *Admin) act(call, name string, fn func(i int)) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, call)
	i := a.find(name)
	if i < 0 {
		return notFound(name)
	}
	if fn != nil {
		fn(i)
	}
	return nil
}

func (a *Admin) unpark(id uuid.UUID) {
	for i, p := range a.parked {
		if p.Event.EventID == id {
			a.parked = append(a.parked[:i:i], a.parked[i+1:]...)
			return
		}
	}
}

// Pause pauses.
func (a *Admin) Pause(_ context.Context, name string) error {
	return a.act("pause "+name, name, func(i int) { a.subs[i].State = subscriptions.StatePaused })
}

// Resume resumes.
func (a *Admin) Resume(_ context.Context, name string) error {
	return a.act("resume "+name, name, func(i int) { a.subs[i].State = subscriptions.StateLive })
}

// Reset records the reset.
func (a *Admin) Reset(_ context.Context, name string, to subscriptions.ResetTarget) error {
	return a.act("reset "+name+" "+to.String(), name, nil)
}

// Retry retries (removes) one parked event.
func (a *Admin) Retry(_ context.Context, name string, id uuid.UUID) error {
	return a.act("retry "+name+" "+id.String()[:8], name, func(int) {
		if a.queue {
			a.markRetry(&id)
			return
		}
		a.unpark(id)
	})
}

// RetryAll retries every parked event and says how many.
func (a *Admin) RetryAll(_ context.Context, name string) (int, error) {
	n := 0
	err := a.act("retryall "+name, name, func(int) {
		if a.queue {
			n = a.markRetry(nil)
			return
		}
		n = len(a.parked)
		a.parked = nil
	})
	return n, err
}

// Skip skips (removes) one parked event.
func (a *Admin) Skip(_ context.Context, name string, id uuid.UUID) error {
	return a.act("skip "+name+" "+id.String()[:8], name, func(int) { a.unpark(id) })
}
