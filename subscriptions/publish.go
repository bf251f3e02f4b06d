package subscriptions

import (
	"sync"
	"time"

	"eventscope/store"
)

// pubState is what the goroutine publishes for heartbeats, polls and metrics.
type pubState struct {
	active         bool
	epoch          int64
	resetVersion   int64
	controlVersion int64
	cursor         store.Checkpoint
	persistable    store.Checkpoint // a checkpoint with no unsaved events before it: the heartbeat may write it
	state          State
	parked         int64
	rate           float64
	retry          *Retrying // the event being retried, nil when none
}

type rateSample struct {
	at time.Time
	n  int64
}

// published is the subscription's published state: the goroutine writes
// it, anyone reads it, under mu.
type published struct {
	mu      sync.Mutex
	p       pubState
	samples []rateSample
}

func (s *sub) public() pubState {
	s.pub.mu.Lock()
	defer s.pub.mu.Unlock()
	return s.pub.p
}

func (s *sub) publish(f func(p *pubState)) {
	s.pub.mu.Lock()
	f(&s.pub.p)
	s.pub.mu.Unlock()
}

func (s *sub) setState(st State) { s.publish(func(p *pubState) { p.state = st }) }

// activated starts the rate's samples when this process starts holding
// the subscription (processed is the count so far).
func (pb *published) activated(processed int64) {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	if !pb.p.active {
		pb.samples = append(pb.samples[:0], rateSample{time.Now(), processed})
	}
}

// RateWindow is the window of a subscription's rate: the events it
// processed over about the last RateWindow, per second. It is short, so
// the rate is the present: a paused or idle subscription's falls to 0
// within it (over a minute it kept showing the past for a minute).
const RateWindow = 10 * time.Second

// sample records the processed count for the rate and returns the state
// with the rate over the last RateWindow.
func (s *sub) sample(now time.Time) pubState {
	pb := &s.pub
	pb.mu.Lock()
	defer pb.mu.Unlock()
	pb.samples = append(pb.samples, rateSample{now, s.stats.processed.Load()})
	// The first sample kept is the newest at least RateWindow old, so the
	// span covers the whole window once there is that much history.
	cut := 0
	for cut < len(pb.samples)-1 && now.Sub(pb.samples[cut+1].at) >= RateWindow {
		cut++
	}
	pb.samples = pb.samples[cut:]
	first, last := pb.samples[0], pb.samples[len(pb.samples)-1]
	if span := last.at.Sub(first.at).Seconds(); span > 0 {
		pb.p.rate = float64(last.n-first.n) / span
	} else {
		pb.p.rate = 0
	}
	if !pb.p.active {
		pb.p.rate = 0
	}
	return pb.p
}
