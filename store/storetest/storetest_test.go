package storetest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"eventscope/internal/testdb"
	"eventscope/store"
	"eventscope/store/storetest"
)

// TestStored: Stored shows each event as its row holds it, in log order:
// personal fields sealed, not in the data, where every read decrypts them.
func TestStored(t *testing.T) {
	t.Parallel()
	st := testdb.Store(t)
	ctx := t.Context()
	if _, err := st.Append(ctx, "note-1", store.Any, store.NewEvent{Type: "Plain", Data: json.RawMessage(`{"text":"hello"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Append(ctx, "customer-ann", store.Any, store.NewEvent{Type: "CustomerRegistered",
		Data: json.RawMessage(`{"name":"Ann Example","limit":500}`), Personal: store.PersonalFields("person-ann", "name")}); err != nil {
		t.Fatal(err)
	}
	evs, err := storetest.Stored(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].StreamID != "note-1" || evs[0].Type != "Plain" || evs[1].StreamID != "customer-ann" || evs[1].Version != 0 {
		t.Fatalf("Stored = %+v", evs)
	}
	if evs[0].Personal != nil || !strings.Contains(string(evs[0].Data), "hello") {
		t.Errorf("plain event stored as data %s personal %s", evs[0].Data, evs[0].Personal)
	}
	if strings.Contains(string(evs[1].Data), "Ann Example") || strings.Contains(string(evs[1].Personal), "Ann Example") ||
		!strings.Contains(string(evs[1].Personal), `"sealed"`) || !strings.Contains(string(evs[1].Data), `"limit"`) {
		t.Errorf("personal event stored as data %s personal %s", evs[1].Data, evs[1].Personal)
	}
	read, err := st.ReadStream(ctx, "customer-ann", store.ReadStreamOptions{})
	if err != nil || len(read) != 1 || !strings.Contains(string(read[0].Data), "Ann Example") {
		t.Fatalf("ReadStream = %v, %v", read, err)
	}
}
