// Package relay publishes the store's events to other systems through
// durable subscriptions: every event once its publish is acknowledged,
// checkpointed like any subscriber, shown by "subs list" and the console.
//
// # NATS JetStream
//
// NATS relays a subscription to a JetStream stream. Each event is one
// message on subject PREFIX.<category>.<type> (tokens escaped by
// SubjectToken), whose body is the event as read --all --json prints it,
// with headers
//
//	Nats-Msg-Id            the event id: JetStream drops a message whose id
//	                       it already holds within the stream's duplicate
//	                       window, so a redelivery is not stored twice
//	Eventscope-Stream-Id   the stream id
//	Eventscope-Version     the event's version in its stream
//	Eventscope-Position    its global position
//	Eventscope-Checkpoint  its checkpoint TX:POS (resume a subscription there)
//	Eventscope-Type        its type
//	Content-Type           application/json
//
// Publishing is asynchronous and pipelined: the handler of event e
// publishes e and reads ahead up to Window further events of the
// subscription's filter, publishing them too, then returns once e's publish
// is acknowledged by the stream, so the checkpoint never moves past an
// event JetStream has not stored. The relay therefore publishes up to
// Window events beyond its checkpoint; after a crash, a lost lease or a
// NATS failure those are published again and de-duplicated by their
// Nats-Msg-Id, provided the relay is back within the duplicate window
// (DuplicateWindow, at least two minutes). Consumers that must never see a
// duplicate also de-duplicate on the event id.
//
// While NATS is unreachable, publishes fail at once (nothing is buffered in
// the client), the subscription shows as failing with the error in "subs
// list", and the event is retried with backoff (up to 5 s) until NATS is
// back; it is never parked for that. Within one relay, messages reach
// JetStream in the log's order; only a message the server rejects while it
// accepts later ones (a full stream with discard-new, say) is stored after
// them when it is retried.
package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"eventscope/internal/textsafe"
	"eventscope/store"
	"eventscope/subscriptions"
)

// DuplicateWindow is the duplicate window of a stream the relay creates,
// and the least it accepts in a stream that exists already.
const DuplicateWindow = 2 * time.Minute

// NATSOptions configure a NATS relay.
type NATSOptions struct {
	// URL is the NATS server (nats://host:4222; several, comma-separated,
	// for a cluster; user:password@ or a token in it as NATS accepts).
	// Required.
	URL string
	// Stream is the JetStream stream the events go to. If it does not
	// exist it is created with subjects PREFIX.>, file storage and a
	// DuplicateWindow duplicate window. Default "EVENTSCOPE".
	Stream string
	// SubjectPrefix starts every subject. Default "eventscope".
	SubjectPrefix string
	// Window is the number of publishes in flight (published, not yet
	// acknowledged) at most. Default 512.
	Window int
	// AckTimeout is how long a publish waits for its acknowledgement
	// before it counts as failed and is retried. Default 5s.
	AckTimeout time.Duration
	// Attempts is the number of attempts for an event before it is
	// parked. Default 0: never park (NATS being down is not the event's
	// fault; an event over the server's max_payload then holds the relay,
	// with the reason in "subs list", until it is raised or the
	// subscription is reset past the event).
	Attempts int
	// Logf receives connection changes. Default: discarded.
	Logf func(format string, args ...any)
}

func (o NATSOptions) withDefaults() NATSOptions {
	if o.Stream == "" {
		o.Stream = "EVENTSCOPE"
	}
	if o.SubjectPrefix == "" {
		o.SubjectPrefix = "eventscope"
	}
	if o.Window <= 0 {
		o.Window = 512
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 5 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return o
}

// Bad options are *store.ValidationError (errors.Is(err, store.ErrInvalid)),
// naming the option.
func invalidf(field, format string, args ...any) error {
	return store.InvalidField(field, fmt.Sprintf(format, args...))
}

// NATS relays subscriptions to a JetStream stream over one connection.
type NATS struct {
	st *store.Store // the reads ahead
	o  NATSOptions
	nc *nats.Conn
	js jetstream.JetStream

	mu          sync.Mutex
	streamReady bool
	published   int64
	duplicates  int64
	closed      chan struct{} // closed by Close: pumps stop
}

// NewNATS connects to NATS (in the background: a server that is down now
// is retried for ever, and the relay fails, visibly, until it is up). st is
// the store the relay reads ahead from (the same as the Runner's reads).
func NewNATS(st *store.Store, o NATSOptions) (*NATS, error) {
	o = o.withDefaults()
	if o.URL == "" {
		return nil, invalidf("url", "is required")
	}
	if err := ValidatePrefix(o.SubjectPrefix); err != nil {
		return nil, err
	}
	if err := validateStreamName(o.Stream); err != nil {
		return nil, err
	}
	if o.Window > 100000 {
		return nil, invalidf("window", "%d is over 100000", o.Window)
	}
	if o.Attempts < 0 {
		return nil, invalidf("attempts", "must be >= 0, got %d", o.Attempts)
	}
	r := &NATS{st: st, o: o, closed: make(chan struct{})}
	nc, err := nats.Connect(o.URL,
		nats.Name("eventscope-relay"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.ReconnectBufSize(-1), // fail publishes while disconnected instead of buffering them
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				o.Logf("relay: NATS disconnected: %v", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { o.Logf("relay: NATS connected to %s", c.ConnectedUrlRedacted()) }),
	)
	if err != nil {
		return nil, invalidf("url", "%q: %v", redact(o.URL), err)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(2*o.Window),
		jetstream.WithPublishAsyncTimeout(o.AckTimeout))
	if err != nil {
		nc.Close()
		return nil, err
	}
	r.nc, r.js = nc, js
	return r, nil
}

// Close stops the read-ahead and closes the NATS connection.
func (r *NATS) Close() {
	r.mu.Lock()
	select {
	case <-r.closed:
	default:
		close(r.closed)
	}
	r.mu.Unlock()
	r.nc.Close()
}

// Published is the number of acknowledged publishes so far, and how many
// of them JetStream reported as duplicates (already stored).
func (r *NATS) Published() (acked, duplicates int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.published, r.duplicates
}

func validateStreamName(s string) error {
	if s == "" || len(s) > 255 {
		return invalidf("stream name", "must be 1 to 255 bytes, got %d", len(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f || c == '.' || c == '*' || c == '>' || c == '/' || c == '\\' {
			return invalidf("stream name", "%q must not contain whitespace, control characters, '.', '*', '>', '/' or '\\'", s)
		}
	}
	return nil
}

// Subscription is the durable subscription that relays events of the
// given categories and types (default all) under name.
func (r *NATS) Subscription(name string, categories, types []string) subscriptions.Subscription {
	p := &pipeline{r: r, cats: categories, types: types}
	attempts := r.o.Attempts
	if attempts == 0 {
		attempts = math.MaxInt32
	}
	return subscriptions.Subscription{
		Name: name, Categories: categories, Types: types,
		BatchSize: 500,
		Retry:     subscriptions.RetryPolicy{Attempts: attempts, Initial: 100 * time.Millisecond, Max: 5 * time.Second},
		Handler:   p.handle,
	}
}

// ensureStream checks that the stream exists, captures our subjects and
// de-duplicates for long enough, and creates it if it is missing.
func (r *NATS) ensureStream(ctx context.Context) error {
	r.mu.Lock()
	ready := r.streamReady
	r.mu.Unlock()
	if ready {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.o.AckTimeout)
	defer cancel()
	s, err := r.js.Stream(ctx, r.o.Stream)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		_, err = r.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        r.o.Stream,
			Description: "eventscope events, relayed by eventscope relay nats",
			Subjects:    []string{r.o.SubjectPrefix + ".>"},
			Storage:     jetstream.FileStorage,
			Duplicates:  DuplicateWindow,
		})
		if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return fmt.Errorf("create JetStream stream %s: %w", r.o.Stream, err)
		}
		r.o.Logf("relay: created JetStream stream %s (subjects %s.>, duplicate window %s)", r.o.Stream, r.o.SubjectPrefix, DuplicateWindow)
	case err != nil:
		return fmt.Errorf("JetStream stream %s: %w", r.o.Stream, err)
	default:
		cfg := s.CachedInfo().Config
		if cfg.Duplicates < DuplicateWindow {
			return fmt.Errorf("JetStream stream %s de-duplicates over %s; the relay needs at least %s (nats stream edit %s --dupe-window 2m)",
				r.o.Stream, cfg.Duplicates, DuplicateWindow, r.o.Stream)
		}
		ok := false
		for _, f := range cfg.Subjects {
			ok = ok || covers(f, r.o.SubjectPrefix)
		}
		if !ok {
			return fmt.Errorf("JetStream stream %s (subjects %v) does not capture %s.>", r.o.Stream, cfg.Subjects, r.o.SubjectPrefix)
		}
	}
	r.mu.Lock()
	r.streamReady = true
	r.mu.Unlock()
	return nil
}

// message builds the NATS message of an event.
func (r *NATS) message(e store.Event) (*nats.Msg, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.EventID, err)
	}
	m := nats.NewMsg(Subject(r.o.SubjectPrefix, e.Category(), e.Type))
	m.Data = body
	m.Header.Set(jetstream.MsgIDHeader, e.EventID.String())
	m.Header.Set("Eventscope-Stream-Id", textsafe.Line(e.StreamID))
	m.Header.Set("Eventscope-Version", strconv.FormatInt(e.Version, 10))
	m.Header.Set("Eventscope-Position", strconv.FormatInt(e.Position, 10))
	m.Header.Set("Eventscope-Checkpoint", e.Checkpoint.String())
	m.Header.Set("Eventscope-Type", textsafe.Line(e.Type))
	m.Header.Set("Content-Type", "application/json")
	if max := r.nc.MaxPayload(); max > 0 {
		size := int64(len(body) + len(m.Subject))
		for k, vs := range m.Header {
			for _, v := range vs {
				size += int64(len(k) + len(v) + 4)
			}
		}
		if size > max {
			return nil, fmt.Errorf("event %s (%s@%d) is %d bytes as a NATS message, over the server's max_payload of %d: raise max_payload or reset the subscription past it",
				e.EventID, textsafe.Line(e.StreamID), e.Version, size, max)
		}
	}
	return m, nil
}

// flight is one publish in flight.
type flight struct {
	id  uuid.UUID
	fut jetstream.PubAckFuture
}

// pipeline is one subscription's publishes in flight, in log order. The
// runner calls handle with one event at a time; while the subscription
// catches up, a pump goroutine reads the log ahead of it (with the same
// filter and the same no-skip reads, so in the same order) and keeps up
// to Window publishes in flight, so each handle only waits for an
// acknowledgement that has usually arrived already.
type pipeline struct {
	r     *NATS
	cats  []string
	types []string

	mu       sync.Mutex
	inflight []flight
	ahead    store.Checkpoint // the last event published (or scanned past)
	room     chan struct{}    // the pump waits here for the window to drain
	progress chan struct{}    // the pump published more
	stopPump context.CancelFunc
	pumpDone chan struct{}
}

// reset stops the pump and forgets what is in flight (it stays published,
// and is de-duplicated when published again).
func (p *pipeline) reset() {
	p.mu.Lock()
	stop, done := p.stopPump, p.pumpDone
	p.stopPump, p.pumpDone = nil, nil
	p.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	p.mu.Lock()
	p.inflight = nil
	p.mu.Unlock()
}

// handle is the subscription's Handler. It returns once e is stored in
// JetStream.
func (p *pipeline) handle(ctx context.Context, e store.Event) error {
	if err := p.r.ensureStream(ctx); err != nil {
		return err
	}
	f, ok := p.await(ctx, e)
	if !ok {
		// Not published ahead: the first event, or after a failure, a
		// reset or a lease change. Start again from e.
		p.reset()
		m, err := p.r.message(e)
		if err != nil {
			return err
		}
		fut, err := p.r.js.PublishMsgAsync(m, jetstream.WithExpectStream(p.r.o.Stream))
		if err != nil {
			return p.failed(p.r.publishError(e, err))
		}
		f = flight{id: e.EventID, fut: fut}
		p.mu.Lock()
		p.ahead = e.Checkpoint
		p.mu.Unlock()
		// Read ahead when catching up (an event older than a second), not
		// for each live event: the pump's read would find nothing.
		if time.Since(e.RecordedAt) > time.Second {
			p.startPump(ctx)
		}
	}
	select {
	case ack := <-f.fut.Ok():
		p.r.mu.Lock()
		p.r.published++
		if ack != nil && ack.Duplicate {
			p.r.duplicates++
		}
		p.r.mu.Unlock()
		return nil
	case err := <-f.fut.Err():
		return p.failed(fmt.Errorf("publish %s to JetStream stream %s: %w", e.EventID, p.r.o.Stream, err))
	case <-ctx.Done():
		p.reset()
		return ctx.Err()
	}
}

// await takes e's flight, waiting while the pump runs and has not read as
// far as e yet; ok is false when e was not published ahead and will not be.
func (p *pipeline) await(ctx context.Context, e store.Event) (flight, bool) {
	for {
		if f, ok := p.take(e); ok {
			return f, true
		}
		p.mu.Lock()
		done, ahead, progress := p.pumpDone, p.ahead, p.progress
		p.mu.Unlock()
		if done == nil || !ahead.Less(e.Checkpoint) {
			return flight{}, false
		}
		select {
		case <-progress:
		case <-done:
			if f, ok := p.take(e); ok {
				return f, true
			}
			return flight{}, false
		case <-ctx.Done():
			return flight{}, false
		}
	}
}

// take removes e's flight (and any before it) from the pipeline.
func (p *pipeline) take(e store.Event) (flight, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for j := range p.inflight {
		if p.inflight[j].id == e.EventID {
			f := p.inflight[j]
			p.inflight = p.inflight[j+1:]
			select {
			case p.room <- struct{}{}:
			default:
			}
			return f, true
		}
	}
	return flight{}, false
}

// startPump starts the read-ahead. Its life is not the handler call's (the
// runner may cancel that context when the call returns): it ends when it
// catches up, on reset, when the relay is closed, or after idleStop
// without room in the window (the runner stopped calling the handler).
func (p *pipeline) startPump(ctx context.Context) {
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	p.mu.Lock()
	p.stopPump, p.pumpDone = cancel, done
	if p.room == nil {
		p.room, p.progress = make(chan struct{}, 1), make(chan struct{}, 1)
	}
	p.mu.Unlock()
	go func() {
		defer close(done)
		p.pump(pctx)
	}()
}

// idleStop ends a pump whose window has not drained for this long.
const idleStop = 10 * time.Second

// pump reads ahead and publishes until the read catches up with the log,
// a publish fails, or it is stopped; the events are then published as the
// runner delivers them.
func (p *pipeline) pump(ctx context.Context) {
	const chunk = 256
	for ctx.Err() == nil {
		p.mu.Lock()
		room, after := p.r.o.Window-len(p.inflight), p.ahead
		p.mu.Unlock()
		if room < min(chunk, p.r.o.Window) {
			idle := time.NewTimer(idleStop)
			select {
			case <-ctx.Done():
				idle.Stop()
				return
			case <-p.r.closed:
				idle.Stop()
				return
			case <-idle.C:
				return
			case <-p.room:
				idle.Stop()
			}
			continue
		}
		limit := min(room, chunk)
		page, err := p.r.st.ReadAll(ctx, after, store.ReadAllOptions{Limit: limit, Categories: p.cats, Types: p.types})
		if err != nil {
			return
		}
		for _, ev := range page.Events {
			m, err := p.r.message(ev)
			if err != nil {
				return
			}
			p.mu.Lock()
			if ctx.Err() != nil { // reset meanwhile: publish nothing more
				p.mu.Unlock()
				return
			}
			fut, err := p.r.js.PublishMsgAsync(m, jetstream.WithExpectStream(p.r.o.Stream))
			if err != nil {
				p.mu.Unlock()
				return
			}
			p.inflight = append(p.inflight, flight{id: ev.EventID, fut: fut})
			p.ahead = ev.Checkpoint
			p.mu.Unlock()
			select {
			case p.progress <- struct{}{}:
			default:
			}
		}
		p.mu.Lock()
		p.ahead = page.Next
		p.mu.Unlock()
		select {
		case p.progress <- struct{}{}:
		default:
		}
		if page.Scanned < limit {
			return // caught up
		}
	}
}

// publishError explains a publish that failed before it was sent.
func (r *NATS) publishError(e store.Event, err error) error {
	if errors.Is(err, nats.ErrReconnectBufExceeded) || errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrDisconnected) {
		return fmt.Errorf("publish %s: NATS is not connected (reconnecting to %s): %w", e.EventID, redact(r.o.URL), err)
	}
	return fmt.Errorf("publish %s: %w", e.EventID, err)
}

// failed drops the pipeline (the publishes after a failed one are made
// again, and de-duplicated if they did arrive) and notes when the stream
// may be gone.
func (p *pipeline) failed(err error) error {
	p.reset()
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrStreamNotFound) {
		p.r.mu.Lock()
		p.r.streamReady = false // check (and create) it again
		p.r.mu.Unlock()
	}
	return err
}

// redact hides passwords in a (comma-separated) NATS URL for messages.
func redact(u string) string {
	parts := strings.Split(u, ",")
	for i, p := range parts {
		pu, err := url.Parse(strings.TrimSpace(p))
		if err != nil || pu.User == nil {
			continue
		}
		if _, ok := pu.User.Password(); ok {
			pu.User = url.UserPassword(pu.User.Username(), "xxxxx")
		} else {
			pu.User = url.User("xxxxx") // a token
		}
		parts[i] = pu.String()
	}
	return strings.Join(parts, ",")
}
