package store_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"eventscope/store"
)

func TestLookups(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	if ok, err := st.HasStreams(ctx); err != nil || ok {
		t.Fatalf("HasStreams on an empty store = %v, %v", ok, err)
	}
	ids := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	mustAppend(t, st, "order-1", store.Any, store.NewEvent{ID: ids[0], Type: "OrderPlaced", Data: json.RawMessage(`{}`), Metadata: json.RawMessage(`{"correlationId":"c1"}`)})
	mustAppend(t, st, "customer-1", store.Any, store.NewEvent{ID: ids[1], Type: "CreditReserved", Data: json.RawMessage(`{}`), Metadata: json.RawMessage(`{"correlationId":"c1"}`)})
	mustAppend(t, st, "order-1", store.Any, store.NewEvent{ID: ids[2], Type: "OrderShipped", Data: json.RawMessage(`{}`), Metadata: json.RawMessage(`{"correlationId":"c2"}`)})
	all := visible(t, st, 3)

	e, err := st.EventByID(ctx, ids[1])
	if err != nil || e.StreamID != "customer-1" || e.Version != 0 || e.Checkpoint != all[1].Checkpoint {
		t.Fatalf("EventByID = %+v, %v", e, err)
	}
	missing := uuid.New()
	if _, err := st.EventByID(ctx, missing); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("EventByID(unknown) = %v, want ErrNotFound", err)
	}
	if ok, err := st.EventExists(ctx, ids[2]); err != nil || !ok {
		t.Fatalf("EventExists = %v, %v", ok, err)
	}
	if ok, err := st.EventExists(ctx, missing); err != nil || ok {
		t.Fatalf("EventExists(unknown) = %v, %v", ok, err)
	}
	corr, err := st.Correlated(ctx, "c1", 10)
	if err != nil || len(corr) != 2 || corr[0].EventID != ids[0] || corr[1].EventID != ids[1] {
		t.Fatalf("Correlated = %v, %v", corr, err)
	}
	if v, ok, err := st.VersionAt(ctx, "order-1", all[2].RecordedAt); err != nil || !ok || v != 1 {
		t.Fatalf("VersionAt(last) = %d %v %v", v, ok, err)
	}
	if _, ok, err := st.VersionAt(ctx, "order-1", all[0].RecordedAt.Add(-time.Second)); err != nil || ok {
		t.Fatalf("VersionAt(before the first) = %v %v", ok, err)
	}
	if v, err := st.StreamVersion(ctx, "order-1"); err != nil || v != 1 {
		t.Fatalf("StreamVersion = %d %v", v, err)
	}
	if _, err := st.StreamVersion(ctx, "order-9"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("StreamVersion(unknown) = %v", err)
	}
	if ok, err := st.HasStreams(ctx); err != nil || !ok {
		t.Fatalf("HasStreams = %v, %v", ok, err)
	}
}
