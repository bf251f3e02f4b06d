package types

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
	"github.com/google/uuid"

	"eventscope/store"
	"eventscope/tui/common"
	"eventscope/tui/tuitest"
)

type fake struct{ types []store.TypeInfo }

func (f fake) CatalogTypes(context.Context, store.CatalogOptions) ([]store.TypeInfo, store.CatalogState, error) {
	return f.types, store.CatalogState{Checkpoint: store.Checkpoint{Tx: 900, Pos: 42}, Events: 7, CaughtUp: true}, nil
}

func catalog() []store.TypeInfo {
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.Local)
	drift := store.EventMark{EventID: uuid.MustParse("33333333-3333-4333-8333-333333333333"), StreamID: "order-3", RecordedAt: at}
	ex := store.EventMark{EventID: uuid.MustParse("11111111-1111-4111-8111-111111111111"), StreamID: "order-1", RecordedAt: at}
	return []store.TypeInfo{
		{Type: "OrderPlaced", Count: 4, FirstSeen: at, LastSeen: at.Add(time.Hour), Categories: []store.CategoryShare{{Category: "order", Count: 4}},
			Fields: []store.FieldInfo{
				{Path: "currency", Types: map[string]float64{"string": 1}, Presence: 0.5, Examples: []store.Example{{Value: json.RawMessage(`"EUR"`), Event: drift}}},
				{Path: "total", Types: map[string]float64{"number": 0.75, "string": 0.25}, Presence: 1, Examples: []store.Example{{Value: json.RawMessage(`1000`), Event: ex}, {Value: json.RawMessage(`"3100.50"`), Event: drift}}},
			},
			Drift: []store.Drift{{Path: "total", Change: "type_changed", From: "number", To: "string", Event: drift, After: 2}, {Path: "currency", Change: "appeared", To: "string", Event: drift, After: 2}}},
		{Type: "OrderShipped", Count: 3, FirstSeen: at, LastSeen: at, Categories: []store.CategoryShare{{Category: "order", Count: 3}}, Fields: []store.FieldInfo{}, Drift: []store.Drift{}},
	}
}

func TestGoldenTypes(t *testing.T) {
	t.Parallel()
	m := New(context.Background(), tuitest.Common(100, 8), fake{catalog()}, "")
	m.SetSize(100, 8)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	golden.RequireEqual(t, []byte(tuitest.Plain(m.View())))
}

func TestGoldenTypeDetail(t *testing.T) {
	t.Parallel()
	m := New(context.Background(), tuitest.Common(100, 9), fake{catalog()}, "")
	m.SetSize(100, 9)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	tuitest.Settle(m, tuitest.Key("enter"))
	if m.Title() != "types › OrderPlaced" || !m.ClaimsKey(tuitest.Key("esc")) {
		t.Fatalf("title %q", m.Title())
	}
	golden.RequireEqual(t, []byte(tuitest.Plain(m.View())))
	// enter on a field opens its example's event, on a drift the event where it began
	msgs := tuitest.Settle(m, tuitest.Key("j"), tuitest.Key("enter"))
	if o, ok := tuitest.Find[common.OpenEventIDMsg](msgs); !ok || o.ID != "11111111-1111-4111-8111-111111111111" {
		t.Fatalf("field: %v", msgs)
	}
	msgs = tuitest.Settle(m, tuitest.Key("j"), tuitest.Key("enter"))
	if o, ok := tuitest.Find[common.OpenEventIDMsg](msgs); !ok || o.ID != "33333333-3333-4333-8333-333333333333" || !strings.Contains(o.Role, "drift of total") {
		t.Fatalf("drift: %v", msgs)
	}
	if txt, what, _ := m.CopyText(); what != "event id" || txt != "33333333-3333-4333-8333-333333333333" {
		t.Fatalf("copy %q %q", txt, what)
	}
	tuitest.Settle(m, tuitest.Key("esc"))
	if m.Title() != "types" {
		t.Fatalf("esc: %q", m.Title())
	}
}

func TestTypesFilterAndOpenByName(t *testing.T) {
	t.Parallel()
	m := New(context.Background(), tuitest.Common(100, 8), fake{catalog()}, "OrderShipped")
	m.SetSize(100, 8)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	if m.Title() != "types › OrderShipped" || !strings.Contains(tuitest.Plain(m.View()), "no fields") {
		t.Fatalf("opened by name:\n%s", tuitest.Plain(m.View()))
	}
	tuitest.Settle(m, tuitest.Key("esc"), tuitest.Key("/"), tuitest.Key("s"), tuitest.Key("h"), tuitest.Key("i"), tuitest.Key("enter"))
	v := tuitest.Plain(m.View())
	if !strings.Contains(v, "1 of 2 types") || strings.Contains(v, "OrderPlaced") {
		t.Fatalf("filtered:\n%s", v)
	}
}

type recordingSource struct{ budgets []time.Duration }

func (r *recordingSource) CatalogTypes(_ context.Context, o store.CatalogOptions) ([]store.TypeInfo, store.CatalogState, error) {
	r.budgets = append(r.budgets, o.Budget)
	return catalog(), store.CatalogState{}, nil
}

// TestReadOnlyDoesNotAdvance: advancing the catalog writes, so a read-only
// console reads it as it stands (a negative budget) and says so.
func TestReadOnlyDoesNotAdvance(t *testing.T) {
	t.Parallel()
	for _, ro := range []bool{false, true} {
		src := &recordingSource{}
		c := tuitest.Common(100, 8)
		c.ReadOnly = ro
		m := New(context.Background(), c, src, "")
		m.SetSize(100, 8)
		tuitest.Settle(m, tuitest.Drain(m.Init())...)
		if len(src.budgets) != 1 || (src.budgets[0] < 0) != ro {
			t.Fatalf("read-only %v: budgets %v", ro, src.budgets)
		}
		if got := strings.Contains(tuitest.Plain(m.View()), "read-only: not advanced"); got != ro {
			t.Fatalf("read-only %v: view says so %v:\n%s", ro, got, tuitest.Plain(m.View()))
		}
	}
}

// TestFilterKeysInvertAndClear: drift:, field:, cat: and "!" filter as
// you type; an unknown key names the keys there are; esc clears for good
// (the 2 s reload does not bring it back).
func TestFilterKeysInvertAndClear(t *testing.T) {
	t.Parallel()
	m := New(context.Background(), tuitest.Common(140, 8), fake{catalog()}, "")
	m.SetSize(140, 8)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	shows := func(text string, want ...string) {
		t.Helper()
		tuitest.Settle(m, tuitest.Key("/"))
		for _, r := range text {
			tuitest.Settle(m, tuitest.Key(string(r)))
		}
		v := tuitest.Plain(m.View())
		_, table, _ := strings.Cut(v, "type")
		for _, name := range []string{"OrderPlaced", "OrderShipped"} {
			if strings.Contains(table, name) != slices.Contains(want, name) {
				t.Fatalf("%q: want %v:\n%s", text, want, v)
			}
		}
		tuitest.Settle(m, tuitest.Key("esc"))
	}
	shows("drift:yes", "OrderPlaced")
	shows("!drift:yes", "OrderShipped")
	shows("field:tot", "OrderPlaced")
	shows("cat:order ship", "OrderShipped")
	shows("!placed", "OrderShipped")
	tuitest.Settle(m, tuitest.Key("/"))
	for _, r := range "kind:x" {
		tuitest.Settle(m, tuitest.Key(string(r)))
	}
	if v := tuitest.Plain(m.View()); !strings.Contains(v, `unknown key "kind"`) || !strings.Contains(v, "cat:, drift:, field:") {
		t.Fatalf("unknown key:\n%s", v)
	}
	tuitest.Settle(m, tuitest.Key("esc"))
	tuitest.Settle(m, common.RefreshMsg{})
	if v := tuitest.Plain(m.View()); strings.Contains(v, "kind") || !strings.Contains(v, "OrderPlaced") || !strings.Contains(v, "OrderShipped") {
		t.Fatalf("esc cleared for good:\n%s", v)
	}
}
