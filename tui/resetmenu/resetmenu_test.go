package resetmenu

import (
	"context"
	"strings"
	"testing"

	"eventscope/tui/action"
	"eventscope/tui/common"
	"eventscope/tui/tuitest"
)

func TestTimeTargetAsksForTheName(t *testing.T) {
	t.Parallel()
	c := tuitest.Common(100, 30)
	m := New(c, action.New(context.Background(), nil, false), "billing")
	for _, k := range []string{"down", "down", "down"} {
		m.Update(tuitest.Key(k))
	}
	m.Update(tuitest.Key("enter")) // time
	for _, r := range "1h ago" {
		m.Update(tuitest.Key(string(r)))
	}
	cmd, done := m.Update(tuitest.Key("enter"))
	if !done {
		t.Fatal("not done")
	}
	conf := cmd().(common.ConfirmMsg)
	if conf.Typed != "billing" || !strings.Contains(conf.Prompt, "time 2024-05-01T11:00:00Z") {
		t.Fatalf("%+v", conf)
	}
	if _, done := New(c, nil, "x").Update(tuitest.Key("esc")); !done {
		t.Fatal("esc closes")
	}
}

// TestStartSaysHowManyAndAsksTheNameAtScale (issue 14, item 8): resetting
// to the start says how many events are delivered again; from
// action.AtScale on, the name must be typed.
func TestStartSaysHowManyAndAsksTheNameAtScale(t *testing.T) {
	t.Parallel()
	c := tuitest.Common(100, 30)
	for _, tc := range []struct {
		processed int64
		types     []string
		typed     string
		says      string
	}{
		{12, nil, "", "about 12 events it has processed are delivered to its handler again"},
		{48213, []string{"OrderPlaced"}, "billing", "at most 48,213 events"},
	} {
		f := tuitest.NewAdmin([]common.SubStatus{{Name: "billing", State: "live", Processed: tc.processed, Types: tc.types}}, nil)
		m := New(c, action.New(context.Background(), f, false), "billing")
		cmd, done := m.Update(tuitest.Key("enter")) // start
		if !done || cmd == nil {
			t.Fatal("start does not ask")
		}
		conf, ok := cmd().(common.ConfirmMsg)
		if !ok || conf.Typed != tc.typed || !strings.Contains(conf.Prompt, tc.says) {
			t.Fatalf("processed %d: %+v", tc.processed, conf)
		}
	}
}
