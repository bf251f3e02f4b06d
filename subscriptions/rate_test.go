package subscriptions

import (
	"testing"
	"time"
)

// TestRateFallsToZeroWhenNothingIsProcessed (issue 14 item 6): the rate
// is the present throughput. While events are processed it shows their
// rate; once nothing is (paused, or idle), it decays and reaches 0 within
// RateWindow and a heartbeat, instead of averaging the last minute.
func TestRateFallsToZeroWhenNothingIsProcessed(t *testing.T) {
	t.Parallel()
	s := &sub{}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s.pub.activated(0)
	s.publish(func(p *pubState) { p.active = true })
	s.pub.samples[0].at = t0
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	// 50 events a second for two minutes, sampled each second.
	for sec := 1; sec <= 120; sec++ {
		s.stats.processed.Add(50)
		if p := s.sample(at(sec)); sec >= 5 && (p.rate < 45 || p.rate > 55) {
			t.Fatalf("at %ds the rate is %.1f, want 50", sec, p.rate)
		}
	}
	// Paused: nothing more is processed. The rate falls, never rises, and
	// is 0 once the window has passed.
	last := 50.0
	for sec := 121; sec <= 140; sec++ {
		p := s.sample(at(sec))
		if p.rate > last {
			t.Fatalf("at %ds the rate rose to %.1f", sec, p.rate)
		}
		last = p.rate
		if sec >= 120+int(RateWindow/time.Second)+1 && p.rate != 0 {
			t.Fatalf("%ds after the last event the rate is %.1f, want 0", sec-120, p.rate)
		}
	}
	if RateWindow > 15*time.Second {
		t.Fatalf("RateWindow %s: a paused subscription shows a rate that long", RateWindow)
	}
}
