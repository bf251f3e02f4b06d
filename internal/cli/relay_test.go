package cli

import (
	"context"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"eventscope/internal/testdb"
	"eventscope/store"
	"eventscope/subscriptions"
)

// embeddedNATS starts a real NATS server with JetStream on a loopback
// port, its store in a temporary directory, for the test's length.
func embeddedNATS(t *testing.T) string {
	t.Helper()
	srv, err := natsserver.NewServer(&natsserver.Options{
		Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: t.TempDir(), JetStreamMaxMemory: 64 << 20, JetStreamMaxStore: 1 << 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return "nats://127.0.0.1:" + strconv.Itoa(srv.Addr().(*net.TCPAddr).Port)
}

// jetStreamIDs is the Nats-Msg-Id of every message of a stream, in order
// (nil while the stream does not exist).
func jetStreamIDs(t *testing.T, url, stream string) []string {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil
	}
	info, err := s.Info(ctx)
	if err != nil || info.State.Msgs == 0 {
		return nil
	}
	var ids []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.Header.Get(jetstream.MsgIDHeader))
	}
	return ids
}

// jetStreamCount is the number of messages in a stream (0 while it does not exist).
func jetStreamCount(t *testing.T, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0
	}
	return info.State.Msgs
}

// TestRelayNATSKilled runs `eventscope relay nats` as a real process,
// SIGKILLs it while it publishes, and restarts it: JetStream ends up with
// every event exactly once, in order (the restarted relay's re-publishes
// are dropped as duplicates), and SIGTERM stops it with exit code 0.
func TestRelayNATSKilled(t *testing.T) {
	t.Parallel()
	db := testdb.URL(t)
	url := embeddedNATS(t)
	st, err := store.Open(t.Context(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ids := appendEvents(t, st, "order", 5, 3000)

	start := func() (*subscriberRun, *strings.Builder) {
		c := cliCommand(t, "relay", "nats", "--db", db, "--url", url, "--window", "256")
		var errs strings.Builder
		c.Stderr = &errs
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		return &subscriberRun{cmd: c}, &errs
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	first, errs1 := start()
	deadline := time.Now().Add(time.Minute)
	for jetStreamCount(t, js, "EVENTSCOPE") < 300 {
		if time.Now().After(deadline) {
			t.Fatalf("nothing relayed in a minute:\n%s", errs1)
		}
		time.Sleep(time.Millisecond)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	before := jetStreamCount(t, js, "EVENTSCOPE")
	adm := subscriptions.NewAdmin(st)
	s, err := adm.Get(t.Context(), "nats-relay")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed with %d events stored, checkpoint at %d processed", before, s.Processed)

	ids = append(ids, appendEvents(t, st, "order", 5, 200)...)
	second, errs2 := start()
	deadline = time.Now().Add(2 * time.Minute)
	for jetStreamCount(t, js, "EVENTSCOPE") < uint64(len(ids)) {
		if time.Now().After(deadline) {
			t.Fatalf("not all relayed after the restart:\n%s", errs2)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // give a duplicate, were there one, time to land
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, errs2)
	}
	got := jetStreamIDs(t, url, "EVENTSCOPE")
	if len(got) != len(ids) {
		t.Fatalf("%d messages for %d events", len(got), len(ids))
	}
	for i, id := range ids { // one publisher at a time, appends in order: the stream is the log's order
		if got[i] != id.String() {
			t.Fatalf("message %d is %s, want event %s", i, got[i], id)
		}
	}
	if !strings.Contains(errs2.String(), "duplicates") {
		t.Fatalf("no summary on stop:\n%s", errs2)
	}
	t.Logf("restart: %s", lastLine(errs2.String()))
}

func TestRelayNATSBadInput(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"relay", "nats"},
		{"relay", "nats", "--url", "nats://127.0.0.1:1", "--subject-prefix", "a..b"},
		{"relay", "nats", "--url", "nats://127.0.0.1:1", "--subject-prefix", "a.*"},
		{"relay", "nats", "--url", "nats://127.0.0.1:1", "--window", "0"},
		{"relay", "nats", "--url", "nats://127.0.0.1:1", "--name", "a b"},
		{"relay", "nats", "--url", "nats://127.0.0.1:1", "--from", "later"},
		{"relay", "nats", "--url", "nats://127.0.0.1:1", "--category", ","},
	} {
		code, _, errs := runCLI(t, nil, append(args, "--db", "postgres://invalid.invalid/x")...)
		if code != ExitBadInput || errs == "" {
			t.Errorf("%v: exit %d (%q), want %d", args, code, errs, ExitBadInput)
		}
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
