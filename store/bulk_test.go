package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"eventscope/store"
)

func bulkEvent(stream string, i int, at time.Time) store.BulkEvent {
	return store.BulkEvent{
		StreamID: stream, ID: uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "%s/%d", stream, i)),
		Type: "Happened", Data: fmt.Appendf(nil, `{"i":%d}`, i), Metadata: []byte(`{"correlationId":"c"}`), RecordedAt: at,
	}
}

// TestBulkLoadInvariants: interleaved streams across several batches get
// contiguous versions, streams rows with the right counts, positions in the
// order added, and are read back once each, in order, through ReadAll from
// checkpoints; appends continue the loaded streams.
func TestBulkLoadInvariants(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	base := time.Now().Add(-21 * 24 * time.Hour).Truncate(time.Microsecond)
	var batches []int64
	b := st.NewBulkLoader(ctx, store.BulkOptions{BatchEvents: 700, Progress: func(n int64) { batches = append(batches, n) }})
	const streams, total = 37, 5000
	counts := map[string]int64{}
	var order []string
	for i := range total {
		s := fmt.Sprintf("bulk-%d", (i*7+i/3)%streams)
		if i%997 == 0 {
			s = "long-1"
		}
		v, err := b.Add(bulkEvent(s, int(counts[s]), base.Add(time.Duration(i)*time.Second)))
		if err != nil {
			t.Fatal(err)
		}
		if v != counts[s] {
			t.Fatalf("Add gave version %d to %s, want %d", v, s, counts[s])
		}
		counts[s]++
		order = append(order, s)
	}
	n, err := b.Close()
	if err != nil || n != total {
		t.Fatalf("Close = %d, %v; want %d", n, err, total)
	}
	if len(batches) != (total+699)/700 || batches[len(batches)-1] != total {
		t.Fatalf("progress calls %v", batches)
	}
	for s, c := range counts {
		info, err := st.StreamInfo(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if info.Version != c-1 || info.EventCount != c || info.Category != store.Category(s) {
			t.Fatalf("%s: info %+v, want version %d count %d", s, info, c-1, c)
		}
		evs, err := st.ReadStream(ctx, s, store.ReadStreamOptions{Limit: 10_000})
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range evs {
			if e.Version != int64(i) {
				t.Fatalf("%s: event %d has version %d", s, i, e.Version)
			}
		}
	}
	// The global log: every event once, in the order added, strictly
	// increasing checkpoints, resumable from any page.
	var got []store.Event
	after := store.Start
	for deadline := time.Now().Add(30 * time.Second); len(got) < total && time.Now().Before(deadline); {
		p, err := st.ReadAll(ctx, after, store.ReadAllOptions{Limit: 333})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Events...)
		after = p.Next
		if p.Scanned < 333 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if len(got) != total {
		t.Fatalf("ReadAll read %d events, want %d", len(got), total)
	}
	for i, e := range got {
		if e.StreamID != order[i] {
			t.Fatalf("global event %d is of %s, want %s", i, e.StreamID, order[i])
		}
		if i > 0 && !got[i-1].Checkpoint.Less(e.Checkpoint) {
			t.Fatalf("checkpoints not increasing at %d: %s then %s", i, got[i-1].Checkpoint, e.Checkpoint)
		}
		if !e.RecordedAt.Equal(base.Add(time.Duration(i) * time.Second)) {
			t.Fatalf("event %d recorded at %s", i, e.RecordedAt)
		}
	}
	// the store goes on as usual afterwards
	v, err := st.Append(ctx, "long-1", store.Exact(counts["long-1"]-1), store.NewEvent{Type: "After", Data: []byte(`{}`)})
	if err != nil || v != counts["long-1"] {
		t.Fatalf("append after bulk load = %d, %v", v, err)
	}
	// The head moves once nothing older runs anywhere on the cluster.
	deadline := time.Now().Add(30 * time.Second)
	for {
		head, err := st.Head(ctx)
		if err == nil && got[total-1].Checkpoint.Less(head) {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("head %s after append, last bulk %s, %v", head, got[total-1].Checkpoint, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBulkLoadRefusesExistingStreams: a stream that exists fails the load
// with an error naming it, and the failing batch changes nothing.
func TestBulkLoadRefusesExistingStreams(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	if _, err := st.Append(ctx, "taken-1", store.NoStream, store.NewEvent{Type: "T", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	before, _ := st.Stats(ctx, store.StatsOptions{})
	_, err := st.BulkLoad(ctx, []store.BulkStream{
		{StreamID: "fresh-1", Events: []store.BulkEvent{bulkEvent("", 0, time.Now())}},
		{StreamID: "taken-1", Events: []store.BulkEvent{bulkEvent("", 0, time.Now())}},
	}, store.BulkOptions{})
	if !errors.Is(err, store.ErrStreamExists) || !contains(err.Error(), "taken-1") {
		t.Fatalf("err = %v, want ErrStreamExists naming taken-1", err)
	}
	after, _ := st.Stats(ctx, store.StatsOptions{})
	if after.Events != before.Events || after.Streams != before.Streams {
		t.Fatalf("a failed batch changed the store: %+v -> %+v", before, after)
	}
	if _, err := st.StreamInfo(ctx, "fresh-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("fresh-1 of the failed batch exists: %v", err)
	}
	// bad input is refused before any I/O
	_, err = st.BulkLoad(ctx, []store.BulkStream{{StreamID: "bad id", Events: []store.BulkEvent{bulkEvent("", 0, time.Now())}}}, store.BulkOptions{})
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad stream id: %v", err)
	}
	_, err = st.BulkLoad(ctx, []store.BulkStream{{StreamID: "x-1", Events: []store.BulkEvent{{Type: "T", Data: []byte(`[1]`)}}}}, store.BulkOptions{})
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("array data: %v", err)
	}
}

// TestBulkLoadBesideAppends: appends to other streams run during a bulk
// load; a reader of the global log sees every event of both exactly once.
func TestBulkLoadBesideAppends(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var appended int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				appended = i
				return
			default:
			}
			if _, err := st.Append(ctx, fmt.Sprintf("live-%d", i%5), store.Any, store.NewEvent{Type: "Live", Data: []byte(`{}`)}); err != nil {
				t.Error(err)
				appended = i
				return
			}
		}
	}()
	var streams []store.BulkStream
	for s := range 200 {
		bs := store.BulkStream{StreamID: fmt.Sprintf("seeded-%d", s)}
		for i := range 50 {
			bs.Events = append(bs.Events, bulkEvent("", s*100+i, time.Now()))
		}
		streams = append(streams, bs)
	}
	n, err := st.BulkLoad(ctx, streams, store.BulkOptions{BatchEvents: 1000})
	close(stop)
	wg.Wait()
	if err != nil || n != 10_000 {
		t.Fatalf("BulkLoad = %d, %v", n, err)
	}
	// (transactions of other tests on the same server can hold the log back
	// for a moment: read until everything arrived or a generous deadline)
	seen := map[uuid.UUID]bool{}
	after := store.Start
	for deadline := time.Now().Add(30 * time.Second); len(seen) < 10_000+appended && time.Now().Before(deadline); {
		p, err := st.ReadAll(ctx, after, store.ReadAllOptions{Limit: 5000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Events {
			if seen[e.EventID] {
				t.Fatalf("event %s read twice", e.EventID)
			}
			seen[e.EventID] = true
		}
		after = p.Next
		if p.Scanned < 5000 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if len(seen) != 10_000+appended {
		t.Fatalf("read %d events, want %d bulk + %d appended", len(seen), 10_000, appended)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestBulkLoadAnalyzes: a large load leaves the planner statistics of the
// log fresh, so the first reads after a seed use the indexes.
func TestBulkLoadAnalyzes(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	base := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	b := st.NewBulkLoader(ctx, store.BulkOptions{})
	for i := range 10_000 {
		if _, err := b.Add(bulkEvent(fmt.Sprintf("an-%d", i%100), i/100, base.Add(time.Duration(i)*time.Millisecond))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Close(); err != nil {
		t.Fatal(err)
	}
	var tuples float64
	if err := st.Pool().QueryRow(ctx, `SELECT reltuples FROM pg_class WHERE oid = 'eventscope.events'::regclass`).Scan(&tuples); err != nil {
		t.Fatal(err)
	}
	if tuples < 9_000 {
		t.Fatalf("after a load of 10,000 events the planner counts %v rows", tuples)
	}
}
