package action

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/google/uuid"

	"eventscope/subscriptions"
	"eventscope/tui/common"
)

type fakeAdmin struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeAdmin) rec(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
	if strings.Contains(s, "missing") {
		return common.ErrSubNotFound
	}
	return nil
}
func (f *fakeAdmin) Pause(_ context.Context, n string) error  { return f.rec("pause " + n) }
func (f *fakeAdmin) Resume(_ context.Context, n string) error { return f.rec("resume " + n) }
func (f *fakeAdmin) Reset(_ context.Context, n string, to ResetTarget) error {
	return f.rec("reset " + n + " " + to.String())
}
func (f *fakeAdmin) Retry(_ context.Context, n string, id uuid.UUID) error {
	return f.rec("retry " + n + " " + id.String()[:8])
}
func (f *fakeAdmin) RetryAll(_ context.Context, n string) (int, error) {
	return 3, f.rec("retryall " + n)
}
func (f *fakeAdmin) Skip(_ context.Context, n string, id uuid.UUID) error {
	return f.rec("skip " + n + " " + id.String()[:8])
}
func (f *fakeAdmin) Get(_ context.Context, n string) (common.SubStatus, error) {
	return common.SubStatus{Name: n, State: "paused"}, nil
}

func run(c tea.Cmd) tea.Msg { return c() }

func TestActionsRunAndReportFreshStatus(t *testing.T) {
	t.Parallel()
	f := &fakeAdmin{}
	a := New(context.Background(), f, false)
	id := uuid.MustParse("12345678-0000-0000-0000-000000000000")
	for _, c := range []tea.Cmd{a.PauseResume("s", "live"), a.PauseResume("s", "paused"), a.Reset("s", ResetTarget{Kind: subscriptions.ResetEnd}), a.Retry("s", id), a.RetryAll("s"), a.Skip("s", id)} {
		msg := run(c).(DoneMsg)
		if msg.Err != nil || msg.Status == nil || msg.Status.Name != "s" {
			t.Fatalf("%+v", msg)
		}
	}
	want := "pause s|resume s|reset s end|retry s 12345678|retryall s|skip s 12345678"
	if got := strings.Join(f.calls, "|"); got != want {
		t.Fatalf("calls %q", got)
	}
	msg := run(a.Pause("missing")).(DoneMsg)
	if !errors.Is(msg.Err, common.ErrSubNotFound) || msg.Status != nil {
		t.Fatalf("%+v", msg)
	}
}

// Read-only is enforced here, once, for every action: nothing reaches the
// admin, and the message says why.
func TestReadOnlyDeniesEveryAction(t *testing.T) {
	t.Parallel()
	f := &fakeAdmin{}
	a := New(context.Background(), f, true)
	id := uuid.New()
	for _, c := range []tea.Cmd{a.Pause("s"), a.Resume("s"), a.Reset("s", ResetTarget{}), a.Retry("s", id), a.RetryAll("s"), a.Skip("s", id), a.Denied("reset")} {
		st, ok := run(c).(common.StatusMsg)
		if !ok || st.Kind != common.Failure || !strings.Contains(st.Text, "--read-only") {
			t.Fatalf("%+v", st)
		}
	}
	if len(f.calls) != 0 {
		t.Fatalf("read-only reached the admin: %v", f.calls)
	}
	if !a.ReadOnly() {
		t.Fatal("ReadOnly")
	}
	if New(context.Background(), f, false).Denied("x") != nil {
		t.Fatal("allowed actions are not denied")
	}
	if st := run(New(context.Background(), nil, false).Pause("s")).(common.StatusMsg); !strings.Contains(st.Text, "unavailable") {
		t.Fatalf("no admin: %+v", st)
	}
}
