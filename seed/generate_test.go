package seed

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"eventscope/domain"
	"eventscope/store"
)

// TestGenerateRealistic: the shares and shapes the issue asks for.
func TestGenerateRealistic(t *testing.T) {
	t.Parallel()
	end := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	evs, st, err := Generate(Config{Customers: 500, Orders: 20_000, Seed: 7, End: end, LongStreamEvents: 3000})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(evs)) != st.Events {
		t.Fatalf("%d events, stats say %d", len(evs), st.Events)
	}
	rejected := float64(st.Rejected) / float64(st.Orders)
	if rejected < 0.08 || rejected > 0.14 {
		t.Errorf("rejected share %.3f, want about 0.10 (%+v)", rejected, st)
	}
	if st.Cancelled == 0 || st.Shipped < st.Orders/2 {
		t.Errorf("cancelled %d shipped %d of %d", st.Cancelled, st.Shipped, st.Orders)
	}
	perStream := map[string]int{}
	perCustomerOrders := map[string]int{}
	var prev time.Time
	types := map[string]int{}
	for i, e := range evs {
		perStream[e.StreamID]++
		types[e.Type]++
		if e.RecordedAt.Before(prev) {
			t.Fatalf("event %d recorded before the one before it", i)
		}
		prev = e.RecordedAt
		if !bytes.Contains(e.Metadata, []byte(`"correlationId"`)) || !bytes.Contains(e.Metadata, []byte(`"causationId"`)) {
			t.Fatalf("event %d metadata %s", i, e.Metadata)
		}
		if e.Type == domain.OrderPlacedType {
			ev, _ := domain.Decode(e.Type, e.Data)
			perCustomerOrders[ev.(domain.OrderPlaced).CustomerID]++
		}
	}
	if got := evs[len(evs)-1].RecordedAt; got.After(end) || got.Before(end.Add(-48*time.Hour)) {
		t.Errorf("last event at %s, end %s", got, end)
	}
	if got := evs[0].RecordedAt; got.After(end.Add(-27 * 24 * time.Hour)) {
		t.Errorf("history starts at %s: not spread over weeks", got)
	}
	if len(st.LongStreams) != 2 {
		t.Fatalf("long streams %v", st.LongStreams)
	}
	for _, s := range st.LongStreams {
		if perStream[s] < 3000 {
			t.Errorf("long stream %s has %d events, want >= 3000", s, perStream[s])
		}
	}
	// skew: the busiest ordinary customer orders far more than the median one
	var counts []int
	for id, n := range perCustomerOrders {
		if domain.CustomerStream(id) != st.LongStreams[0] && domain.CustomerStream(id) != st.LongStreams[1] {
			counts = append(counts, n)
		}
	}
	maxN, median := 0, 0
	for _, n := range counts {
		maxN = max(maxN, n)
	}
	sorted := append([]int(nil), counts...)
	for i := range sorted {
		for j := i + 1; j < len(sorted); j++ {
			if sorted[j] < sorted[i] {
				sorted[i], sorted[j] = sorted[j], sorted[i]
			}
		}
	}
	median = sorted[len(sorted)/2]
	if maxN < 8*median {
		t.Errorf("orders per customer not skewed: max %d, median %d", maxN, median)
	}
	for _, typ := range domain.Types() {
		if types[typ] == 0 {
			t.Errorf("no %s events", typ)
		}
	}
}

// TestGenerateDeterministic: the same config gives the same events (ids,
// streams, types, data, metadata), whatever the end time; another seed
// gives other ids.
func TestGenerateDeterministic(t *testing.T) {
	t.Parallel()
	a, _, err := Generate(Config{Customers: 50, Orders: 2000, Seed: 3, End: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Generate(Config{Customers: 50, Orders: 2000, Seed: 3, End: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("%d vs %d events", len(a), len(b))
	}
	for i := range a {
		a[i].RecordedAt, b[i].RecordedAt = time.Time{}, time.Time{}
		if !reflect.DeepEqual(a[i], b[i]) {
			t.Fatalf("event %d differs:\n%+v\n%+v", i, a[i], b[i])
		}
	}
	c, _, _ := Generate(Config{Customers: 50, Orders: 2000, Seed: 4, End: time.Now()})
	if c[0].ID == a[0].ID {
		t.Fatal("another seed gave the same ids")
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []Config{{Customers: -1}, {Orders: -5}, {Customers: 0, Orders: 3}} {
		c2 := c
		if c2.Customers == 0 && c2.Orders > 0 {
			if err := c2.Validate(); err == nil {
				t.Errorf("%+v: no error", c)
			}
			continue
		}
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if _, _, err := Generate(Config{Customers: 1, Orders: 1}); err != nil {
		t.Fatalf("tiny config: %v", err)
	}
	if _, _, err := Generate(Config{Customers: 3, Orders: -1}); err == nil {
		t.Fatal("negative orders generated")
	}
}

// TestSeededSagaEventsMatchHandlers: every saga event of the history has
// the id and metadata the live handlers would give it.
func TestSeededSagaEventsMatchHandlers(t *testing.T) {
	t.Parallel()
	evs, _, err := Generate(Config{Customers: 30, Orders: 800, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]int{}
	for i, e := range evs {
		byID[e.ID.String()] = i
	}
	checked := 0
	for _, e := range evs {
		var m domain.Meta
		if err := json.Unmarshal(e.Metadata, &m); err != nil {
			t.Fatal(err)
		}
		if m.Source != domain.CustomerServiceName && m.Source != domain.OrderServiceName {
			continue
		}
		i, ok := byID[m.CausationID]
		if !ok {
			t.Fatalf("%s %s: cause %s is not in the history", e.StreamID, e.Type, m.CausationID)
		}
		c := evs[i]
		cause := store.Event{StreamID: c.StreamID, EventID: c.ID, Type: c.Type, Data: c.Data, Metadata: c.Metadata}
		if want := domain.CausedBy(cause, m.Source).JSON(); string(want) != string(e.Metadata) {
			t.Fatalf("%s %s metadata %s, the handler writes %s", e.StreamID, e.Type, e.Metadata, want)
		}
		if want := domain.DerivedID(c.ID, m.Source); want != e.ID {
			t.Fatalf("%s %s id %s, the handler derives %s", e.StreamID, e.Type, e.ID, want)
		}
		checked++
	}
	if checked < 1600 {
		t.Fatalf("only %d saga events checked", checked)
	}
}
