package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"eventscope/store"
	"eventscope/subscriptions"
)

// BenchmarkRelayCatchUp measures how fast the NATS relay catches up on a
// backlog, against the raw limit measured in the same run: a subscription
// whose Handler does nothing, reading the same log. Runs alternate (raw,
// relay, relay with a window of 1, raw, ...); the medians are reported.
//
//	go test ./internal/relay/ -run '^$' -bench RelayCatchUp -benchtime 1x
func BenchmarkRelayCatchUp(b *testing.B) {
	const events, rounds = 20000, 3
	f := setup(b)
	ns := startNATS(b)
	bulkLoad(b, f.st, events, 0)
	var raw, relayed, sync1, pub []float64
	for i := 0; i < rounds*b.N; i++ {
		raw = append(raw, catchUp(b, f.st, fmt.Sprintf("raw-%d", i), events, nil))
		pub = append(pub, publishOnly(b, ns.url(), fmt.Sprintf("R%d", i), events, 512))
		relayed = append(relayed, catchUp(b, f.st, fmt.Sprintf("relay-%d", i), events, &NATSOptions{URL: ns.url(), Stream: fmt.Sprintf("S%d", i), SubjectPrefix: fmt.Sprintf("p%d", i)}))
		sync1 = append(sync1, catchUp(b, f.st, fmt.Sprintf("sync-%d", i), events, &NATSOptions{URL: ns.url(), Window: 1, Stream: fmt.Sprintf("W%d", i), SubjectPrefix: fmt.Sprintf("w%d", i)}))
	}
	r, n, s, p := median(raw), median(relayed), median(sync1), median(pub)
	b.ReportMetric(r, "raw-events/s")
	b.ReportMetric(p, "nats-publish/s")
	b.ReportMetric(n, "relay-events/s")
	b.ReportMetric(n/r, "relay/raw")
	b.ReportMetric(s, "window1-events/s")
	b.Logf("catch-up of %d events: raw subscription %.0f events/s, plain async NATS publish of as many messages %.0f/s; relay %.0f events/s (%.2fx of the subscription, %.2fx of the publish), relay with window 1 %.0f events/s (%.2fx of the subscription)",
		events, r, p, n, n/r, n/p, s, s/r)
}

// BenchmarkRelayLag measures, with the relay live, the time from an
// append's commit to the message's arrival at a JetStream consumer,
// against the same for a plain subscription's Handler in the same run.
//
//	go test ./internal/relay/ -run '^$' -bench RelayLag -benchtime 1x
func BenchmarkRelayLag(b *testing.B) {
	const events, rate = 1000, 500 // events/s
	f := setup(b)
	ns := startNATS(b)
	nc, err := nats.Connect(ns.url())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)

	appended := make(map[string]time.Time, events)
	var rawLag, natsLag []time.Duration
	var appendedMu = make(chan struct{}, 1)
	appendedMu <- struct{}{}
	at := func(id string) (time.Time, bool) {
		<-appendedMu
		defer func() { appendedMu <- struct{}{} }()
		t, ok := appended[id]
		return t, ok
	}
	lagCh := make(chan time.Duration, events)
	run := subscriptions.NewRunner(f.st, subscriptions.RunnerOptions{})
	if err := run.Add(subscriptions.Subscription{Name: "raw-live", StartAtEnd: true, Handler: func(_ context.Context, e store.Event) error {
		if t, ok := at(e.EventID.String()); ok {
			lagCh <- time.Since(t)
		}
		return nil
	}}); err != nil {
		b.Fatal(err)
	}
	rl, err := NewNATS(f.st, NATSOptions{URL: ns.url()})
	if err != nil {
		b.Fatal(err)
	}
	defer rl.Close()
	def := rl.Subscription("relay-live", nil, nil)
	def.StartAtEnd = true
	if err := run.Add(def); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = run.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(b, "the relay's stream", func() bool {
		return rl.ensureStream(ctx) == nil
	})
	natsCh := make(chan time.Duration, events)
	cons, err := js.OrderedConsumer(ctx, "EVENTSCOPE", jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		b.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if t, ok := at(m.Headers().Get(jetstream.MsgIDHeader)); ok {
			natsCh <- time.Since(t)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Stop()
	time.Sleep(1500 * time.Millisecond) // both subscriptions live
	tick := time.NewTicker(time.Second / rate)
	for i := 0; i < events; i++ {
		<-tick.C
		evs := []store.NewEvent{{Type: "Live", Data: json.RawMessage(`{}`)}}
		id := uuid.New()
		evs[0].ID = id
		<-appendedMu
		appended[id.String()] = time.Now() // before the append: the lag includes the append itself
		appendedMu <- struct{}{}
		if _, err := f.st.Append(ctx, fmt.Sprintf("order-%d", i%50), store.Any, evs...); err != nil {
			b.Fatal(err)
		}
	}
	tick.Stop()
	timeout := time.After(time.Minute)
	for len(rawLag) < events || len(natsLag) < events {
		select {
		case d := <-lagCh:
			rawLag = append(rawLag, d)
		case d := <-natsCh:
			natsLag = append(natsLag, d)
		case <-timeout:
			b.Fatalf("raw %d, nats %d of %d after a minute", len(rawLag), len(natsLag), events)
		}
	}
	rp50, rp99 := pct(rawLag, 50), pct(rawLag, 99)
	np50, np99 := pct(natsLag, 50), pct(natsLag, 99)
	b.ReportMetric(float64(rp50.Microseconds())/1000, "raw-p50-ms")
	b.ReportMetric(float64(np50.Microseconds())/1000, "nats-p50-ms")
	b.ReportMetric(float64(np99.Microseconds())/1000, "nats-p99-ms")
	b.Logf("%d events at %d/s: append-to-handler lag p50 %s p99 %s; append-to-JetStream-consumer lag p50 %s p99 %s",
		events, rate, rp50, rp99, np50, np99)
}

// publishOnly is the raw NATS limit: async publishes of n messages of an
// event's size (with Nats-Msg-Id), window in flight, to a new stream.
func publishOnly(b testing.TB, url, stream string, n, window int) float64 {
	b.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(2*window))
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{stream + ".>"}, Storage: jetstream.FileStorage, Duplicates: DuplicateWindow}); err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 420) // about an event's JSON
	start := time.Now()
	var futs []jetstream.PubAckFuture
	for i := 0; i < n; i++ {
		m := nats.NewMsg(stream + ".order.OrderPlaced")
		m.Data = body
		m.Header.Set(jetstream.MsgIDHeader, uuid.NewString())
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			b.Fatal(err)
		}
		futs = append(futs, f)
		if len(futs) >= window {
			select {
			case <-futs[0].Ok():
			case err := <-futs[0].Err():
				b.Fatal(err)
			}
			futs = futs[1:]
		}
	}
	<-js.PublishAsyncComplete()
	return float64(n) / time.Since(start).Seconds()
}

// catchUp runs one subscription from the start until it has handled the
// first n events and returns events/s; with o it is a NATS relay.
func catchUp(b testing.TB, st *store.Store, name string, n int, o *NATSOptions) float64 {
	b.Helper()
	var handled atomic.Int64
	var def subscriptions.Subscription
	var rl *NATS
	if o == nil {
		def = subscriptions.Subscription{Name: name, Handler: func(context.Context, store.Event) error { handled.Add(1); return nil }}
	} else {
		var err error
		if rl, err = NewNATS(st, *o); err != nil {
			b.Fatal(err)
		}
		defer rl.Close()
		if err := rl.ensureStream(context.Background()); err != nil { // stream creation is not the throughput
			b.Fatal(err)
		}
		def = rl.Subscription(name, nil, nil)
		h := def.Handler
		def.Handler = func(ctx context.Context, e store.Event) error {
			if err := h(ctx, e); err != nil {
				return err
			}
			handled.Add(1)
			return nil
		}
	}
	run := subscriptions.NewRunner(st, subscriptions.RunnerOptions{})
	if err := run.Add(def); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() { defer close(done); _ = run.Run(ctx) }()
	for handled.Load() < int64(n) {
		time.Sleep(time.Millisecond)
	}
	el := time.Since(start)
	cancel()
	<-done
	return float64(n) / el.Seconds()
}

// bulkLoad loads n events over 100 streams with COPY.
func bulkLoad(b testing.TB, st *store.Store, n, offset int) {
	b.Helper()
	streams := make([]store.BulkStream, 100)
	for i := range streams {
		streams[i].StreamID = fmt.Sprintf("order-%d", offset+i)
	}
	for i := 0; i < n; i++ {
		s := &streams[i%100]
		s.Events = append(s.Events, store.BulkEvent{Type: "OrderPlaced", Data: json.RawMessage(`{"total":1250,"currency":"EUR","lines":[{"sku":"A-1","qty":2}]}`)})
	}
	if _, err := st.BulkLoad(context.Background(), streams, store.BulkOptions{}); err != nil {
		b.Fatal(err)
	}
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func pct(ds []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, len(s)*p/100)]
}
