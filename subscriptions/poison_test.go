package subscriptions

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"eventscope/store"
	"eventscope/store/storetest"
)

// insertDeep stores, as the schema's owner and past the SQL API, an event
// whose data is nested deeper than Go's JSON decoder takes (10,000): what
// the store held before the API refused such events.
func insertDeep(t *testing.T, b *bundle, stream string) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	id := uuid.New()
	const depth = 11000
	deep := `{"a":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
	must(t, storetest.RawAppend(ctx, b.st.Pool(), stream, storetest.RawEvent{ID: id, Type: "Deep", Data: deep}))
	return id
}

// TestUndecodableEventStallsNoReader: an event Go's JSON decoder refuses
// (nested deeper than 10,000 levels, stored past the SQL API) stalls no
// reader. The store reads data as the stored bytes, so the subscriptions it
// concerns (a Handler's and a TxHandler's, live and catching up) and Follow
// get it once, with its bytes intact, and go on to the events after it; the
// other category's subscription and the live shared log never wait. (A
// handler that cannot decode it fails, is retried and parks it, as for any
// handler error.)
func TestUndecodableEventStallsNoReader(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	r := NewRunner(b.st, RunnerOptions{PollInterval: 100 * time.Millisecond, Logf: testLogf(t)})
	okRec, allRec := newRecorder(), newRecorder()
	must(t, r.Add(Subscription{Name: "ok", Categories: []string{"ok"}, Handler: okRec.handle}))
	must(t, r.Add(Subscription{Name: "all", Handler: allRec.handle}))
	var txMu sync.Mutex
	txSeen := map[uuid.UUID]bool{}
	must(t, r.Add(Subscription{Name: "all-tx", TxHandler: func(_ context.Context, _ pgx.Tx, e store.Event) error {
		txMu.Lock()
		txSeen[e.EventID] = true
		txMu.Unlock()
		return nil
	}}))
	run(t, r)
	waitFor(t, "the subscriptions to be live", time.Minute, func() bool {
		for _, n := range []string{"ok", "all", "all-tx"} {
			if p := r.byName[n].public(); !p.active || p.state != StateLive {
				return false
			}
		}
		return true
	})

	var follow []store.Event
	var fmu sync.Mutex
	fctx, fcancel := context.WithCancel(ctx)
	fdone := make(chan error, 1)
	go func() {
		fdone <- Follow(fctx, b.st, store.Start, FollowOptions{Categories: []string{"poison"}}, func(evs []store.Event) error {
			fmu.Lock()
			follow = append(follow, evs...)
			fmu.Unlock()
			return nil
		})
	}()
	defer func() { fcancel(); <-fdone }()

	appendN(t, b.st, "ok", 2, 5)
	deep := insertDeep(t, b, "poison-1")
	after := appendN(t, b.st, "ok", 2, 5)
	later := appendN(t, b.st, "poison", 1, 1)[0]
	b.st.Wake()

	waitFor(t, "the other category's subscriber to get every event", time.Minute, func() bool { return okRec.distinct() == 10 })
	// The store reads data and metadata as the bytes stored, so an event
	// Go's decoder refuses (nested deeper than 10,000) is no longer
	// undecodable to a reader: it reaches every handler with its bytes
	// intact, once, and nothing after it waits.
	waitFor(t, "the unfiltered subscribers to get past the deep event", time.Minute, func() bool {
		txMu.Lock()
		defer txMu.Unlock()
		return allRec.distinct() == 12 && len(txSeen) == 12
	})
	if allRec.seen[deep] != 1 || !allRec.seenID(after[4]) || !allRec.seenID(later) {
		t.Fatalf("unfiltered subscriber: deep delivered %d times, later events %v %v", allRec.seen[deep], allRec.seenID(after[4]), allRec.seenID(later))
	}
	allRec.mu.Lock()
	for _, e := range allRec.order {
		if e.EventID == deep && len(e.Data) < 11000 {
			t.Errorf("deep event delivered with %d bytes of data", len(e.Data))
		}
	}
	allRec.mu.Unlock()

	// A subscription added now catches up through it on its own reads.
	late := newRecorder()
	must(t, r.Add(Subscription{Name: "late", Categories: []string{"poison"}, Handler: late.handle}))
	waitFor(t, "a catching-up subscriber to get past it", time.Minute, func() bool { return late.distinct() == 2 && late.seenID(later) && late.seenID(deep) })

	waitFor(t, "the follower to pass it on", time.Minute, func() bool {
		fmu.Lock()
		defer fmu.Unlock()
		return len(follow) == 2
	})
	fmu.Lock()
	defer fmu.Unlock()
	if follow[0].EventID != deep || follow[1].EventID != later {
		t.Fatalf("follower got %s (%d bytes), %s", follow[0].EventID, len(follow[0].Data), follow[1].EventID)
	}
}

func (r *recorder) seenID(id uuid.UUID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[id] > 0
}
