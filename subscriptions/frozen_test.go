package subscriptions

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"eventscope/store"
)

// The frozen-holder test runs a holder in a real subprocess (this test
// binary, re-executed with frozenHelperEnv set), lets it stop in the middle
// of a TxHandler's transaction, SIGSTOPs it, and checks that monitoring
// shows it as the (unresponsive) holder, that a standby takes over within
// its lease timeout while it stays frozen, and that the frozen process,
// resumed, changes nothing.
const (
	frozenHelperEnv  = "EVENTSCOPE_SUBS_FROZEN_HELPER"  // the database URL
	frozenReleaseEnv = "EVENTSCOPE_SUBS_FROZEN_RELEASE" // a file: the hung handler returns once it exists
	frozenEvents     = 300
	frozenBlockAt    = 150
)

// TestFrozenHelper is the subprocess. It does nothing in a normal run.
func TestFrozenHelper(t *testing.T) {
	url := os.Getenv(frozenHelperEnv)
	if url == "" {
		t.Skip("helper process for TestFrozenHolder; runs only when re-executed by it")
	}
	release := os.Getenv(frozenReleaseEnv)
	ctx := context.Background()
	st, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(st, RunnerOptions{Instance: "frozen", LeaseTimeout: 8 * time.Second, TxIdleTimeout: 2 * time.Second})
	hang := func() {
		for {
			if _, err := os.Stat(release); err == nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := r.Add(crashSubscription(st, "tx", "frozen", frozenBlockAt, hang)); err != nil {
		t.Fatal(err)
	}
	_ = r.Run(ctx) // until killed
}

func TestFrozenHolder(t *testing.T) {
	t.Parallel()
	b := setupPrivate(t) // the helper freezes inside an open transaction
	ctx := context.Background()
	_, err := b.st.Pool().Exec(ctx, deliveriesTable)
	must(t, err)
	appendN(t, b.st, "frozen", 7, frozenEvents)

	release := filepath.Join(t.TempDir(), "release")
	cmd := exec.Command(os.Args[0], "-test.run=^TestFrozenHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), frozenHelperEnv+"="+b.url, frozenReleaseEnv+"="+release)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	must(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	count := func(who string) int {
		var n int
		must(t, b.st.Pool().QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE who = $1 OR $1 = ''`, who).Scan(&n))
		return n
	}
	waitFor(t, "the helper to stop in the middle of a transaction", time.Minute, func() bool {
		var waiting bool
		_ = b.st.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
			AND application_name = 'eventscope' AND state = 'idle in transaction')`).Scan(&waiting)
		return count("frozen") == crashBatch && waiting
	})
	must(t, cmd.Process.Signal(syscall.SIGSTOP))

	// Frozen, it still holds the lease for a while: monitoring says so,
	// naming it, rather than "no-holder".
	var seen Status
	waitFor(t, "the frozen holder to show as unresponsive", time.Minute, func() bool {
		s, err := b.adm.Get(ctx, "crashy")
		seen = s
		return err == nil && s.State != StateLive && s.State != StateCatchingUp
	})
	if seen.State != StateUnresponsive || seen.Holder == nil || seen.Holder.Instance != "frozen" || seen.Holder.PID != cmd.Process.Pid {
		t.Fatalf("frozen holder shows as state %s, holder %v; want unresponsive, frozen pid %d", seen.State, seen.Holder, cmd.Process.Pid)
	}

	// A standby takes over while the holder stays frozen: the server ends
	// the holder's lease connection and its open transaction.
	standby := NewRunner(b.st, RunnerOptions{Instance: "standby", Logf: testLogf(t)})
	must(t, standby.Add(crashSubscription(b.st, "tx", "standby", 0, nil)))
	run(t, standby)
	waitFor(t, "the standby to deliver every event", 2*time.Minute, func() bool {
		var n int
		_ = b.st.Pool().QueryRow(ctx, `SELECT count(DISTINCT event_id) FROM deliveries`).Scan(&n)
		return n == frozenEvents
	})
	s, err := b.adm.Get(ctx, "crashy")
	must(t, err)
	if s.Holder == nil || s.Holder.Instance != "standby" || s.State == StateNoHolder || s.State == StateUnresponsive {
		t.Fatalf("after the takeover: state %s, holder %v; want the standby", s.State, s.Holder)
	}

	// Resumed, the old holder finds its lease and its transaction gone: its
	// handler's writes never commit, the checkpoint is the standby's.
	must(t, os.WriteFile(release, nil, 0o600))
	must(t, cmd.Process.Signal(syscall.SIGCONT))
	waitFor(t, "the resumed process to stand by", time.Minute, func() bool {
		var n int
		_ = b.st.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND application_name = 'eventscope-lease'`).Scan(&n)
		return n == 2 // the standby's and the resumed process's new one
	})
	appendN(t, b.st, "frozen", 7, 10)
	waitFor(t, "the standby to deliver the new events", time.Minute, func() bool { return count("") >= frozenEvents+10 })
	var total, distinct int
	must(t, b.st.Pool().QueryRow(ctx, `SELECT count(*), count(DISTINCT event_id) FROM deliveries`).Scan(&total, &distinct))
	if total != distinct || distinct != frozenEvents+10 {
		t.Fatalf("%d deliveries of %d distinct events, want %d, each once", total, distinct, frozenEvents+10)
	}
	s, err = b.adm.Get(ctx, "crashy")
	must(t, err)
	if s.Processed != frozenEvents+10 || s.Holder == nil || s.Holder.Instance != "standby" {
		t.Fatalf("processed %d, holder %v; want %d by the standby", s.Processed, s.Holder, frozenEvents+10)
	}
}
