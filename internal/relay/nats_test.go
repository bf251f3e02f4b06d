package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"eventscope/internal/testdb"
	"eventscope/store"
	"eventscope/subscriptions"
)

// natsServer is a real NATS server with JetStream, embedded in the test,
// on a loopback port with its store in a temporary directory.
type natsServer struct {
	t    testing.TB
	dir  string
	port int
	srv  *natsserver.Server
}

func startNATS(t testing.TB) *natsServer {
	t.Helper()
	n := &natsServer{t: t, dir: t.TempDir(), port: -1}
	n.start()
	t.Cleanup(n.stop)
	return n
}

func (n *natsServer) start() {
	n.t.Helper()
	srv, err := natsserver.NewServer(&natsserver.Options{
		Host: "127.0.0.1", Port: n.port, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: n.dir,
		JetStreamMaxMemory: 64 << 20, JetStreamMaxStore: 1 << 30,
	})
	if err != nil {
		n.t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		n.t.Fatal("NATS server not ready")
	}
	n.srv = srv
	n.port = srv.Addr().(*net.TCPAddr).Port // the same port after a restart
}

func (n *natsServer) stop() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

func (n *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(n.port) }

// streamMessages reads every message of a JetStream stream, in order.
func streamMessages(t testing.TB, url, stream string) []*jetstream.RawStreamMsg {
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
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		out = append(out, m)
	}
	return out
}

// checkStream checks that the stream holds each of ids exactly once, each
// stream's events in version order, with the headers the relay promises.
func checkStream(t testing.TB, msgs []*jetstream.RawStreamMsg, ids []uuid.UUID, prefix string) {
	t.Helper()
	seen := map[string]bool{}
	last := map[string]int64{}
	for _, m := range msgs {
		id := m.Header.Get(jetstream.MsgIDHeader)
		if seen[id] {
			t.Fatalf("event %s stored twice", id)
		}
		seen[id] = true
		var e store.Event
		if err := json.Unmarshal(m.Data, &e); err != nil {
			t.Fatalf("message %d: %v", m.Sequence, err)
		}
		if e.EventID.String() != id || m.Header.Get("Eventscope-Stream-Id") != e.StreamID ||
			m.Header.Get("Eventscope-Version") != strconv.FormatInt(e.Version, 10) ||
			m.Header.Get("Eventscope-Checkpoint") != e.Checkpoint.String() {
			t.Fatalf("message %d: headers %v do not match its event %+v", m.Sequence, m.Header, e)
		}
		if want := Subject(prefix, e.Category(), e.Type); m.Subject != want {
			t.Fatalf("message %d on %q, want %q", m.Sequence, m.Subject, want)
		}
		if v, ok := last[e.StreamID]; ok && e.Version <= v {
			t.Fatalf("%s: version %d stored after %d", e.StreamID, e.Version, v)
		}
		last[e.StreamID] = e.Version
	}
	for _, id := range ids {
		if !seen[id.String()] {
			t.Fatalf("event %s never stored (%d messages for %d events)", id, len(msgs), len(ids))
		}
	}
	if len(msgs) != len(ids) {
		t.Fatalf("%d messages for %d events", len(msgs), len(ids))
	}
}

type fixture struct {
	db  string
	st  *store.Store
	adm *subscriptions.Admin
}

func setup(t testing.TB) fixture {
	t.Helper()
	db := testdb.URL(t)
	st, err := store.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return fixture{db: db, st: st, adm: subscriptions.NewAdmin(st)}
}

func appendN(t testing.TB, st *store.Store, streams []string, typ string, n int) []uuid.UUID {
	t.Helper()
	ids := make([]uuid.UUID, 0, n)
	for i := range n {
		id := uuid.New()
		if _, err := st.Append(context.Background(), streams[i%len(streams)], store.Any,
			store.NewEvent{ID: id, Type: typ, Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// runRelay runs a Runner with the relay subscription until the test ends.
func runRelay(t testing.TB, st *store.Store, o NATSOptions, name string, cats ...string) *NATS {
	t.Helper()
	r, err := NewNATS(st, o)
	if err != nil {
		t.Fatal(err)
	}
	run := subscriptions.NewRunner(st, subscriptions.RunnerOptions{Logf: t.Logf})
	if err := run.Add(r.Subscription(name, cats, nil)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = run.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; r.Close() })
	return r
}

// waitFor polls cond every 20 ms, for a minute at most.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// caughtUp is true when the subscription's checkpoint has reached the
// newest event of the given streams. (Not Head: on a shared server another
// database's open transaction can hold the horizon back, and Head with it.)
func caughtUp(t testing.TB, f fixture, name string, streams ...string) bool {
	t.Helper()
	ctx := context.Background()
	var last store.Checkpoint
	for _, sid := range streams {
		evs, err := f.st.ReadStream(ctx, sid, store.ReadStreamOptions{Backward: true, FromEnd: true, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 1 && last.Less(evs[0].Checkpoint) {
			last = evs[0].Checkpoint
		}
	}
	s, err := f.adm.Get(ctx, name)
	return err == nil && !s.Checkpoint.Less(last)
}

// TestNATSRelay relays a backlog and live events, odd category and type
// names included, to a real JetStream; each is stored once, in order, on
// its escaped subject, with its headers; the stream is created with a
// duplicate window of at least two minutes.
func TestNATSRelay(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ns := startNATS(t)
	ids := appendN(t, f.st, []string{"order-1", "order-2", "a.b-1", "ünï-1", "-7"}, "Placed", 1200)
	ids = append(ids, appendN(t, f.st, []string{"order-1"}, "Odd*Type >x", 5)...)
	runRelay(t, f.st, NATSOptions{URL: ns.url(), Window: 64}, "to-nats")
	ids = append(ids, appendN(t, f.st, []string{"order-3", "customer-1"}, "Live", 50)...)
	waitFor(t, "the relay to catch up", func() bool {
		return caughtUp(t, f, "to-nats", "order-1", "order-2", "order-3", "a.b-1", "ünï-1", "-7", "customer-1")
	})

	msgs := streamMessages(t, ns.url(), "EVENTSCOPE")
	checkStream(t, msgs, ids, "eventscope")
	subjects := map[string]bool{}
	for _, m := range msgs {
		subjects[m.Subject] = true
	}
	for _, want := range []string{"eventscope.order.Placed", "eventscope.a%2Eb.Placed", "eventscope.%C3%BCn%C3%AF.Placed",
		"eventscope.%.Placed", "eventscope.order.Odd%2AType%20%3Ex", "eventscope.customer.Live"} {
		if !subjects[want] {
			t.Errorf("no message on %s (subjects: %v)", want, subjects)
		}
	}

	nc, err := nats.Connect(ns.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	s, err := js.Stream(context.Background(), "EVENTSCOPE")
	if err != nil {
		t.Fatal(err)
	}
	if d := s.CachedInfo().Config.Duplicates; d < 2*time.Minute {
		t.Fatalf("duplicate window %s", d)
	}
}

// TestNATSRelayCategories: only the given categories are relayed, to a
// stream and prefix of the caller's choosing.
func TestNATSRelayCategories(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ns := startNATS(t)
	want := appendN(t, f.st, []string{"order-1", "order-2"}, "Placed", 40)
	appendN(t, f.st, []string{"customer-1"}, "Registered", 40)
	runRelay(t, f.st, NATSOptions{URL: ns.url(), Stream: "ORDERS", SubjectPrefix: "acme.events"}, "orders-to-nats", "order")
	waitFor(t, "the relay to catch up", func() bool { return caughtUp(t, f, "orders-to-nats", "order-1", "order-2", "customer-1") })
	checkStream(t, streamMessages(t, ns.url(), "ORDERS"), want, "acme.events")
}

// TestNATSRelayServerRestart: NATS goes down while events are relayed; the
// subscription shows as failing with the error, nothing is parked, and
// once NATS is back every event is stored exactly once.
func TestNATSRelayServerRestart(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ns := startNATS(t)
	streams := []string{"order-1", "order-2", "order-3"}
	ids := appendN(t, f.st, streams, "Placed", 300)
	runRelay(t, f.st, NATSOptions{URL: ns.url(), AckTimeout: time.Second}, "restart")
	var (
		mu   sync.Mutex
		more []uuid.UUID
	)
	stop := make(chan struct{})
	appended := make(chan struct{})
	go func() { // live traffic throughout
		defer close(appended)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := uuid.New()
			if _, err := f.st.Append(context.Background(), streams[i%3], store.Any, store.NewEvent{ID: id, Type: "Live", Data: json.RawMessage(`{}`)}); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			more = append(more, id)
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	waitFor(t, "some events relayed", func() bool {
		s, err := f.adm.Get(context.Background(), "restart")
		return err == nil && s.Processed > 100
	})
	ns.stop()
	waitFor(t, "the relay to show as failing", func() bool {
		s, err := f.adm.Get(context.Background(), "restart")
		return err == nil && s.State == subscriptions.StateFailing && s.LastError != ""
	})
	s, _ := f.adm.Get(context.Background(), "restart")
	t.Logf("while NATS is down: state %s, last error %q", s.State, s.LastError)
	time.Sleep(500 * time.Millisecond) // a few retries against the dead server
	ns.start()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-appended
	mu.Lock()
	ids = append(ids, more...)
	mu.Unlock()
	waitFor(t, "the relay to catch up after the restart", func() bool { return caughtUp(t, f, "restart", streams...) })
	if s, _ := f.adm.Get(context.Background(), "restart"); s.Parked != 0 {
		t.Fatalf("%d events parked", s.Parked)
	}
	checkStream(t, streamMessages(t, ns.url(), "EVENTSCOPE"), ids, "eventscope")
}

// TestNATSRelayExistingStream: a stream that exists is used as it is, but
// one whose duplicate window is too short, or whose subjects miss the
// prefix, is refused with a clear error (shown as the relay's last error).
func TestNATSRelayExistingStream(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ns := startNATS(t)
	nc, err := nats.Connect(ns.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "SHORT", Subjects: []string{"short.>"}, Duplicates: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ELSEWHERE", Subjects: []string{"other.*.*"}, Duplicates: 5 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	appendN(t, f.st, []string{"order-1"}, "Placed", 3)
	for _, c := range []struct{ stream, prefix, want string }{
		{"SHORT", "short", "needs at least 2m0s"},
		{"ELSEWHERE", "mine", "does not capture mine.>"},
	} {
		r, err := NewNATS(f.st, NATSOptions{URL: ns.url(), Stream: c.stream, SubjectPrefix: c.prefix})
		if err != nil {
			t.Fatal(err)
		}
		err = r.ensureStream(ctx)
		r.Close()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: %v, want an error saying %q", c.stream, err, c.want)
		}
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "WIDE", Subjects: []string{"x.>"}, Duplicates: 5 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	r, err := NewNATS(f.st, NATSOptions{URL: ns.url(), Stream: "WIDE", SubjectPrefix: "x.y"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.ensureStream(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestNATSOptionsInvalid(t *testing.T) {
	t.Parallel()
	for _, o := range []NATSOptions{
		{},
		{URL: "nats://127.0.0.1:1", SubjectPrefix: "a..b"},
		{URL: "nats://127.0.0.1:1", SubjectPrefix: "a.>"},
		{URL: "nats://127.0.0.1:1", SubjectPrefix: "$JS"},
		{URL: "nats://127.0.0.1:1", SubjectPrefix: "a b"},
		{URL: "nats://127.0.0.1:1", Stream: "a.b"},
		{URL: "nats://127.0.0.1:1", Attempts: -1},
	} {
		r, err := NewNATS(nil, o)
		if err == nil {
			r.Close()
			t.Errorf("%+v: accepted", o)
			continue
		}
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%+v: %v is not ErrInvalid", o, err)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"nats://u:secret@h:4222":           "nats://u:xxxxx@h:4222",
		"nats://tok@h:4222,nats://a:b@k:1": "nats://xxxxx@h:4222,nats://a:xxxxx@k:1",
		"nats://127.0.0.1:4222":            "nats://127.0.0.1:4222",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}
