package subscriptions

import (
	"context"
	"errors"
	"testing"
	"time"

	"eventscope/store"
)

// TestFollow follows the log from the start with a filter, across an event
// held back by an open transaction: it arrives once the transaction
// commits, in global order, and nothing of the other category does.
func TestFollow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	appendN(t, b.st, "order", 2, 3)
	appendN(t, b.st, "noise", 2, 3)

	got := make(chan store.Event, 100)
	errDone := errors.New("done")
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := make(chan error, 1)
	go func() {
		n := 0
		res <- Follow(fctx, b.st, store.Start, FollowOptions{Categories: []string{"order"}, BatchSize: 2, PollInterval: time.Hour}, func(evs []store.Event) error {
			for _, e := range evs {
				got <- e
				if n++; n == 5 {
					return errDone
				}
			}
			return nil
		})
	}()
	for range 3 {
		select {
		case <-got:
		case <-time.After(time.Minute):
			t.Fatal("no catch-up")
		}
	}
	// Hold one event back behind an open transaction, append another after it.
	tx, err := b.st.Pool().Begin(ctx)
	must(t, err)
	_, err = b.st.AppendTx(ctx, tx, "order-held", store.Any, ev("Held", 0))
	must(t, err)
	appendN(t, b.st, "order", 2, 1)
	time.Sleep(100 * time.Millisecond)
	select {
	case e := <-got:
		t.Fatalf("%s delivered while an older transaction was open", describeEvent(e))
	default:
	}
	appendN(t, b.st, "noise", 1, 1)
	must(t, tx.Commit(ctx)) // no wake-up sent for it: the held-back watcher finds it
	var tail []store.Event
	for range 2 {
		select {
		case e := <-got:
			tail = append(tail, e)
		case <-time.After(time.Minute):
			t.Fatal("the held-back events never arrived")
		}
	}
	if tail[0].StreamID != "order-held" || tail[1].Checkpoint.Less(tail[0].Checkpoint) {
		t.Fatalf("after the commit got %s then %s, want order-held first (global order)", describeEvent(tail[0]), describeEvent(tail[1]))
	}
	select {
	case err := <-res:
		if !errors.Is(err, errDone) {
			t.Fatalf("Follow returned %v, want the callback's error", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Follow did not return the callback's error")
	}
}
