package tui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/google/uuid"

	"eventscope/domain"
	"eventscope/store"
	"eventscope/store/query"
	"eventscope/tui/common"
	"eventscope/tui/tail"
	"eventscope/tui/timetravel"
	"eventscope/tui/tuitest"
)

// world is an in-memory stand-in for every view's source: a handful of
// streams, two subscriptions, a parked event. (The store itself is tested
// against Postgres; these fakes test the console's logic.)
type world struct {
	ctx            context.Context
	mu             sync.Mutex
	streams        map[string][]store.Event
	*tuitest.Admin // the subscriptions: list, detail, actions
	blocker        *store.Blocker
	headErr        error
	tailEvs        []store.Event
}

func id(n int) uuid.UUID { return uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprint(n))) }

func newWorld(ctx context.Context) *world {
	w := &world{ctx: ctx, streams: map[string][]store.Event{}}
	pos := int64(0)
	add := func(stream, typ, data, meta string) store.Event {
		pos++
		evs := w.streams[stream]
		e := store.Event{StreamID: stream, Version: int64(len(evs)), Position: pos, Checkpoint: store.Checkpoint{Tx: 500, Pos: pos},
			EventID: id(int(pos)), Type: typ, Data: json.RawMessage(data), Metadata: json.RawMessage(meta),
			RecordedAt: tuitest.Now.Add(time.Duration(pos-100) * time.Minute)}
		w.streams[stream] = append(evs, e)
		return e
	}
	placed := add("order-42", "OrderPlaced", `{"customerId":"7","lines":[{"sku":"LAMP-1","qty":2,"price":1250}],"total":2500}`, `{"correlationId":"cmd-1","causationId":"cmd-1"}`)
	reserved := add("customer-7", "CreditReserved", `{"orderId":"42","amount":2500}`, fmt.Sprintf(`{"correlationId":"cmd-1","causationId":%q}`, placed.EventID))
	add("order-42", "OrderApproved", `{}`, fmt.Sprintf(`{"correlationId":"cmd-1","causationId":%q}`, reserved.EventID))
	add("order-42", "OrderShipped", `{"carrier":"DHL"}`, `{}`)
	for i := 1; i <= 20; i++ {
		add(fmt.Sprintf("order-%d", 100+i), "OrderPlaced", fmt.Sprintf(`{"total":%d}`, i*100), `{}`)
	}
	add("customer-7", "CreditReleased", `{"orderId":"42","amount":2500}`, `{}`)
	subs := []common.SubStatus{
		{Name: "notifications", State: "failing", Categories: []string{"order"}, Checkpoint: store.Checkpoint{Tx: 500, Pos: 20}, Head: store.Checkpoint{Tx: 500, Pos: 25},
			Lag: 5, Rate: 2.5, Processed: 20, Parked: 1, Holder: "vm:4242", Heartbeat: tuitest.Now.Add(-time.Second),
			LastError: "notify 42: mailbox rejected the message", LastErrorAt: tuitest.Now.Add(-3 * time.Second)},
		{Name: "order-summary", State: "live", Checkpoint: store.Checkpoint{Tx: 500, Pos: 25}, Head: store.Checkpoint{Tx: 500, Pos: 25},
			Rate: 40, Processed: 25, Holder: "vm:4242", Heartbeat: tuitest.Now.Add(-time.Second)},
	}
	w.Admin = tuitest.NewAdmin(subs, []common.ParkedEvent{{Event: w.streams["order-42"][2], Attempts: 5, LastError: "mailbox rejected the message", ParkedAt: tuitest.Now.Add(-time.Minute)}})
	for i := 0; i < 30; i++ {
		w.tailEvs = append(w.tailEvs, store.Event{StreamID: fmt.Sprintf("order-%d", 200+i), Version: 0, Position: 1000 + int64(i),
			Checkpoint: store.Checkpoint{Tx: 600, Pos: 1000 + int64(i)}, EventID: id(1000 + i), Type: "OrderPlaced",
			Data: json.RawMessage(fmt.Sprintf(`{"total":%d}`, i)), RecordedAt: tuitest.Now.Add(time.Duration(i-60) * time.Second)})
	}
	return w
}

func (w *world) deps() Deps {
	return Deps{
		Header: w, Overview: w, Streams: w, Stream: w, Event: w, Events: w, Related: w,
		TimeTravel: w, Tail: w, Subs: w, SubDetail: w, SubsFeed: &onceFeed{w: w}, Admin: w,
		DatabaseURL: "postgres://app:hunter2@db.example:5432/shop",
		Clipboard:   &bytes.Buffer{},
	}
}

func (w *world) Head(context.Context) (store.Checkpoint, error) {
	return store.Checkpoint{Tx: 500, Pos: 25}, w.headErr
}

func (w *world) Horizon(context.Context) (store.Horizon, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := store.Horizon{Head: store.Checkpoint{Tx: 500, Pos: 25}, Blocker: w.blocker}
	if w.blocker != nil {
		h.Pending = 12
	}
	return h, w.headErr
}

func (w *world) Stats(_ context.Context, o store.StatsOptions) (store.Stats, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := store.Stats{Head: store.Checkpoint{Tx: 500, Pos: 25}, LastPosition: 25, ServerVersion: "15.20", Blocker: w.blocker}
	cats := map[string]*store.CategoryCount{}
	types := map[string]int64{}
	for id, evs := range w.streams {
		c := store.Category(id)
		if cats[c] == nil {
			cats[c] = &store.CategoryCount{Category: c}
		}
		cats[c].Streams++
		cats[c].Events += int64(len(evs))
		for _, e := range evs {
			types[e.Type]++
		}
		s.Streams++
		s.Events += int64(len(evs))
	}
	for _, c := range cats {
		s.Categories = append(s.Categories, *c)
	}
	sort.Slice(s.Categories, func(i, j int) bool { return s.Categories[i].Events > s.Categories[j].Events })
	if o.Types {
		for t, n := range types {
			s.Types = append(s.Types, store.TypeCount{Type: t, Events: n})
		}
		sort.Slice(s.Types, func(i, j int) bool {
			return s.Types[i].Events > s.Types[j].Events || (s.Types[i].Events == s.Types[j].Events && s.Types[i].Type < s.Types[j].Type)
		})
	}
	if w.blocker != nil {
		s.Pending = 12
	}
	return s, nil
}

func (w *world) info(id string) store.StreamInfo {
	evs := w.streams[id]
	return store.StreamInfo{StreamID: id, Category: store.Category(id), Version: int64(len(evs) - 1), EventCount: int64(len(evs)),
		CreatedAt: evs[0].RecordedAt, UpdatedAt: evs[len(evs)-1].RecordedAt}
}

func (w *world) ListStreams(_ context.Context, o store.ListStreamsOptions) (store.StreamList, error) {
	var ids []string
	for id := range w.streams {
		if (o.Prefix == "" || strings.HasPrefix(id, o.Prefix)) && (o.Category == "" || store.Category(id) == o.Category) &&
			(o.Match == "" || subseq(strings.ToLower(o.Match), strings.ToLower(id))) && (o.After == "" || id > o.After) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var out store.StreamList
	for _, id := range ids {
		out.Streams = append(out.Streams, w.info(id))
	}
	return out, nil
}

func subseq(a, b string) bool {
	for _, r := range a {
		i := strings.IndexRune(b, r)
		if i < 0 {
			return false
		}
		b = b[i+1:]
	}
	return true
}

// FindInStream evaluates the filter over every event, as the server does.
func (w *world) FindInStream(_ context.Context, s string, f query.Filter, o query.FindOptions) (query.Found, error) {
	evs, ok := w.streams[s]
	if !ok {
		return query.Found{}, &store.NotFoundError{What: "stream " + s}
	}
	var out query.Found
	for v := max(o.From, 0); v < int64(len(evs)); v++ {
		if f.Match(&evs[v]) {
			out.Total++
			if len(out.Versions) < o.Limit {
				out.Versions = append(out.Versions, v)
			}
		}
	}
	return out, nil
}

func (w *world) ReadStream(_ context.Context, s string, o store.ReadStreamOptions) ([]store.Event, error) {
	evs, ok := w.streams[s]
	if !ok {
		return nil, &store.NotFoundError{What: "stream " + s}
	}
	var out []store.Event
	if o.Backward {
		from := o.From
		if o.FromEnd || from < 0 || from >= int64(len(evs)) {
			from = int64(len(evs)) - 1
		}
		for v := from; v >= 0; v-- {
			out = append(out, evs[v])
		}
		return out, nil
	}
	for v := max(o.From, 0); v < int64(len(evs)); v++ {
		out = append(out, evs[v])
	}
	return out, nil
}

func (w *world) StreamInfo(_ context.Context, s string) (store.StreamInfo, error) {
	if _, ok := w.streams[s]; !ok {
		return store.StreamInfo{}, &store.NotFoundError{What: "stream " + s}
	}
	return w.info(s), nil
}

func (w *world) EventByID(_ context.Context, id uuid.UUID) (store.Event, error) {
	for _, evs := range w.streams {
		for _, e := range evs {
			if e.EventID == id {
				return e, nil
			}
		}
	}
	return store.Event{}, &store.NotFoundError{What: "event " + id.String()}
}

func (w *world) Correlated(_ context.Context, corr string, limit int) ([]store.Event, error) {
	var out []store.Event
	for _, evs := range w.streams {
		for _, e := range evs {
			if strings.Contains(string(e.Metadata), `"correlationId":"`+corr+`"`) {
				out = append(out, e)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Position < out[j].Position })
	return out, nil
}

// TransitionAt folds a stream generically (a JSON merge of the data).
func (w *world) TransitionAt(_ context.Context, s string, v int64) (timetravel.Transition, error) {
	evs, ok := w.streams[s]
	if !ok {
		return timetravel.Transition{}, &store.NotFoundError{What: "stream " + s}
	}
	if v < 0 {
		v = int64(len(evs)) - 1
	}
	if v >= int64(len(evs)) {
		return timetravel.Transition{}, &domain.VersionError{Stream: s, Version: v, LastVersion: int64(len(evs)) - 1}
	}
	state := map[string]any{}
	var before []byte = []byte(`{}`)
	for i := int64(0); i <= v; i++ {
		if i == v {
			before, _ = json.Marshal(state)
		}
		var d map[string]any
		_ = json.Unmarshal(evs[i].Data, &d)
		for k, x := range d {
			state[k] = x
		}
		state["status"] = evs[i].Type
	}
	after, _ := json.Marshal(state)
	var b map[string]any
	_ = json.Unmarshal(before, &b)
	var changes []timetravel.Change
	keys := make([]string, 0, len(state))
	for k := range state {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		nv, _ := json.Marshal(state[k])
		ov, had := b[k]
		ob, _ := json.Marshal(ov)
		switch {
		case !had:
			changes = append(changes, timetravel.Change{Path: k, Kind: "added", After: nv})
		case string(ob) != string(nv):
			changes = append(changes, timetravel.Change{Path: k, Kind: "changed", Before: ob, After: nv})
		}
	}
	return timetravel.Transition{Before: before, Changes: changes, After: timetravel.State{
		Stream: s, Version: v, LastVersion: int64(len(evs)) - 1, Aggregate: "Order", State: after, Event: evs[v]}}, nil
}

func (w *world) VersionAt(context.Context, string, time.Time) (int64, error) { return 0, nil }

func (w *world) StartTail(ctx context.Context, f *tail.Feed) {
	f.SetWindow(0)
	f.Push(w.tailEvs)
}

// onceFeed delivers one monitor snapshot, then nothing.
type onceFeed struct {
	w    *world
	sent bool
}

func (f *onceFeed) Next() tea.Cmd {
	if f.sent {
		return nil
	}
	f.sent = true
	subs := f.w.Subs()
	return func() tea.Msg { return common.SubsMsg{Subs: subs, At: tuitest.Now} }
}
