package subscriptions

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// The crash tests run a holder in a real subprocess (this test binary,
// re-executed with crashHelperEnv set), SIGKILL it in the middle of a
// batch, and check what a standby in the test process does next.
const (
	crashHelperEnv = "EVENTSCOPE_SUBS_CRASH_HELPER" // "plain" or "tx"
	crashURLEnv    = "EVENTSCOPE_SUBS_CRASH_URL"
	crashBlockEnv  = "EVENTSCOPE_SUBS_CRASH_BLOCK_AT"
	crashBatch     = 100
	crashEvents    = 300
	crashBlockAt   = 150 // the helper hangs after delivering this many: mid second batch
)

// deliveriesTable records who handled which event; the handlers write it
// (a Handler in autocommit, a TxHandler in the checkpoint's transaction).
const deliveriesTable = `CREATE TABLE deliveries (event_id uuid NOT NULL, who text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`

func crashSubscription(st *store.Store, mode, who string, block int, hang func()) Subscription {
	delivered := 0
	s := Subscription{Name: "crashy", BatchSize: crashBatch}
	if mode == "tx" {
		s.TxHandler = func(ctx context.Context, tx pgx.Tx, e store.Event) error {
			if block > 0 && delivered == block {
				hang()
			}
			delivered++
			_, err := tx.Exec(ctx, `INSERT INTO deliveries (event_id, who) VALUES ($1, $2)`, e.EventID, who)
			return err
		}
	} else {
		s.Handler = func(ctx context.Context, e store.Event) error {
			if block > 0 && delivered == block {
				hang()
			}
			delivered++
			_, err := st.Pool().Exec(ctx, `INSERT INTO deliveries (event_id, who) VALUES ($1, $2)`, e.EventID, who)
			return err
		}
	}
	return s
}

// TestCrashHelper is the subprocess: it holds the subscription and hangs
// mid-batch until it is killed. It does nothing in a normal test run.
func TestCrashHelper(t *testing.T) {
	mode := os.Getenv(crashHelperEnv)
	if mode == "" {
		t.Skip("helper process for TestCrash; runs only when re-executed by it")
	}
	block, _ := strconv.Atoi(os.Getenv(crashBlockEnv))
	ctx := context.Background()
	st, err := store.Open(ctx, os.Getenv(crashURLEnv), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(st, RunnerOptions{Instance: "doomed"})
	if err := r.Add(crashSubscription(st, mode, "doomed", block, func() { select {} })); err != nil {
		t.Fatal(err)
	}
	_ = r.Run(ctx) // until SIGKILL
}

func TestCrash(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"plain", "tx"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			testCrash(t, mode)
		})
	}
}

func testCrash(t *testing.T, mode string) {
	setupFor := setup
	if mode == "tx" {
		setupFor = setupPrivate // the helper hangs inside an open transaction
	}
	b := setupFor(t)
	ctx := context.Background()
	_, err := b.st.Pool().Exec(ctx, deliveriesTable)
	must(t, err)
	appendN(t, b.st, "crash", 7, crashEvents)
	// The helper's first read must see every event, or its batches (and so
	// the redeliveries counted below) are cut elsewhere: on the shared
	// cluster another test's open transaction holds the global log's
	// horizon back for a moment.
	waitFor(t, "the global log to show every appended event", time.Minute, func() bool {
		p, err := b.st.ReadAll(ctx, store.Checkpoint{}, store.ReadAllOptions{Limit: 2 * crashEvents})
		return err == nil && len(p.Events) == crashEvents
	})

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+mode, crashURLEnv+"="+b.url, crashBlockEnv+"="+strconv.Itoa(crashBlockAt))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	must(t, cmd.Start())
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})

	count := func(who string) int {
		var n int
		must(t, b.st.Pool().QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE who = $1 OR $1 = ''`, who).Scan(&n))
		return n
	}
	// The helper hangs in the middle of its second batch. For a TxHandler
	// its second batch is uncommitted, so wait for the hang itself.
	waitFor(t, "the helper to reach the middle of a batch", time.Minute, func() bool {
		if mode == "tx" {
			var waiting bool
			_ = b.st.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
				AND application_name = 'eventscope' AND state = 'idle in transaction')`).Scan(&waiting)
			return count("doomed") == crashBatch && waiting
		}
		return count("doomed") == crashBlockAt
	})

	// A standby in this process, ready before the holder dies.
	standby := NewRunner(b.st, RunnerOptions{Instance: "standby", Logf: testLogf(t)})
	must(t, standby.Add(crashSubscription(b.st, mode, "standby", 0, nil)))
	run(t, standby)
	waitFor(t, "the standby's first lease round", time.Minute, func() bool { return standby.leaseRounds.Load() > 0 })
	if s, _ := b.adm.Get(ctx, "crashy"); s.Holder == nil || s.Holder.Instance != "doomed" {
		t.Fatalf("holder before the crash = %v, want the helper", s.Holder)
	}

	must(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	killed = true
	died := time.Now()
	waitFor(t, "the standby to take over", time.Minute, func() bool {
		var inst *string
		_ = b.st.Pool().QueryRow(ctx, `SELECT holder_instance FROM eventscope.subscriptions WHERE name = 'crashy'`).Scan(&inst)
		return inst != nil && *inst == "standby"
	})
	takeover := time.Since(died)
	t.Logf("%s: standby took over %s after the holder was killed", mode, takeover.Round(time.Millisecond))
	if takeover > 3*time.Second {
		t.Errorf("takeover took %s, want within 3s", takeover)
	}

	waitFor(t, "every event delivered", time.Minute, func() bool {
		var n int
		_ = b.st.Pool().QueryRow(ctx, `SELECT count(DISTINCT event_id) FROM deliveries`).Scan(&n)
		return n == crashEvents
	})
	time.Sleep(200 * time.Millisecond)
	var total, distinct, dups int
	must(t, b.st.Pool().QueryRow(ctx, `SELECT count(*), count(DISTINCT event_id) FROM deliveries`).Scan(&total, &distinct))
	must(t, b.st.Pool().QueryRow(ctx, `SELECT count(*) FROM (SELECT event_id FROM deliveries GROUP BY event_id HAVING count(*) > 1) d`).Scan(&dups))
	t.Logf("%s: %d deliveries of %d events; %d redelivered (helper %d, standby %d)", mode, total, distinct, dups, count("doomed"), count("standby"))
	if distinct != crashEvents {
		t.Errorf("%d distinct events delivered, want %d", distinct, crashEvents)
	}
	switch mode {
	case "tx":
		if dups != 0 || total != crashEvents {
			t.Errorf("transactional handler: %d events redelivered (%d deliveries), want none", dups, total)
		}
	default:
		// At most the unfinished batch: the helper saved its checkpoint
		// after the first batch and hung after 50 events of the second.
		if dups > crashBatch {
			t.Errorf("plain handler: %d events redelivered, want at most the unfinished batch (%d)", dups, crashBatch)
		}
		if dups != crashBlockAt-crashBatch {
			t.Errorf("plain handler: %d events redelivered, want exactly the %d delivered after the last checkpoint", dups, crashBlockAt-crashBatch)
		}
	}
	if mode == "tx" {
		// The row's processed count moved with the committed batches only.
		s, err := b.adm.Get(ctx, "crashy")
		must(t, err)
		if s.Processed != crashEvents {
			t.Errorf("processed = %d, want %d", s.Processed, crashEvents)
		}
	}
}
