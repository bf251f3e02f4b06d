package subscriptions

import (
	"testing"
	"time"
)

func TestDeliversCatchUpThenLive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	appendN(t, b.st, "order", 5, 250)
	rec := newRecorder()
	r := NewRunner(b.st, RunnerOptions{Logf: testLogf(t)})
	if err := r.Add(Subscription{Name: "s1", Handler: rec.handle}); err != nil {
		t.Fatal(err)
	}
	run(t, r)
	waitFor(t, "catch-up", 30*time.Second, func() bool { return rec.count() >= 250 })
	appendN(t, b.st, "order", 5, 50)
	waitFor(t, "live", 30*time.Second, func() bool { return rec.count() >= 300 })
	if rec.count() != 300 || rec.distinct() != 300 {
		t.Fatalf("got %d deliveries of %d events, want 300 of 300", rec.count(), rec.distinct())
	}
}
