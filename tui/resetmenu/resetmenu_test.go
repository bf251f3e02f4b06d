package resetmenu

import (
	"context"
	"strings"
	"testing"
	"time"

	"eventscope/store"
	"eventscope/tui/action"
	"eventscope/tui/common"
	"eventscope/tui/tuitest"
)

// TestParseTime: the dialog's time field takes store.ParseTime's forms;
// zone-less times are local.
func TestParseTime(t *testing.T) {
	t.Parallel()
	now := tuitest.Now
	for in, want := range map[string]time.Time{
		"15m ago":              now.Add(-15 * time.Minute),
		"2024-05-01 10:00":     time.Date(2024, 5, 1, 10, 0, 0, 0, time.Local),
		"2024-05-01T10:00:05Z": time.Date(2024, 5, 1, 10, 0, 5, 0, time.UTC),
		"2024-04-30":           time.Date(2024, 4, 30, 0, 0, 0, 0, time.Local),
	} {
		got, err := store.ParseTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "soon", "-5m ago", "5 ago"} {
		if _, err := store.ParseTime(bad, now); err == nil {
			t.Errorf("ParseTime(%q) accepted", bad)
		}
	}
}

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
