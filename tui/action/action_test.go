package action_test

import (
	"context"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/google/uuid"

	"eventscope/subscriptions"
	"eventscope/tui/action"
	"eventscope/tui/common"
	"eventscope/tui/tuitest"
)

func run(c tea.Cmd) tea.Msg { return c() }

func TestActionsRunAndReportFreshStatus(t *testing.T) {
	t.Parallel()
	f := tuitest.NewAdmin([]common.SubStatus{{Name: "s", State: "live"}}, nil)
	a := action.New(context.Background(), f, false)
	id := uuid.MustParse("12345678-0000-0000-0000-000000000000")
	for _, c := range []tea.Cmd{a.PauseResume("s", "live"), a.PauseResume("s", "paused"), a.Reset("s", action.ResetTarget{Kind: subscriptions.ResetEnd}), a.Retry("s", id), a.RetryAll("s"), a.Skip("s", id)} {
		msg := run(c).(action.DoneMsg)
		if msg.Err != nil || msg.Status == nil || msg.Status.Name != "s" {
			t.Fatalf("%+v", msg)
		}
	}
	want := "pause s|resume s|reset s end|retry s 12345678|retryall s|skip s 12345678"
	if got := strings.Join(f.Calls(), "|"); got != want {
		t.Fatalf("calls %q", got)
	}
	msg := run(a.Pause("missing")).(action.DoneMsg)
	if !common.IsNotFound(msg.Err) || msg.Status != nil {
		t.Fatalf("%+v", msg)
	}
}

// Read-only is enforced here, once, for every action: nothing reaches the
// admin, and the message says why.
func TestReadOnlyDeniesEveryAction(t *testing.T) {
	t.Parallel()
	f := tuitest.NewAdmin([]common.SubStatus{{Name: "s", State: "live"}}, nil)
	a := action.New(context.Background(), f, true)
	id := uuid.New()
	for _, c := range []tea.Cmd{a.Pause("s"), a.Resume("s"), a.Reset("s", action.ResetTarget{}), a.Retry("s", id), a.RetryAll("s"), a.Skip("s", id), a.Denied("reset")} {
		st, ok := run(c).(common.StatusMsg)
		if !ok || st.Kind != common.Failure || !strings.Contains(st.Text, "--read-only") {
			t.Fatalf("%+v", st)
		}
	}
	if len(f.Calls()) != 0 {
		t.Fatalf("read-only reached the admin: %v", f.Calls())
	}
	if !a.ReadOnly() {
		t.Fatal("ReadOnly")
	}
	if action.New(context.Background(), f, false).Denied("x") != nil {
		t.Fatal("allowed actions are not denied")
	}
	if st := run(action.New(context.Background(), nil, false).Pause("s")).(common.StatusMsg); !strings.Contains(st.Text, "unavailable") {
		t.Fatalf("no admin: %+v", st)
	}
}
