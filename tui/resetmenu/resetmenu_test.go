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
