package tail

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"eventscope/store"
	"eventscope/tui/common"
	"eventscope/tui/tuitest"
)

func evs(from, n int) []store.Event {
	out := make([]store.Event, n)
	for i := range out {
		k := from + i
		cat := []string{"order", "customer"}[k%2]
		out[i] = store.Event{StreamID: fmt.Sprintf("%s-%d", cat, k), Version: int64(k), Position: int64(k), Checkpoint: store.Checkpoint{Tx: 1, Pos: int64(k)},
			Type: []string{"OrderPlaced", "CreditReserved"}[k%2], Data: json.RawMessage(`{"k":1}`), RecordedAt: tuitest.Now}
	}
	return out
}

// feedOnly starts nothing: tests push batches by hand.
type feedOnly struct{}

func (feedOnly) StartTail(context.Context, *Feed) {}

func setup(t *testing.T, capacity int) *Model {
	t.Helper()
	m := New(context.Background(), tuitest.Common(120, 22), feedOnly{}, capacity) // 19 table rows
	m.SetSize(120, 22)
	return m
}

func batch(m *Model, from, n int) {
	m.Update(BatchMsg{ID: m.ID(), Events: evs(from, n)})
}

func TestFollowPauseAndNewCount(t *testing.T) {
	t.Parallel()
	m := setup(t, 1000)
	batch(m, 0, 50)
	if e, _ := m.Selected(); e.Position != 49 || !m.Following() {
		t.Fatalf("following shows the newest: at %d following %v", e.Position, m.Following())
	}
	m.Update(tuitest.Key("k"))
	if m.Following() {
		t.Fatal("scrolling up must pause following")
	}
	batch(m, 50, 30)
	if e, _ := m.Selected(); e.Position != 48 {
		t.Fatalf("paused: the cursor must stay on its event, at %d", e.Position)
	}
	if m.NewCount() != 30 || !strings.Contains(tuitest.Plain(m.View()), "30 new ↓") {
		t.Fatalf("new count %d; view:\n%s", m.NewCount(), tuitest.Plain(m.View()))
	}
	m.Update(tuitest.Key("f"))
	if !m.Following() || m.NewCount() != 0 {
		t.Fatal("f must follow again")
	}
	if e, _ := m.Selected(); e.Position != 79 {
		t.Fatalf("f jumps to the newest, at %d", e.Position)
	}
	// Reaching the bottom by scrolling follows too.
	m.Update(tuitest.Key("k"))
	m.Update(tuitest.Key("j"))
	if !m.Following() {
		t.Fatal("reaching the bottom must follow")
	}
}

func TestMouseWheelPausesAndResumes(t *testing.T) {
	t.Parallel()
	m := setup(t, 1000)
	batch(m, 0, 100)
	m.Update(tea.MouseMsg{Button: tea.MouseButtonWheelUp})
	if m.Following() {
		t.Fatal("wheel up must pause following")
	}
	batch(m, 100, 5)
	if m.NewCount() != 5 {
		t.Fatalf("new %d", m.NewCount())
	}
	for i := 0; i < 5; i++ {
		m.Update(tea.MouseMsg{Button: tea.MouseButtonWheelDown})
	}
	if !m.Following() || m.NewCount() != 0 {
		t.Fatal("wheeling back to the bottom follows again")
	}
}

func TestRingIsBounded(t *testing.T) {
	t.Parallel()
	m := setup(t, 100)
	for i := 0; i < 10; i++ {
		batch(m, i*45, 45)
	}
	if m.Len() != 100 {
		t.Fatalf("holds %d, capacity 100", m.Len())
	}
	if e, _ := m.Selected(); e.Position != 449 {
		t.Fatalf("newest %d", e.Position)
	}
	m.Update(tuitest.Key("g"))
	if e, _ := m.Selected(); e.Position != 350 {
		t.Fatalf("oldest held %d, want 350", e.Position)
	}
	// One batch larger than the ring keeps only its newest events.
	batch(m, 1000, 250)
	m.Update(tuitest.Key("g"))
	if e, _ := m.Selected(); e.Position != 1150 || m.Len() != 100 {
		t.Fatalf("oldest %d len %d", e.Position, m.Len())
	}
}

func TestFilter(t *testing.T) {
	t.Parallel()
	m := setup(t, 1000)
	batch(m, 0, 40)
	m.Update(tuitest.Key("/"))
	for _, r := range "cat:customer" {
		m.Update(tuitest.Key(string(r)))
	}
	m.Update(tuitest.Key("enter"))
	if got := len(m.vis); got != 20 {
		t.Fatalf("%d customer events visible", got)
	}
	batch(m, 40, 10)
	if got := len(m.vis); got != 25 {
		t.Fatalf("after a batch %d visible", got)
	}
	if e, _ := m.Selected(); store.Category(e.StreamID) != "customer" || e.Position != 49 {
		t.Fatalf("selected %s %d", e.StreamID, e.Position)
	}
	m.Update(tuitest.Key("esc"))
	if !m.filter.Empty() {
		t.Fatal("esc clears the filter")
	}
	msgs := tuitest.Settle(m, tuitest.Key("enter"))
	if o, ok := tuitest.Find[common.OpenEventMsg](msgs); !ok || o.Event.Position != 49 {
		t.Fatalf("enter: %+v", msgs)
	}
}

// TestFilterAsYouTypeOverData: the tail's "/" applies as you type (no
// enter), plain words match the data, "!" inverts, an unknown key names
// the keys, and esc clears the filter for good.
func TestFilterAsYouTypeOverData(t *testing.T) {
	t.Parallel()
	m := setup(t, 1000)
	evs := evs(0, 10)
	evs[3].Data = json.RawMessage(`{"orderId":"000032"}`)
	m.Update(BatchMsg{ID: m.ID(), Events: evs})
	typeIn := func(s string) {
		m.Update(tuitest.Key("/"))
		for _, r := range s {
			m.Update(tuitest.Key(string(r)))
		}
	}
	count := func() int { return m.tbl.Events().Len() }
	typeIn("000032")
	if count() != 1 {
		t.Fatalf("a word over the data, as you type: %d rows", count())
	}
	if e, _ := m.Selected(); e.Position != 3 {
		t.Fatalf("selected %d", e.Position)
	}
	m.Update(tuitest.Key("esc"))
	if count() != 10 || strings.Contains(tuitest.Plain(m.View()), "000032   ") {
		t.Fatalf("esc in the input clears: %d rows", count())
	}
	typeIn("!000032")
	if count() != 9 {
		t.Fatalf("! inverts: %d rows", count())
	}
	m.Update(tuitest.Key("enter"))
	m.Update(tuitest.Key("esc"))
	typeIn("kind:x")
	if v := tuitest.Plain(m.View()); !strings.Contains(v, `unknown key "kind"`) || !strings.Contains(v, "type:, cat:, stream:") {
		t.Fatalf("unknown key:\n%s", v)
	}
	m.Update(tuitest.Key("esc"))
	if count() != 10 || m.ClaimsKey(tuitest.Key("esc")) {
		t.Fatalf("esc clears for good: %d rows", count())
	}
}

func TestFeedDropsOldestAndNeverBlocks(t *testing.T) {
	t.Parallel()
	done := make(chan struct{})
	defer close(done)
	f := NewFeed(100, done)
	f.SetWindow(0)
	for i := 0; i < 10; i++ {
		f.Push(evs(i*50, 50)) // nobody reads: must not block
	}
	msg := f.Next(7)().(BatchMsg)
	if msg.ID != 7 || len(msg.Events) != 100 || msg.Dropped != 400 {
		t.Fatalf("batch of %d, dropped %d", len(msg.Events), msg.Dropped)
	}
	if msg.Events[0].Position != 400 || msg.Events[99].Position != 499 {
		t.Fatalf("kept %d..%d, want the newest", msg.Events[0].Position, msg.Events[99].Position)
	}
	// A batch waits out the window and carries everything pushed meanwhile.
	f.SetWindow(30 * time.Millisecond)
	go func() {
		for i := 0; i < 5; i++ {
			f.Push(evs(1000+i, 1))
			time.Sleep(2 * time.Millisecond)
		}
	}()
	got := 0
	for got < 5 {
		got += len(f.Next(7)().(BatchMsg).Events)
	}
	if got != 5 {
		t.Fatalf("got %d", got)
	}
}

func TestFeedStopsWhenDone(t *testing.T) {
	t.Parallel()
	done := make(chan struct{})
	f := NewFeed(10, done)
	close(done)
	if msg := f.Next(1)(); msg != nil {
		t.Fatalf("a closed feed yields %v", msg)
	}
}

func big(from, n, size int) []store.Event {
	out := evs(from, n)
	for i := range out {
		out[i].Data = json.RawMessage(`"` + strings.Repeat("x", size-2) + `"`)
	}
	return out
}

// TestBoundedByBytes: the ring keeps what fits the byte bound, oldest
// out first, and a single event larger than the bound alone.
func TestBoundedByBytes(t *testing.T) {
	t.Parallel()
	m := setup(t, 1000)
	m.SetMaxBytes(10 << 20)
	m.Update(BatchMsg{ID: m.ID(), Events: big(0, 30, 900<<10)}) // 30 × 900 KB
	if m.Bytes() > 10<<20 || m.Len() != 11 {
		t.Fatalf("holds %d events, %d bytes; want 11 within 10 MiB", m.Len(), m.Bytes())
	}
	m.Update(tuitest.Key("g"))
	if e, _ := m.Selected(); e.Position != 19 {
		t.Fatalf("oldest held %d, want 19", e.Position)
	}
	m.Update(BatchMsg{ID: m.ID(), Events: big(100, 1, 12<<20)})
	if m.Len() != 1 {
		t.Fatalf("an event over the bound is kept alone; holds %d", m.Len())
	}
	batch(m, 200, 5)
	if m.Len() != 5 || m.Bytes() > 10<<20 {
		t.Fatalf("holds %d, %d bytes", m.Len(), m.Bytes())
	}
}

func TestFeedBoundedByBytes(t *testing.T) {
	t.Parallel()
	done := make(chan struct{})
	defer close(done)
	f := NewFeed(1000, done)
	f.MaxBytes = 5 << 20
	f.SetWindow(0)
	for i := 0; i < 20; i++ {
		f.Push(big(i, 1, 900<<10))
	}
	msg := f.Next(1)().(BatchMsg)
	var b int64
	for i := range msg.Events {
		b += Size(&msg.Events[i])
	}
	if b > 5<<20 || len(msg.Events) != 5 || msg.Dropped != 15 || msg.Events[4].Position != 19 {
		t.Fatalf("%d events, %d bytes, dropped %d", len(msg.Events), b, msg.Dropped)
	}
}

// TestClickOnSelectedOpens (issue 14, item 9): a click on the selected
// row opens its event, as in every list; a click on another row selects.
func TestClickOnSelectedOpens(t *testing.T) {
	t.Parallel()
	m := setup(t, 1000)
	batch(m, 0, 5)
	y := -1
	for i, l := range strings.Split(tuitest.Plain(m.View()), "\n") {
		if strings.HasPrefix(l, "▶") {
			y = i
		}
	}
	if y < 0 {
		t.Fatalf("no selected row:\n%s", tuitest.Plain(m.View()))
	}
	click := func(y int) []tea.Msg {
		return tuitest.Drain(m.Update(tea.MouseMsg{X: 3, Y: y, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress}))
	}
	if _, ok := tuitest.Find[common.OpenEventMsg](click(y - 1)); ok {
		t.Fatal("a click on another row opened it")
	}
	if _, ok := tuitest.Find[common.OpenEventMsg](click(y - 1)); !ok {
		t.Fatal("a click on the selected row opened nothing")
	}
}

// TestSaysHeldBackInsteadOfLive (issue 14 item 6): while an open
// transaction holds the log back (the header's probe says so), the tail
// says by whom and how many committed events wait, not "live"; when it
// ends, "live" again.
func TestSaysHeldBackInsteadOfLive(t *testing.T) {
	t.Parallel()
	m := setup(t, 100)
	m.Update(startedMsg{id: m.ID(), feed: NewFeed(10, nil)})
	batch(m, 0, 3)
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "· live") {
		t.Fatalf("want live:\n%s", v)
	}
	m.Update(common.RateMsg{Horizon: store.Horizon{Pending: 7, Blocker: &store.Blocker{PID: 4242, Age: 12 * time.Second}}})
	v := tuitest.Plain(m.View())
	if !strings.Contains(v, "held back by pid 4242 for 12s · 7 committed events wait") || strings.Contains(v, "· live") {
		t.Fatalf("want held back, not live:\n%s", v)
	}
	m.Update(common.RateMsg{})
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "· live") || strings.Contains(v, "held back") {
		t.Fatalf("released, want live:\n%s", v)
	}
}
