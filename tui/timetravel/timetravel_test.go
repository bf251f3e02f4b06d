package timetravel

import (
	"context"
	"encoding/json"
	"fmt"
	tea "github.com/charmbracelet/bubbletea"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"eventscope/store"
	"eventscope/tui/common"
	"eventscope/tui/tuitest"
)

// fakeTT folds a counter stream: version v sets {"count": v, "items": [...]}.
type fakeTT struct {
	last  int64
	calls atomic.Int64
}

func stateJSON(v int64) json.RawMessage {
	if v < 0 {
		return json.RawMessage(`{}`)
	}
	items := make([]string, 0)
	for i := int64(0); i <= v && i < 3; i++ {
		items = append(items, fmt.Sprintf(`"i%d"`, i))
	}
	return json.RawMessage(fmt.Sprintf(`{"count":%d,"items":[%s],"name":"x"}`, v, strings.Join(items, ",")))
}

func (f *fakeTT) TransitionAt(_ context.Context, stream string, v int64) (Transition, error) {
	f.calls.Add(1)
	if v < 0 {
		v = f.last
	}
	if v > f.last {
		return Transition{}, fmt.Errorf("version %d is past the end (%d)", v, f.last)
	}
	tr := Transition{Before: stateJSON(v - 1), After: State{Stream: stream, Version: v, LastVersion: f.last, Aggregate: "Counter",
		State: stateJSON(v), Event: store.Event{StreamID: stream, Version: v, Type: "Counted", Data: json.RawMessage(`{}`)}}}
	tr.Changes = []Change{{Path: "count", Kind: "changed", Before: json.RawMessage(fmt.Sprint(v - 1)), After: json.RawMessage(fmt.Sprint(v))}}
	if v < 3 {
		tr.Changes = append(tr.Changes, Change{Path: fmt.Sprintf("items[%d]", v), Kind: "added", After: json.RawMessage(fmt.Sprintf(`"i%d"`, v))})
	}
	return tr, nil
}

func (f *fakeTT) VersionAt(_ context.Context, _ string, at time.Time) (int64, error) {
	return int64(at.Sub(tuitest.Now.Add(-time.Hour)) / time.Minute), nil
}

func setup(t *testing.T, version int64) (*Model, *fakeTT) {
	t.Helper()
	f := &fakeTT{last: 100}
	m := New(context.Background(), tuitest.Common(140, 40), f, "counter-1", version, time.Time{})
	m.SetSize(140, 40)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	return m, f
}

func cur(t *testing.T, m *Model) int64 {
	t.Helper()
	s, ok := m.Current()
	if !ok {
		t.Fatal("no state shown")
	}
	return s.Version
}

func TestStepping(t *testing.T) {
	t.Parallel()
	m, f := setup(t, 1)
	steps := []struct {
		key  string
		want int64
	}{
		{"right", 2}, {"l", 3}, {"left", 2}, {"h", 1}, {"L", 11}, {"H", 1}, {"G", 100}, {"g", 0}, {"h", 0},
	}
	for _, s := range steps {
		tuitest.Settle(m, tuitest.Key(s.key))
		if got := cur(t, m); got != s.want {
			t.Fatalf("after %s at v%d, want v%d", s.key, got, s.want)
		}
	}
	// Stepping back over versions seen costs no query.
	n := f.calls.Load()
	tuitest.Settle(m, tuitest.Key("l"))
	tuitest.Settle(m, tuitest.Key("h"))
	if f.calls.Load() != n {
		t.Fatalf("cached versions were fetched again (%d calls)", f.calls.Load()-n)
	}
	tuitest.Settle(m, tuitest.Key("G"))
	msgs := tuitest.Settle(m, tuitest.Key("l"))
	if s, ok := tuitest.Find[common.StatusMsg](msgs); !ok || !strings.Contains(s.Text, "last version") {
		t.Fatalf("stepping past the end: %+v", msgs)
	}
}

func TestTypedJump(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, -1)
	if cur(t, m) != 100 {
		t.Fatal("-1 opens the last version")
	}
	if m.ClaimsKey(tuitest.Key("4")) {
		t.Fatal("digits switch views; @ starts a jump")
	}
	for _, k := range []string{"@", "4", "2", "enter"} {
		tuitest.Settle(m, tuitest.Key(k))
	}
	if cur(t, m) != 42 {
		t.Fatalf("typed 42, at v%d", cur(t, m))
	}
	for _, k := range []string{"@", "-", "2", "enter"} {
		tuitest.Settle(m, tuitest.Key(k))
	}
	if cur(t, m) != 40 {
		t.Fatalf("typed -2, at v%d", cur(t, m))
	}
	// A time: 11:30 is 30 minutes into the fake's hour.
	for _, k := range []string{"@", "1", "1", ":", "3", "0", "enter"} {
		tuitest.Settle(m, tuitest.Key(k))
	}
	if cur(t, m) != 30 {
		t.Fatalf("typed 11:30, at v%d", cur(t, m))
	}
	msgs := tuitest.Settle(m, tuitest.Key("@"))
	for _, k := range []string{"x", "y", "enter"} {
		msgs = append(msgs, tuitest.Settle(m, tuitest.Key(k))...)
	}
	if s, ok := tuitest.Find[common.StatusMsg](msgs); !ok || s.Kind != common.Failure {
		t.Fatalf("a bad jump must say why: %+v", msgs)
	}
	tuitest.Settle(m, tuitest.Key("esc"))
	if m.focused {
		t.Fatal("esc leaves the jump input")
	}
}

func TestDiffMarksAndView(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, 2)
	v := tuitest.Plain(m.View())
	for _, want := range []string{
		"counter-1  Counter aggregate  ·  version 2 of 100",
		`~   "count": 2,`,
		`+     "i2"`,
		"Changes since v1  1 added · 1 changed · 0 removed",
		"~ count: 1 → 2",
		`+ items[2]: "i2"`,
		"Event v2  Counted",
	} {
		if !strings.Contains(v, want) {
			t.Fatalf("view lacks %q:\n%s", want, v)
		}
	}
	msgs := tuitest.Settle(m, tuitest.Key("enter"))
	if o, ok := tuitest.Find[common.OpenEventMsg](msgs); !ok || o.Event.Version != 2 {
		t.Fatalf("enter: %+v", msgs)
	}
}

func TestGenericLabel(t *testing.T) {
	t.Parallel()
	m := New(context.Background(), tuitest.Common(140, 30), genericTT{}, "thing-1", 0, time.Time{})
	m.SetSize(140, 30)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "generic fold (JSON merge-patch of each event's data: no aggregate is registered for category thing)") {
		t.Fatalf("view:\n%s", v)
	}
}

type genericTT struct{}

func (genericTT) TransitionAt(_ context.Context, s string, v int64) (Transition, error) {
	return Transition{After: State{Stream: s, Version: 0, Aggregate: "generic", Generic: true, State: json.RawMessage(`{"a":1}`)},
		Changes: []Change{{Path: "a", Kind: "added", After: json.RawMessage(`1`)}}}, nil
}
func (genericTT) VersionAt(context.Context, string, time.Time) (int64, error) { return 0, nil }

func TestAskForStream(t *testing.T) {
	t.Parallel()
	f := &fakeTT{last: 10}
	m := New(context.Background(), tuitest.Common(140, 30), f, "", -1, time.Time{})
	m.SetSize(140, 30)
	if !m.ClaimsKey(tuitest.Key("q")) {
		t.Fatal("the stream prompt takes every key")
	}
	for _, r := range "counter-7@3" {
		tuitest.Settle(m, tuitest.Key(string(r)))
	}
	tuitest.Settle(m, tuitest.Key("enter"))
	if cur(t, m) != 3 || m.stream != "counter-7" {
		t.Fatalf("at %s v%d", m.stream, cur(t, m))
	}
}

func TestStaleAnswerOnlyCaches(t *testing.T) {
	t.Parallel()
	m, f := setup(t, 10)
	// Two steps issued before either answer arrives: the older answer must
	// not replace the newer target.
	c1 := m.goTo(50)
	c2 := m.goTo(60)
	r2 := tuitest.Drain(c2)
	r1 := tuitest.Drain(c1)
	tuitest.Settle(m, r2...)
	tuitest.Settle(m, r1...)
	if cur(t, m) != 60 {
		t.Fatalf("showing v%d, want 60", cur(t, m))
	}
	if _, ok := m.cache[50]; !ok {
		t.Fatal("the stale answer was not cached")
	}
	_ = f
}

func TestCachedStepOutrunsAnswerInFlight(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, 1) // v0 and v1 cached
	c := m.goTo(2)      // in flight
	m.goTo(1)           // from the cache, at once
	tuitest.Settle(m, tuitest.Drain(c)...)
	if cur(t, m) != 1 {
		t.Fatalf("the answer for v2 replaced the newer step to v1: at v%d", cur(t, m))
	}
}

func TestParseTarget(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	ly, lm, ld := now.In(time.Local).Date() // a time of day is today, local
	cases := []struct {
		in   string
		want Target
		err  bool
	}{
		{"17", Target{Version: 17}, false},
		{"v17", Target{Version: 17}, false},
		{"@17", Target{Version: 17}, false},
		{"+5", Target{Version: 15}, false},
		{"-20", Target{Version: 0}, false},
		{"2024-05-01T10:00:00Z", Target{At: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), IsTime: true}, false},
		{"2024-05-01 10:00", Target{At: time.Date(2024, 5, 1, 10, 0, 0, 0, time.Local), IsTime: true}, false},
		{"10:30", Target{At: time.Date(ly, lm, ld, 10, 30, 0, 0, time.Local), IsTime: true}, false},
		{"10:30:05.5", Target{At: time.Date(ly, lm, ld, 10, 30, 5, 500_000_000, time.Local), IsTime: true}, false},
		{"5m ago", Target{At: now.Add(-5 * time.Minute), IsTime: true}, false},
		{"-2h", Target{At: now.Add(-2 * time.Hour), IsTime: true}, false},
		{"3d", Target{At: now.Add(-72 * time.Hour), IsTime: true}, false},
		{"-3", Target{Version: 7}, false},
		{"+5m", Target{}, true},
		{"", Target{}, true},
		{"v", Target{}, true},
		{"v3d", Target{}, true},
		{"v-1", Target{}, true},
		{"+x", Target{}, true},
		{"yesterday", Target{}, true},
	}
	for _, c := range cases {
		got, err := ParseTarget(c.in, 10, now)
		if (err != nil) != c.err || (!c.err && (got.Version != c.want.Version || got.IsTime != c.want.IsTime || !got.At.Equal(c.want.At))) {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v (err %v)", c.in, got, err, c.want, c.err)
		}
	}
}

// FuzzParseTarget: any input gives a version >= 0, a time, or an error
// that says what is wrong; never a panic.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"17", "+3", "-9", "@v2", "10:00", "5m ago", "2024-05-01T10:00:00Z", "-", "@", "v-1"} {
		f.Add(s)
	}
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTarget(s, 10, now)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if !got.IsTime && got.Version < 0 {
			t.Fatalf("ParseTarget(%q) = version %d", s, got.Version)
		}
	})
}

// TestNarrowStacksEventPane (issue 14, item 5): under 100 columns the
// event pane is stacked under the state instead of dropped.
func TestNarrowStacksEventPane(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, 2)
	m.SetSize(80, 40)
	v := tuitest.Plain(m.View())
	for _, want := range []string{"State after v2", `"count": 2,`, "Event v2  Counted", "Changes since v1"} {
		if !strings.Contains(v, want) {
			t.Fatalf("80 columns lack %q:\n%s", want, v)
		}
	}
	if strings.Index(v, "Event v2") < strings.Index(v, "State after v2") {
		t.Fatalf("event pane not under the state:\n%s", v)
	}
}

// longTT folds one version whose state has 200 fields.
type longTT struct{}

func (longTT) TransitionAt(_ context.Context, stream string, _ int64) (Transition, error) {
	fields := make([]string, 200)
	for i := range fields {
		fields[i] = fmt.Sprintf(`"k%03d":%d`, i, i)
	}
	st := json.RawMessage("{" + strings.Join(fields, ",") + "}")
	return Transition{Before: json.RawMessage(`{}`), After: State{Stream: stream, Version: 0, LastVersion: 0, Aggregate: "Long",
		State: st, Event: store.Event{StreamID: stream, Type: "Made", Data: json.RawMessage(`{}`)}}}, nil
}

func (longTT) VersionAt(context.Context, string, time.Time) (int64, error) { return 0, nil }

// TestStatePanePages (issue 14, item 3): PgDn/PgUp page the state pane as
// the wheel scrolls it.
func TestStatePanePages(t *testing.T) {
	t.Parallel()
	m := New(context.Background(), tuitest.Common(140, 40), longTT{}, "long-1", 0, time.Time{})
	m.SetSize(140, 40)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	if v := tuitest.Plain(m.View()); !strings.Contains(v, `"k000"`) {
		t.Fatalf("first screen:\n%s", v)
	}
	tuitest.Settle(m, tuitest.Key("pgdown"))
	v := tuitest.Plain(m.View())
	if strings.Contains(v, `"k000"`) || !strings.Contains(v, `"k040"`) {
		t.Fatalf("pgdown did not page the state:\n%s", v)
	}
	tuitest.Settle(m, tuitest.Key("pgup"))
	if v := tuitest.Plain(m.View()); !strings.Contains(v, `"k000"`) {
		t.Fatalf("pgup did not page back:\n%s", v)
	}
	tuitest.Settle(m, tea.MouseMsg{Button: tea.MouseButtonWheelDown, Action: tea.MouseActionPress})
	if v := tuitest.Plain(m.View()); strings.Contains(v, `"k000"`) {
		t.Fatalf("the wheel did not scroll the state:\n%s", v)
	}
}
