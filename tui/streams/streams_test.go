package streams

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"eventscope/store"
	"eventscope/tui/common"
	"eventscope/tui/tuitest"
)

// fakeList is an in-memory ListStreams with the store's filter semantics
// (prefix, category, case-insensitive subsequence match, keyset paging).
type fakeList struct {
	mu    sync.Mutex
	all   []store.StreamInfo
	calls []store.ListStreamsOptions
}

func newFake(n int) *fakeList {
	f := &fakeList{}
	t0 := tuitest.Now.Add(-time.Hour)
	for i := 0; i < n; i++ {
		cat := "order"
		if i%4 == 0 {
			cat = "customer"
		}
		f.all = append(f.all, store.StreamInfo{
			StreamID: fmt.Sprintf("%s-%06d", cat, i), Category: cat, Version: int64(i % 7),
			UpdatedAt: t0.Add(time.Duration(i) * time.Second), CreatedAt: t0,
		})
	}
	sort.Slice(f.all, func(i, j int) bool { return f.all[i].StreamID < f.all[j].StreamID })
	return f
}

func (f *fakeList) ListStreams(_ context.Context, o store.ListStreamsOptions) (store.StreamList, error) {
	f.mu.Lock()
	f.calls = append(f.calls, o)
	f.mu.Unlock()
	if o.Limit <= 0 {
		o.Limit = 100
	}
	var out []store.StreamInfo
	src := append([]store.StreamInfo(nil), f.all...)
	if o.Order == store.ByUpdated {
		sort.Slice(src, func(i, j int) bool { return src[i].UpdatedAt.After(src[j].UpdatedAt) })
	}
	if o.Reverse {
		for i, j := 0, len(src)-1; i < j; i, j = i+1, j-1 {
			src[i], src[j] = src[j], src[i]
		}
	}
	past := o.After == ""
	for _, s := range src {
		if !past {
			if s.StreamID == o.After || (o.Order == store.ByUpdated && strings.HasSuffix(o.After, "|"+s.StreamID)) {
				past = true
			}
			continue
		}
		if o.Prefix != "" && !strings.HasPrefix(s.StreamID, o.Prefix) {
			continue
		}
		if o.Category != "" && s.Category != o.Category {
			continue
		}
		if o.Match != "" && !IsSubsequence(strings.ToLower(o.Match), strings.ToLower(s.StreamID)) {
			continue
		}
		if x := o.Exclude; (x.Category != "" || x.Match != "") && (x.Category == "" || s.Category == x.Category) &&
			(x.Match == "" || IsSubsequence(strings.ToLower(x.Match), strings.ToLower(s.StreamID))) {
			continue
		}
		out = append(out, s)
		if len(out) > o.Limit {
			break
		}
	}
	l := store.StreamList{Streams: out}
	if len(out) > o.Limit {
		l.Streams = out[:o.Limit]
		last := l.Streams[o.Limit-1]
		l.Next = last.StreamID
		if o.Order == store.ByUpdated {
			l.Next = last.UpdatedAt.Format(time.RFC3339Nano) + "|" + last.StreamID
		}
	}
	return l, nil
}

func setup(t *testing.T, n int) (*Model, *fakeList) {
	t.Helper()
	f := newFake(n)
	m := New(context.Background(), tuitest.Common(120, 30), f)
	m.SetSize(120, 30)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	return m, f
}

func typeText(m *Model, s string) []tea.Msg {
	var out []tea.Msg
	for _, r := range s {
		out = append(out, tuitest.Settle(m, tuitest.Key(string(r)))...)
	}
	return out
}

func TestBrowseAndPaging(t *testing.T) {
	t.Parallel()
	m, f := setup(t, 1000)
	if len(m.browse) != PageSize {
		t.Fatalf("first page holds %d", len(m.browse))
	}
	if got, _ := m.selected(); got.StreamID != "customer-000000" {
		t.Fatalf("first row %q", got.StreamID)
	}
	// Moving near the end of what is loaded fetches the next page with the cursor.
	for i := 0; i < 6; i++ {
		tuitest.Settle(m, tuitest.Key("pgdown"))
	}
	if len(m.browse) != 2*PageSize {
		t.Fatalf("after paging down: %d loaded", len(m.browse))
	}
	last := f.calls[len(f.calls)-1]
	if last.After == "" || last.Limit != PageSize {
		t.Fatalf("next page not keyset: %+v", last)
	}
}

func TestSortAndOpen(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, 300)
	tuitest.Settle(m, tuitest.Key("s"), tuitest.Key("s")) // id ↓, then last update
	if m.order != store.ByUpdated || m.reverse {
		t.Fatal("s s does not sort by last update, newest first")
	}
	if got, _ := m.selected(); got.StreamID != "order-000299" {
		t.Fatalf("newest first: %q", got.StreamID)
	}
	msgs := tuitest.Settle(m, tuitest.Key("enter"))
	open, ok := tuitest.Find[common.OpenStreamMsg](msgs)
	if !ok || open.Stream != "order-000299" {
		t.Fatalf("enter opened %+v", open)
	}
	msgs = tuitest.Settle(m, tuitest.Key("t"))
	if tt, ok := tuitest.Find[common.OpenTimeTravelMsg](msgs); !ok || tt.Stream != "order-000299" || tt.Version != -1 {
		t.Fatalf("t opened %+v", tt)
	}
	if text, what, ok := m.CopyText(); !ok || text != "order-000299" || what != "stream id" {
		t.Fatalf("copy %q %q", text, what)
	}
}

func TestCategoryPicker(t *testing.T) {
	t.Parallel()
	m, f := setup(t, 300)
	tuitest.Settle(m, common.StatsMsg{Stats: store.Stats{Streams: 300, Categories: []store.CategoryCount{{Category: "order", Streams: 225}, {Category: "customer", Streams: 75}}}})
	tuitest.Settle(m, tuitest.Key("c"))
	if !m.ClaimsKey(tuitest.Key("q")) {
		t.Fatal("the open picker must take every key")
	}
	typeText(m, "cust")
	tuitest.Settle(m, tuitest.Key("enter"))
	if m.category != "customer" {
		t.Fatalf("category %q", m.category)
	}
	if last := f.calls[len(f.calls)-1]; last.Category != "customer" {
		t.Fatalf("reload without the category: %+v", last)
	}
	if !strings.Contains(tuitest.Plain(m.View()), "75 streams") {
		t.Fatalf("view:\n%s", tuitest.Plain(m.View()))
	}
}

func TestFilterNarrowsOnServerThenRanks(t *testing.T) {
	t.Parallel()
	m, f := setup(t, 5000)
	tuitest.Settle(m, tuitest.Key("/"))
	if !m.ClaimsKey(tuitest.Key("1")) {
		t.Fatal("the focused filter must take digits")
	}
	msgs := typeText(m, "o")
	// Debounced: the view asks for a timer, the tick (stubbed) never
	// comes; deliver it by hand.
	tuitest.Settle(m, debounceMsg{id: m.id, seq: m.inputSeq})
	if !m.searching && len(m.rows) == 0 {
		t.Fatalf("no rows after the server answer; msgs %v", msgs)
	}
	var sawMatch bool
	for _, c := range f.calls {
		if c.Match == "o" && c.Limit == MaxCandidates {
			sawMatch = true
		}
	}
	if !sawMatch {
		t.Fatalf("no server narrowing: %+v", f.calls)
	}
	if m.shown == nil || m.shown.complete {
		t.Fatalf("5000 streams match \"o\": the candidate set must be capped, got %+v", m.shown)
	}
	// Extending the query re-ranks at once from the loaded candidates.
	calls := len(f.calls)
	typeText(m, "rder-00004")
	if len(m.rows) == 0 {
		t.Fatal("no local ranking while typing")
	}
	if len(f.calls) != calls {
		t.Fatalf("typing called the server before the debounce: %+v", f.calls[calls:])
	}
	tuitest.Settle(m, debounceMsg{id: m.id, seq: m.inputSeq})
	if got, _ := m.selected(); got.StreamID != "order-000041" && !strings.HasPrefix(got.StreamID, "order-00004") {
		t.Fatalf("best match %q", got.StreamID)
	}
	if m.rows[0].match == nil {
		t.Fatal("no highlight positions")
	}
	v := tuitest.Plain(m.View())
	if !strings.Contains(v, `matches for "order-00004"`) {
		t.Fatalf("view:\n%s", v)
	}
	// esc clears the filter (and esc is the view's while a filter is set).
	tuitest.Settle(m, tuitest.Key("esc"))
	if m.query != "" || m.focused {
		t.Fatal("esc did not clear the filter")
	}
}

// TestFilterKeysInvertAndClear: cat: keeps a category, "!" lists (from
// the server) the streams the rest does not match, an unknown key names
// the keys there are, and esc clears the filter for good.
func TestFilterKeysInvertAndClear(t *testing.T) {
	t.Parallel()
	m, f := setup(t, 1000)
	tuitest.Settle(m, tuitest.Key("/"))
	typeText(m, "cat:customer")
	tuitest.Settle(m, reloadMsg{id: m.id, seq: m.reloadSeq}) // the debounce (ticks are stubbed)
	view := tuitest.Plain(m.View())
	if got, _ := m.selected(); got.Category != "customer" || !strings.Contains(view, "category customer") || strings.Contains(view, "order-0") {
		t.Fatalf("cat:customer:\n%s", view)
	}
	tuitest.Settle(m, tuitest.Key("esc"))
	tuitest.Settle(m, tuitest.Key("/"))
	typeText(m, "!customer")
	tuitest.Settle(m, reloadMsg{id: m.id, seq: m.reloadSeq})
	view = tuitest.Plain(m.View())
	if got, _ := m.selected(); got.Category != "order" || strings.Contains(view, "customer-0") {
		t.Fatalf("!customer:\n%s", view)
	}
	if last := f.calls[len(f.calls)-1]; last.Exclude.Match != "customer" {
		t.Fatalf("the inverted filter is not the server's: %+v", last)
	}
	tuitest.Settle(m, tuitest.Key("esc"))
	tuitest.Settle(m, tuitest.Key("/"))
	typeText(m, "kind:x")
	if view := tuitest.Plain(m.View()); !strings.Contains(view, `unknown key "kind"`) || !strings.Contains(view, "keys are cat:") {
		t.Fatalf("unknown key:\n%s", view)
	}
	tuitest.Settle(m, tuitest.Key("esc"))
	tuitest.Settle(m, common.RefreshMsg{})
	view = tuitest.Plain(m.View())
	if strings.Contains(view, "kind") || strings.Contains(view, "unknown key") || m.ClaimsKey(tuitest.Key("esc")) {
		t.Fatalf("esc did not clear for good:\n%s", view)
	}
	if got, _ := m.selected(); got.StreamID != "customer-000000" {
		t.Fatalf("after esc the list is the whole list again: %q", got.StreamID)
	}
}

func TestCompleteSetNeedsNoServer(t *testing.T) {
	t.Parallel()
	m, f := setup(t, 300)
	tuitest.Settle(m, tuitest.Key("/"))
	typeText(m, "cust")
	tuitest.Settle(m, debounceMsg{id: m.id, seq: m.inputSeq})
	if m.shown == nil || !m.shown.complete {
		t.Fatal("75 customers fit: the set is complete")
	}
	calls := len(f.calls)
	msgs := typeText(m, "omer-0001")
	if len(f.calls) != calls {
		t.Fatal("a complete candidate set needs no new query")
	}
	if m.searching {
		t.Fatalf("still searching; msgs %v", msgs)
	}
	for _, r := range m.rows {
		if !strings.HasPrefix(r.info.StreamID, "customer-0001") && !IsSubsequence("customer-0001", r.info.StreamID) {
			t.Fatalf("row %q does not match", r.info.StreamID)
		}
	}
}

func TestStaleResultDropped(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, 300)
	tuitest.Settle(m, tuitest.Key("/"))
	typeText(m, "ord")
	newest := m.inputSeq
	// An answer for the same query but an older keystroke arrives after a
	// newer one was applied: it must not replace it.
	tuitest.Settle(m, matchMsg{id: m.id, seq: newest, query: "ord", cands: m.all(), complete: true})
	n := len(m.rows)
	tuitest.Settle(m, matchMsg{id: m.id, seq: newest - 1, query: "ord", cands: m.all()[:1], complete: true})
	if len(m.rows) != n {
		t.Fatalf("a stale answer replaced the ranking: %d rows, want %d", len(m.rows), n)
	}
	// An answer for another query never applies either.
	tuitest.Settle(m, matchMsg{id: m.id, seq: newest + 5, query: "xyz", cands: nil, complete: true})
	if len(m.rows) != n {
		t.Fatal("an answer for another query was applied")
	}
}

func (m *Model) all() []store.StreamInfo { return m.browse }

func TestIsSubsequence(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"", "x", true}, {"ord", "order-1", true}, {"o42", "order-42", true}, {"42o", "order-42", false},
		{"ORD", "order", true}, {"ord", "ORDER", true}, {"ü", "Ü", true},
	} {
		if got := IsSubsequence(c.a, c.b); got != c.want {
			t.Errorf("IsSubsequence(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

// TestEndAndReverse (issue 14, item 3): G goes to the real end of the
// list (the last of thousands of streams, one page read backwards, not
// one more page), moving up from there loads what is before it, g goes
// back to the top; s cycles id ↑, id ↓, newest update, oldest update.
func TestEndAndReverse(t *testing.T) {
	t.Parallel()
	f := newFake(5000)
	m := New(context.Background(), tuitest.Common(120, 30), f)
	m.SetSize(120, 30)
	tuitest.Settle(m, tuitest.Drain(m.Init())...)
	tuitest.Settle(m, tuitest.Key("G"))
	if s, ok := m.selected(); !ok || s.StreamID != "order-004999" {
		t.Fatalf("G selected %v, want the last stream order-004999", s.StreamID)
	}
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "▶ order-004999") {
		t.Fatalf("the last stream is not shown:\n%s", v)
	}
	if len(m.browse) != PageSize {
		t.Fatalf("G read %d rows, want one page", len(m.browse))
	}
	prev, _ := m.selected()
	for range PageSize - PrefetchAt + 1 {
		tuitest.Settle(m, tuitest.Key("k"))
		s, _ := m.selected()
		if s.StreamID >= prev.StreamID {
			t.Fatalf("k from %s went to %s", prev.StreamID, s.StreamID)
		}
		prev = s
	}
	if len(m.browse) != 2*PageSize {
		t.Fatalf("moving up from the end loaded nothing before it: %d rows", len(m.browse))
	}
	for i := 1; i < len(m.browse); i++ {
		if m.browse[i-1].StreamID >= m.browse[i].StreamID {
			t.Fatalf("rows out of order at %d: %s, %s", i, m.browse[i-1].StreamID, m.browse[i].StreamID)
		}
	}
	tuitest.Settle(m, tuitest.Key("g"))
	if s, _ := m.selected(); s.StreamID != "customer-000000" {
		t.Fatalf("g after G: at %s", s.StreamID)
	}
	// id ↓ starts at the largest id; newest update first is the last
	// made; oldest first the first; then id ↑ again.
	for i, want := range []string{"order-004999", "order-004999", "customer-000000", "customer-000000"} {
		tuitest.Settle(m, tuitest.Key("s"))
		if s, _ := m.selected(); s.StreamID != want {
			t.Fatalf("s #%d: first row %s, want %s", i+1, s.StreamID, want)
		}
	}
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "sorted by id ↑") {
		t.Fatalf("the sort is not said:\n%s", v)
	}
}

// TestByUpdateMovesOnItsOwn (issue 14 item 6): sorted by last update, the
// refresh beat re-reads the rows shown; a stream appended to moves to the
// top by itself, the selection follows its stream (not the row number)
// and stays on its screen line where it can; the status says how old
// the rows are.
func TestByUpdateMovesOnItsOwn(t *testing.T) {
	t.Parallel()
	m, f := setup(t, 300)
	tuitest.Settle(m, tuitest.Key("s"), tuitest.Key("s")) // last update, newest first
	for i := 0; i < 5; i++ {
		tuitest.Settle(m, tuitest.Key("j"))
	}
	sel, _ := m.selected()
	if sel.StreamID != "order-000294" {
		t.Fatalf("selected %q", sel.StreamID)
	}
	// order-000010 is appended to: it is the newest now.
	f.mu.Lock()
	for i := range f.all {
		if f.all[i].StreamID == "order-000010" {
			f.all[i].UpdatedAt, f.all[i].Version = tuitest.Now, 99
		}
	}
	f.mu.Unlock()
	tuitest.Settle(m, common.BeatMsg{})
	if top := m.browse[0]; top.StreamID != "order-000010" || top.Version != 99 {
		t.Fatalf("top row %+v: want the stream appended to", top)
	}
	if got, _ := m.selected(); got.StreamID != "order-000294" || m.tbl.Cursor() != 6 {
		t.Fatalf("selection %q at row %d: want order-000294, one row down", got.StreamID, m.tbl.Cursor())
	}
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "updated just now") || !strings.Contains(strings.Split(v, "\n")[3], "order-000010") {
		t.Fatalf("view:\n%s", v)
	}
	// Scrolled down, the selected stream keeps its screen line.
	tuitest.Settle(m, tuitest.Key("pgdown"), tuitest.Key("pgdown"))
	sel, _ = m.selected()
	line := m.tbl.Cursor() - m.tbl.Offset()
	f.mu.Lock()
	for i := range f.all {
		if f.all[i].StreamID == "order-000011" {
			f.all[i].UpdatedAt = tuitest.Now.Add(time.Second)
		}
	}
	f.mu.Unlock()
	tuitest.Settle(m, common.BeatMsg{})
	if got, _ := m.selected(); got.StreamID != sel.StreamID || m.tbl.Cursor()-m.tbl.Offset() != line {
		t.Fatalf("scrolled: selection %q on line %d, want %q on line %d", got.StreamID, m.tbl.Cursor()-m.tbl.Offset(), sel.StreamID, line)
	}
	// A filter is not re-read by the beat (the filter runs on the server).
	calls := len(f.calls)
	typeText(m, "/ord")
	before := len(f.calls)
	tuitest.Settle(m, common.BeatMsg{})
	if len(f.calls) != before {
		t.Fatalf("the beat re-read a filtered list (%d calls, %d before)", len(f.calls), calls)
	}
}

// TestBeatAnswerUnderAFilter: a re-read that returns after a filter began
// leaves the filter's rows on screen.
func TestBeatAnswerUnderAFilter(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, 300)
	cmd := m.Update(common.BeatMsg{})
	if cmd == nil {
		t.Fatal("the beat re-reads the rows")
	}
	typeText(m, "/order-00001")
	tuitest.Settle(m, debounceMsg{id: m.id, seq: m.inputSeq})
	rows := len(m.rows)
	tuitest.Settle(m, cmd())
	if m.tbl.Len() != rows || rows == 0 {
		t.Fatalf("table has %d rows, the filter %d", m.tbl.Len(), rows)
	}
	if got, _ := m.selected(); !strings.HasPrefix(got.StreamID, "order-00001") {
		t.Fatalf("selected %q", got.StreamID)
	}
}

// TestBeatKeepsTheInvertedFilter: the 2 s re-read of the rows shown keeps
// an inverted filter ("!customer"): it is the server's exclusion, so the
// re-read asks for it too (it used to bring the customer streams back
// while the filter line still said !customer).
func TestBeatKeepsTheInvertedFilter(t *testing.T) {
	t.Parallel()
	m, f := setup(t, 1000)
	tuitest.Settle(m, tuitest.Key("/"))
	typeText(m, "!customer")
	tuitest.Settle(m, reloadMsg{id: m.id, seq: m.reloadSeq})
	tuitest.Settle(m, tuitest.Key("enter"))
	cmd := m.Update(common.BeatMsg{})
	if cmd == nil {
		t.Fatal("the beat re-reads the rows under an inverted filter (server-paged)")
	}
	tuitest.Settle(m, cmd())
	if last := f.calls[len(f.calls)-1]; last.Exclude.Match != "customer" {
		t.Fatalf("the re-read dropped the exclusion: %+v", last)
	}
	view := tuitest.Plain(m.View())
	if got, _ := m.selected(); got.Category != "order" || strings.Contains(view, "customer-0") || !strings.Contains(view, "!customer") {
		t.Fatalf("after the beat:\n%s", view)
	}
}
