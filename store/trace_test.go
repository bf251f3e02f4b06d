package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"eventscope/store"
)

func meta(corr, cause, source string) json.RawMessage {
	m := map[string]string{}
	if corr != "" {
		m["correlationId"] = corr
	}
	if cause != "" {
		m["causationId"] = cause
	}
	if source != "" {
		m["source"] = source
	}
	b, _ := json.Marshal(m)
	return b
}

func TestTrace(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	cmd := uuid.NewString() // a command: never stored
	ids := map[string]uuid.UUID{}
	for _, n := range []string{"placed", "reserved", "approved", "legacy", "cycA", "cycB", "other", "unrelated"} {
		ids[n] = uuid.New()
	}
	app := func(stream, name, typ string, md json.RawMessage) {
		t.Helper()
		if _, err := st.Append(ctx, stream, store.Any, store.NewEvent{ID: ids[name], Type: typ, Data: json.RawMessage(`{}`), Metadata: md}); err != nil {
			t.Fatal(err)
		}
	}
	app("order-1", "placed", "OrderPlaced", meta(cmd, cmd, "api"))
	app("customer-1", "reserved", "CreditReserved", meta(cmd, ids["placed"].String(), "customer-service"))
	app("order-1", "approved", "OrderApproved", meta(cmd, ids["reserved"].String(), "order-service"))
	// a writer that sets only the causation id: found through it
	app("audit-1", "legacy", "Audited", meta("", ids["approved"].String(), ""))
	// another correlation caused by one of ours: not part of this trace
	app("order-2", "other", "OrderPlaced", meta(uuid.NewString(), ids["placed"].String(), ""))
	// a causation cycle inside the correlation
	app("x-1", "cycA", "A", meta(cmd, ids["cycB"].String(), ""))
	app("x-1", "cycB", "B", meta(cmd, ids["cycA"].String(), ""))
	app("order-3", "unrelated", "OrderPlaced", meta(uuid.NewString(), "", ""))

	for _, ref := range []store.EventRef{{ID: ids["reserved"]}, {Stream: "order-1", Version: 1}} {
		tr, err := st.Trace(ctx, ref, store.TraceOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if tr.CorrelationID != cmd {
			t.Fatalf("correlation %q, want %q", tr.CorrelationID, cmd)
		}
		var got []string
		for _, s := range tr.Steps {
			p := "-"
			if s.Parent != nil {
				p = s.Parent.String()[:4]
			}
			got = append(got, fmt.Sprintf("%d:%s<%s:%v", s.Depth, s.Type, p, s.CauseStored))
		}
		want := []string{
			"0:OrderPlaced<-:false",
			fmt.Sprintf("1:CreditReserved<%s:true", ids["placed"].String()[:4]),
			fmt.Sprintf("2:OrderApproved<%s:true", ids["reserved"].String()[:4]),
			fmt.Sprintf("3:Audited<%s:true", ids["approved"].String()[:4]),
			"0:A<-:true",
			fmt.Sprintf("1:B<%s:true", ids["cycA"].String()[:4]),
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("trace of %s:\n got %v\nwant %v", ref, got, want)
		}
		if !tr.Steps[4].Cycle || tr.Steps[0].After != nil || tr.Steps[1].After == nil || tr.Steps[0].Source != "api" {
			t.Fatalf("steps %+v", tr.Steps)
		}
		slow := 0
		for _, s := range tr.Steps {
			if s.Slowest {
				slow++
			}
		}
		if slow != 1 {
			t.Fatalf("%d steps marked slowest", slow)
		}
	}
	// an event with no correlation id starts its own conversation
	tr, err := st.Trace(ctx, store.EventRef{ID: ids["legacy"]}, store.TraceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.CorrelationID != ids["legacy"].String() || len(tr.Steps) != 1 || !tr.Steps[0].CauseStored {
		t.Fatalf("legacy trace %+v", tr)
	}
	// bounded: the asked-for event always shows
	tr, err = st.Trace(ctx, store.EventRef{ID: ids["approved"]}, store.TraceOptions{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Truncated || len(tr.Steps) > 3 {
		t.Fatalf("limited trace: truncated %v, %d steps", tr.Truncated, len(tr.Steps))
	}
	found := false
	for _, s := range tr.Steps {
		found = found || s.EventID == ids["approved"]
	}
	if !found {
		t.Fatal("the start event is missing from a cut trace")
	}
	if _, err := st.Trace(ctx, store.EventRef{ID: uuid.New()}, store.TraceOptions{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown event: %v", err)
	}
	if _, err := st.Trace(ctx, store.EventRef{Stream: "order-1", Version: 9}, store.TraceOptions{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown version: %v", err)
	}
	evs, err := st.Correlated(ctx, cmd, 0)
	if err != nil || len(evs) != 5 {
		t.Fatalf("correlated: %d events, %v", len(evs), err)
	}
}

func TestParseEventRef(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	for in, want := range map[string]store.EventRef{
		id.String():     {ID: id},
		"order-1@0":     {Stream: "order-1", Version: 0},
		"a@b@12":        {Stream: "a@b", Version: 12},
		" order-1@7 \n": {Stream: "order-1", Version: 7},
	} {
		got, err := store.ParseEventRef(in)
		if err != nil || got != want {
			t.Errorf("ParseEventRef(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "order-1@", "order-1@-1", "@3", "order 1@2", "xyz", "order-1@1x"} {
		if _, err := store.ParseEventRef(in); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("ParseEventRef(%q): %v, want ErrInvalid", in, err)
		}
	}
}
