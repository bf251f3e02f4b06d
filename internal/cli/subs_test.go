package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"eventscope/internal/testdb"
	"eventscope/store"
	"eventscope/subscriptions"
)

// TestSubsCommands drives a live subscription through the subs commands.
func TestSubsCommands(t *testing.T) {
	t.Parallel()
	db := testdb.URL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := testdb.Open(t, db, store.Options{})
	r := subscriptions.NewRunner(st, subscriptions.RunnerOptions{Instance: "cli"})
	if err := r.Add(subscriptions.Subscription{
		Name: "cli-sub", Retry: subscriptions.RetryPolicy{Attempts: 1},
		Handler: func(_ context.Context, e store.Event) error {
			if e.Type == "Bad" {
				return errors.New("bad event")
			}
			return nil
		},
	}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	if _, err := st.Append(ctx, "order-1", store.Any, store.NewEvent{Type: "Good", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Append(ctx, "order-1", store.Any, store.NewEvent{Type: "Bad", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	adm := subscriptions.NewAdmin(st)
	deadline := time.Now().Add(time.Minute)
	for {
		s, err := adm.Get(ctx, "cli-sub")
		if err == nil && s.Parked == 1 && s.Holder != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no parked event: %+v %v", s, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	code, out, errs := runCLI(t, nil, "subs", "list", "--json", "--db", db)
	var s subscriptions.Status
	if code != 0 || json.Unmarshal([]byte(out), &s) != nil || s.Name != "cli-sub" || s.Parked != 1 || s.Holder == nil {
		t.Fatalf("subs list --json: exit %d, %q %q", code, out, errs)
	}
	code, out, _ = runCLI(t, nil, "subs", "list", "--db", db)
	if code != 0 || !strings.Contains(out, "cli-sub") || !strings.Contains(out, "bad event") {
		t.Fatalf("subs list: exit %d, %q", code, out)
	}
	code, out, _ = runCLI(t, nil, "subs", "pause", "cli-sub", "--db", db)
	if code != 0 || !strings.Contains(out, "paused cli-sub") || !strings.Contains(out, "acknowledged") {
		t.Fatalf("subs pause: exit %d, %q", code, out)
	}
	// show says why it is behind: paused since when, with its parked event.
	if _, err := st.Append(ctx, "order-2", store.Any, store.NewEvent{Type: "Good", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runCLI(t, nil, "subs", "show", "cli-sub", "--db", db)
	// (the lag counts deliverable events: another test's open transaction
	// on the shared server may hold order-2 back for a moment)
	if code != 0 || !strings.Contains(out, "why ") || !strings.Contains(out, ": paused since ") || !strings.Contains(out, " · 1 parked") ||
		!strings.Contains(out, "oldest pending  order-2@0 Good") {
		t.Fatalf("subs show: exit %d, %q %q", code, out, errs)
	}
	code, out, errs = runCLI(t, nil, "subs", "show", "cli-sub", "--json", "--db", db)
	var why struct {
		subscriptions.Why
		Line string `json:"line"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &why) != nil || why.Reason != subscriptions.ReasonPaused || why.Status.PausedAt.IsZero() ||
		why.Oldest == nil || why.Oldest.StreamID != "order-2" || !strings.Contains(why.Line, "paused since") {
		t.Fatalf("subs show --json: exit %d, %q %q", code, out, errs)
	}
	code, out, _ = runCLI(t, nil, "subs", "resume", "cli-sub", "--db", db)
	if code != 0 || !strings.Contains(out, "resumed cli-sub") {
		t.Fatalf("subs resume: exit %d, %q", code, out)
	}

	code, out, _ = runCLI(t, nil, "subs", "parked", "cli-sub", "--json", "--db", db)
	var p subscriptions.ParkedEvent
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil || p.Event.Type != "Bad" || p.Attempts != 1 || p.LastError != "bad event" ||
		len(p.History) != 1 || p.History[0].Error != "bad event" || p.FirstFailedAt.IsZero() {
		t.Fatalf("subs parked --json: exit %d, %q", code, out)
	}
	id := p.Event.EventID.String()
	code, out, _ = runCLI(t, nil, "subs", "parked", "cli-sub", "--db", db)
	if code != 0 || !strings.Contains(out, id) {
		t.Fatalf("subs parked: exit %d, %q", code, out)
	}

	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"subs", "pause", "nope"}, ExitNotFound, `subscription "nope" not found`},
		{[]string{"subs", "parked", "nope"}, ExitNotFound, "not found"},
		{[]string{"subs", "show", "nope"}, ExitNotFound, `subscription "nope" not found`},
		{[]string{"subs", "show", "bad name"}, ExitBadInput, "NAME"},
		{[]string{"subs", "pause", "bad name"}, ExitBadInput, "NAME"},
		{[]string{"subs", "reset", "cli-sub", "--to", "bogus"}, ExitBadInput, `"bogus"`},
		{[]string{"subs", "reset", "cli-sub"}, ExitBadInput, "--to is required"},
		{[]string{"subs", "retry", "cli-sub"}, ExitBadInput, "EVENT_ID or --all"},
		{[]string{"subs", "retry", "cli-sub", "not-a-uuid"}, ExitBadInput, `"not-a-uuid" is not a UUID`},
		{[]string{"subs", "retry", "cli-sub", "3c1a9d52-4b1e-4c8a-9f00-1d2e3f4a5b6c"}, ExitNotFound, "parked event 3c1a9d52"},
		{[]string{"subs", "skip", "cli-sub", id}, ExitBadInput, "--yes"},
		{[]string{"subs", "delete", "cli-sub"}, ExitBadInput, "--yes"},
		{[]string{"subs", "skip", "cli-sub", id, "--yes"}, ExitOK, "discarded"},
		{[]string{"subs", "skip", "cli-sub", id, "--yes"}, ExitNotFound, "not found"},
		{[]string{"subs", "retry", "cli-sub", "--all"}, ExitOK, "retry of 0 parked events"},
		{[]string{"subs", "reset", "cli-sub", "--to", "start"}, ExitOK, "reset to start"},
		{[]string{"subs", "reset", "cli-sub", "--to", "-5m"}, ExitOK, "reset to"},
		{[]string{"subs", "delete", "cli-sub", "--yes"}, ExitOK, "deleted subscription cli-sub"},
		{[]string{"subs", "list"}, ExitOK, "no subscriptions"},
	} {
		code, out, errs := runCLI(t, nil, append(c.args, "--db", db)...)
		if code != c.code || !strings.Contains(out+errs, c.msg) {
			t.Errorf("%v: exit %d (want %d), out %q, err %q; want %q", c.args, code, c.code, out, errs, c.msg)
		}
	}
}

// TestTail follows the log: from the start with a filter, and live from
// the end, in read --all's NDJSON shape.
func TestTail(t *testing.T) {
	t.Parallel()
	db := testdb.URL(t)
	ctx := context.Background()
	st := testdb.Open(t, db, store.Options{})
	for i := range 4 {
		if _, err := st.Append(ctx, fmt.Sprintf("order-%d", i%2), store.Any, store.NewEvent{Type: "Placed", Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Append(ctx, "customer-1", store.Any, store.NewEvent{Type: "Seen", Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs := runCLI(t, nil, "tail", "--from", "start", "--category", "order", "--count", "4", "--json", "--db", db)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 4 {
		t.Fatalf("tail --from start: exit %d, %q %q", code, out, errs)
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"stream_id", "version", "position", "checkpoint", "event_id", "type", "data", "metadata", "recorded_at"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("tail --json line lacks %q: %s", k, l)
			}
		}
		if !strings.HasPrefix(m["stream_id"].(string), "order-") {
			t.Fatalf("tail --category order printed %s", l)
		}
	}

	// Live, from the end: only what is appended after it starts.
	res := make(chan string, 1)
	go func() {
		_, out, _ := runCLI(t, nil, "tail", "--count", "1", "--db", db)
		res <- out
	}()
	deadline := time.Now().Add(time.Minute)
	for i := 0; ; i++ {
		// Append until tail (which starts at the head) has printed one.
		if _, err := st.Append(ctx, "live-1", store.Any, store.NewEvent{Type: "Live", Data: []byte(fmt.Sprintf(`{"i":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
		select {
		case out := <-res:
			if !strings.Contains(out, "live-1@") || !strings.Contains(out, "Live") || strings.Contains(out, "order-") {
				t.Fatalf("tail printed %q", out)
			}
			return
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("tail printed nothing")
		}
	}
}

func TestTailBadInput(t *testing.T) {
	t.Parallel()
	for _, c := range [][]string{
		{"tail", "--from", "yesterday"},
		{"tail", "--count", "-1"},
		{"tail", "--category", "a,,b"},
	} {
		if code, _, errs := runCLI(t, nil, c...); code != ExitBadInput {
			t.Errorf("%v: exit %d, %q; want 2", c, code, errs)
		}
	}
}
