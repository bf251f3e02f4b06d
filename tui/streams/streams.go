// Package streams is the stream browser: every stream with its category,
// version and last update, sortable by id or last update, filterable by
// category, and fuzzy-filtered with "/".
//
// It stays responsive at 100,000+ streams:
//   - Browsing pages with the store's keyset cursor as the cursor nears the
//     end of what is loaded; only the visible rows are rendered.
//   - Filtering narrows on the server first: ListStreams{Match: q} returns
//     the ids holding q's characters in order (case-insensitive), which is
//     exactly the candidate set of a fuzzy match; sahilm/fuzzy then ranks
//     at most MaxCandidates of them and marks the matched characters.
//   - A keystroke that extends the query re-ranks the candidates already
//     loaded at once (a longer query's matches are a subset of a shorter
//     one's), so the frame updates without waiting for the server; the
//     server is asked only when the loaded set was capped, after a
//     debounce, and results carry a sequence number so a stale answer never
//     replaces a newer one.
package streams

import (
	"context"
	"fmt"
	"sort"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/sahilm/fuzzy"

	"eventscope/internal/textsafe"
	"eventscope/store"
	"eventscope/tui/common"
	"eventscope/tui/picker"
	"eventscope/tui/table"
)

// Source is what the view reads.
type Source interface {
	ListStreams(ctx context.Context, o store.ListStreamsOptions) (store.StreamList, error)
}

// Tuning.
const (
	PageSize      = 200
	PrefetchAt    = 50 // load the next page when the cursor is this close to the end
	MaxCandidates = 2000
	PrefixLimit   = 200
	Debounce      = 70 * time.Millisecond
	cacheSize     = 32
)

type pageMsg struct {
	id, seq int64
	list    store.StreamList
	err     error
	append  bool
	// end: the rows are the list's last page, read backwards (flipped on
	// arrival); before: an earlier page read backwards, to prepend.
	end, before bool
	// live: the refresh beat's re-read of the rows shown (they replace
	// them, the selection following its stream).
	live bool
}

// LiveMax is the most rows the refresh beat re-reads: further down (after
// paging that far), the list stays as read and says how old it is.
const LiveMax = 2000

type debounceMsg struct{ id, seq int64 }

// reloadMsg reloads the list after a pause in typing a filter that
// changes the category or the exclusion.
type reloadMsg struct{ id, seq int64 }

type matchMsg struct {
	id, seq  int64
	query    string
	category string
	cands    []store.StreamInfo
	complete bool
	err      error
}

// candSet is a server answer for a query: the candidates, and whether it
// holds every stream that matches (not capped).
type candSet struct {
	query, category string
	cands           []store.StreamInfo
	complete        bool
}

type row struct {
	info  store.StreamInfo
	match []int
}

// Model is the stream browser.
type Model struct {
	c   common.Common
	ctx context.Context
	src Source
	id  int64
	tbl table.Model

	order     store.StreamOrder
	reverse   bool              // the order turned around (s cycles through the four)
	category  string            // in force: the filter's cat: term, else the picker's
	pickCat   string            // chosen with c
	exclude   store.StreamMatch // "!": the streams the filter drops
	ferr      error             // the filter typed does not parse
	reloadSeq int64

	// Browsing.
	browse   []store.StreamInfo
	next     string
	prev     string // after G: the cursor of the rows before the window, read backwards
	loading  bool
	pageSeq  int64
	loadErr  error
	total    int64
	totalCat map[string]int64
	at       time.Time // when the rows shown were read
	live     bool      // the beat's re-read is in flight

	// Filtering.
	input     textinput.Model
	focused   bool
	query     string
	inputSeq  int64 // bumps on every keystroke
	appliedAt int64 // seq of the server answer on screen
	searching bool
	cache     []candSet
	shown     *candSet // the candidate set the ranking used
	rows      []row

	catPicker  *picker.Model
	categories []string
}

// New makes the stream browser.
func New(ctx context.Context, c common.Common, src Source) *Model {
	m := &Model{c: c, ctx: ctx, src: src, id: common.NewID(), totalCat: map[string]int64{}}
	m.tbl = table.New(c.Styles, c.Keys, []table.Column{
		{Title: "stream", Width: 24, Flex: 3, Mid: true},
		{Title: "category", Width: 12, Flex: 1},
		{Title: "version", Width: 8, Right: true},
		{Title: "last update", Width: 23},
		{Title: "", Width: 10},
	})
	m.tbl.Empty = "no streams"
	m.input = common.NewInput(c.Styles, "fuzzy id (server-narrowed), cat:C, ! inverts")
	m.input.Blur()
	return m
}

// Title is the breadcrumb.
func (m *Model) Title() string { return "Streams" }

// SetSize sets the area: two lines of status and filter above the table.
func (m *Model) SetSize(w, h int) {
	m.c.SetSize(w, h)
	m.tbl.SetSize(w, h-2)
}

// Init loads the first page.
func (m *Model) Init() tea.Cmd { return m.reload() }

func (m *Model) reload() tea.Cmd {
	m.browse, m.next, m.prev = nil, "", ""
	m.loading = true
	return m.fetchPage("", false)
}

func (m *Model) fetchPage(after string, appendTo bool) tea.Cmd {
	return m.fetch(pageMsg{append: appendTo}, store.ListStreamsOptions{Category: m.category, Exclude: m.exclude, Order: m.order, Reverse: m.reverse, After: after, Limit: PageSize})
}

// fetchEnd loads the list's real end (G): its last page, read in the
// opposite order so nothing before it is read.
func (m *Model) fetchEnd() tea.Cmd {
	m.loading = true
	return m.fetch(pageMsg{end: true}, store.ListStreamsOptions{Category: m.category, Exclude: m.exclude, Order: m.order, Reverse: !m.reverse, Limit: PageSize})
}

// fetchBefore loads the page before the window G showed.
func (m *Model) fetchBefore() tea.Cmd {
	m.loading = true
	return m.fetch(pageMsg{before: true}, store.ListStreamsOptions{Category: m.category, Exclude: m.exclude, Order: m.order, Reverse: !m.reverse, After: m.prev, Limit: PageSize})
}

func (m *Model) fetch(kind pageMsg, o store.ListStreamsOptions) tea.Cmd {
	m.pageSeq++
	id, seq, src, ctx := m.id, m.pageSeq, m.src, m.ctx
	return func() tea.Msg {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		l, err := src.ListStreams(cctx, o)
		kind.id, kind.seq, kind.list, kind.err = id, seq, l, err
		return kind
	}
}

func flipped(l []store.StreamInfo) []store.StreamInfo {
	out := make([]store.StreamInfo, len(l))
	for i, s := range l {
		out[len(l)-1-i] = s
	}
	return out
}

// ClaimsKey: the focused filter input takes every key; an active filter
// takes esc (to clear it before esc means back); the category picker
// takes every key.
func (m *Model) ClaimsKey(msg tea.KeyMsg) bool {
	if m.focused || m.catPicker != nil {
		return true
	}
	return m.filtered() && key.Matches(msg, m.c.Keys.Back)
}

// filtered reports a filter in force (or one being fixed).
func (m *Model) filtered() bool { return m.input.Value() != "" }

// FilterKeys are the keys of the streams' "/" filter.
var FilterKeys = []string{"cat"}

// applyFilter reads the filter typed: free text fuzzy-matches stream ids
// (narrowed on the server, ranked here), cat:C keeps one category, and a
// leading "!" lists (paged from the server, in the list's order) the
// streams the rest does not match. A filter that does not parse says why
// and changes nothing.
func (m *Model) applyFilter(text string) tea.Cmd { return m.filterWith(text, false) }

// filterWith is applyFilter; reload reloads the list even when the
// category and the exclusion stay (the picker changed).
func (m *Model) filterWith(text string, reload bool) tea.Cmd {
	f, err := common.ParseListFilter(text, FilterKeys...)
	if err != nil {
		m.ferr = err
		return nil
	}
	m.ferr = nil
	cat, exclude, q := m.pickCat, store.StreamMatch{}, f.Text
	if c := f.Terms["cat"]; c != "" && !f.Invert {
		cat = c
	}
	if f.Invert && !f.Empty() {
		exclude, q = store.StreamMatch{Category: f.Terms["cat"], Match: f.Text}, ""
	}
	var cmds []tea.Cmd
	if reload || cat != m.category || exclude != m.exclude {
		m.category, m.exclude = cat, exclude
		m.tbl.SetCursor(0)
		m.reloadSeq++
		if reload || text == "" {
			cmds = append(cmds, m.reload()) // a choice or a clear: at once
		} else {
			m.browse, m.next, m.prev, m.loading = nil, "", "", true
			m.pageSeq++ // what is in flight is for the old filter
			id, seq := m.id, m.reloadSeq
			cmds = append(cmds, m.c.Tick(Debounce, func(time.Time) tea.Msg { return reloadMsg{id: id, seq: seq} }))
		}
	}
	if q != m.query || len(cmds) > 0 {
		cmds = append(cmds, m.setQuery(q))
	}
	return tea.Batch(cmds...)
}

// clearFilter ends the filter for good (a refresh brings none of it back).
func (m *Model) clearFilter() tea.Cmd {
	m.focused = false
	m.input.Blur()
	m.input.SetValue("")
	return m.applyFilter("")
}

// CopyText copies the selected stream id.
func (m *Model) CopyText() (string, string, bool) {
	if info, ok := m.selected(); ok {
		return info.StreamID, "stream id", true
	}
	return "", "", false
}

func (m *Model) selected() (store.StreamInfo, bool) {
	i := m.tbl.Cursor()
	if m.query != "" {
		if i < len(m.rows) {
			return m.rows[i].info, true
		}
		return store.StreamInfo{}, false
	}
	if i < len(m.browse) {
		return m.browse[i], true
	}
	return store.StreamInfo{}, false
}

// Update handles keys, mouse and results.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.KeyMsg:
		return m.key(msg)
	case tea.MouseMsg:
		moved, clicked := m.tbl.Mouse(msg, msg.Y-2)
		if clicked && !moved {
			return m.open()
		}
		return m.maybePrefetch()
	case common.RefreshMsg:
		return m.refresh()
	case common.StatsMsg:
		m.total = msg.Stats.Streams
		m.categories = m.categories[:0]
		for _, c := range msg.Stats.Categories {
			m.totalCat[c.Category] = c.Streams
			m.categories = append(m.categories, c.Category)
		}
	case common.BeatMsg:
		return m.refreshLive()
	case pageMsg:
		if msg.id == m.id && msg.live {
			m.live = false
		}
		if msg.id != m.id || msg.seq != m.pageSeq {
			return nil // stale: a newer load replaced it
		}
		if msg.live {
			return m.applyLive(msg)
		}
		m.loading = false
		if msg.err != nil {
			m.loadErr = msg.err
			return common.ErrCmd("list streams", msg.err)
		}
		m.loadErr = nil
		cursor := m.tbl.Cursor()
		switch {
		case msg.end:
			m.browse, m.next, m.prev = flipped(msg.list.Streams), "", msg.list.Next
			cursor = len(m.browse) - 1
			m.at = m.c.Now()
		case msg.before:
			m.browse = append(flipped(msg.list.Streams), m.browse...)
			m.prev = msg.list.Next
			cursor += len(msg.list.Streams)
		case msg.append:
			m.browse = append(m.browse, msg.list.Streams...)
			m.next = msg.list.Next
		default:
			m.browse, m.next = msg.list.Streams, msg.list.Next
			m.at = m.c.Now()
		}
		if m.query == "" {
			m.tbl.SetRows(browseRows{m})
			m.tbl.SetCursor(cursor)
		}
	case debounceMsg:
		if msg.id == m.id && msg.seq == m.inputSeq && m.query != "" {
			return m.search(msg.seq)
		}
	case reloadMsg:
		if msg.id == m.id && msg.seq == m.reloadSeq {
			return m.reload()
		}
	case matchMsg:
		if msg.id != m.id {
			return nil
		}
		if msg.err != nil {
			if msg.seq == m.inputSeq {
				m.searching = false
			}
			return common.ErrCmd("filter streams", msg.err)
		}
		cs := candSet{query: msg.query, category: msg.category, cands: msg.cands, complete: msg.complete}
		m.remember(cs)
		// Apply only the answer to the newest keystroke seen so far; an
		// older answer is cached but never replaces a newer ranking.
		if msg.seq < m.appliedAt || msg.query != m.query || msg.category != m.category {
			return nil
		}
		m.appliedAt = msg.seq
		m.searching = false
		m.rank(&cs)
	}
	return nil
}

func (m *Model) key(msg tea.KeyMsg) tea.Cmd {
	k := m.c.Keys
	if m.catPicker != nil {
		return m.pickCategory(msg)
	}
	if m.focused {
		switch {
		case msg.Type == tea.KeyEnter:
			m.focused = false
			m.input.Blur()
			return m.open()
		case msg.Type == tea.KeyEsc:
			return m.clearFilter()
		case msg.Type == tea.KeyUp || msg.Type == tea.KeyDown || msg.Type == tea.KeyPgUp || msg.Type == tea.KeyPgDown:
			m.tbl.Update(msg)
			return nil
		}
		var cmd tea.Cmd
		before := m.input.Value()
		m.input, cmd = m.input.Update(msg)
		if m.input.Value() != before {
			return tea.Batch(cmd, m.applyFilter(m.input.Value()))
		}
		return cmd
	}
	switch {
	case key.Matches(msg, k.Filter):
		m.focused = true
		m.input.Focus()
		return nil
	case key.Matches(msg, k.Back) && m.filtered():
		return m.clearFilter()
	case key.Matches(msg, k.Open):
		return m.open()
	case key.Matches(msg, k.Refresh):
		return m.refresh()
	case key.Matches(msg, k.Sort):
		// id ascending, id descending, newest update first, oldest first.
		if m.reverse {
			m.order = 1 - m.order
		}
		m.reverse = !m.reverse
		m.tbl.SetCursor(0)
		return m.reload()
	case key.Matches(msg, k.Bottom) && m.query == "" && m.next != "":
		return m.fetchEnd() // the real end, not the end of what is loaded
	case key.Matches(msg, k.Top) && m.query == "" && m.prev != "":
		m.tbl.SetCursor(0)
		return m.reload() // the window after G does not start at the top
	case key.Matches(msg, k.Category):
		m.catPicker = picker.New(m.c, "category: ", "type to filter, enter to choose")
		items := []picker.Item{{Value: "", Label: "(all categories)"}}
		for _, c := range m.categories {
			items = append(items, picker.Item{Value: c, Label: c, Hint: common.Count(m.totalCat[c]) + " streams"})
		}
		m.catPicker.SetItems(items)
		return nil
	case key.Matches(msg, k.TimeTravel):
		if info, ok := m.selected(); ok {
			return common.Navigate(common.OpenTimeTravelMsg{Stream: info.StreamID, Version: -1})
		}
		return nil
	}
	if m.tbl.Update(msg) {
		return m.maybePrefetch()
	}
	return nil
}

func (m *Model) pickCategory(msg tea.KeyMsg) tea.Cmd {
	switch msg.Type {
	case tea.KeyEsc:
		m.catPicker = nil
		return nil
	case tea.KeyEnter:
		it, ok := m.catPicker.Selected()
		m.catPicker = nil
		if !ok {
			return nil
		}
		m.pickCat = it.Value
		return m.filterWith(m.input.Value(), true)
	}
	cmd, _ := m.catPicker.Update(msg)
	return cmd
}

// refreshLive re-reads the rows shown (the beat): as many as are loaded,
// from the top, or the window at the end after G, with the server's
// category and exclusion ("!") of the filter. Not while another load or a
// fuzzy filter runs (its ranking is over candidates), nor past LiveMax rows.
func (m *Model) refreshLive() tea.Cmd {
	if m.query != "" || m.loading || m.live || m.focused || len(m.browse) > LiveMax {
		return nil
	}
	m.live = true
	n := max(len(m.browse), PageSize)
	if m.prev != "" {
		return m.fetch(pageMsg{live: true, end: true}, store.ListStreamsOptions{Category: m.category, Exclude: m.exclude, Order: m.order, Reverse: !m.reverse, Limit: n})
	}
	return m.fetch(pageMsg{live: true}, store.ListStreamsOptions{Category: m.category, Exclude: m.exclude, Order: m.order, Reverse: m.reverse, Limit: n})
}

// applyLive puts the re-read rows in place: the selection follows its
// stream (a stream appended to moves up in the by-update order), on the
// same screen line, or with the top still shown when it was; a stream
// gone leaves the cursor where it was.
func (m *Model) applyLive(msg pageMsg) tea.Cmd {
	if msg.err != nil {
		m.loadErr = msg.err
		return nil // the age shown says the rows are old; a reload (r) reports
	}
	m.loadErr = nil
	sel, hasSel := m.selected()
	line := m.tbl.Cursor() - m.tbl.Offset()
	top := m.tbl.Offset() == 0 // watching the top: rows that move up show
	if msg.end {
		m.browse, m.prev = flipped(msg.list.Streams), msg.list.Next
	} else {
		m.browse, m.next = msg.list.Streams, msg.list.Next
	}
	m.at = m.c.Now()
	if m.query != "" {
		return nil // a filter began meanwhile: its rows are on screen
	}
	m.tbl.SetRows(browseRows{m})
	cursor := m.tbl.Cursor()
	if hasSel {
		for i, s := range m.browse {
			if s.StreamID == sel.StreamID {
				cursor = i
				break
			}
		}
	}
	if top {
		line = cursor
	}
	m.tbl.Place(cursor, line)
	return nil
}

func (m *Model) refresh() tea.Cmd {
	m.cache = nil
	if m.query != "" {
		q := m.query
		m.query = ""
		return tea.Batch(m.reload(), m.setQuery(q))
	}
	return m.reload()
}

func (m *Model) open() tea.Cmd {
	if info, ok := m.selected(); ok {
		return common.Navigate(common.OpenStreamMsg{Stream: info.StreamID, Version: -1})
	}
	return nil
}

func (m *Model) maybePrefetch() tea.Cmd {
	if m.query != "" || m.loading {
		return nil
	}
	if m.prev != "" && m.tbl.Cursor() < PrefetchAt {
		return m.fetchBefore()
	}
	if m.next == "" {
		return nil
	}
	if m.tbl.Cursor()+m.tbl.VisibleRows() >= len(m.browse)-PrefetchAt {
		m.loading = true
		return m.fetchPage(m.next, true)
	}
	return nil
}

// setQuery reacts to a new filter text: rank what is loaded at once when
// that is exact or a good first answer, and ask the server after the
// debounce when the loaded candidates were capped.
func (m *Model) setQuery(q string) tea.Cmd {
	m.query = q
	m.inputSeq++
	if q == "" {
		m.rows, m.shown, m.searching = nil, nil, false
		m.tbl.Empty = "no streams"
		m.tbl.SetRows(browseRows{m})
		return m.maybePrefetch()
	}
	if cs := m.lookup(q); cs != nil {
		m.rank(cs)
		m.appliedAt = m.inputSeq
		if cs.query == q || cs.complete {
			m.searching = false
			return nil // exact: this query's answer, or a complete superset
		}
	}
	if m.shown == nil || m.shown.category != m.category || !IsSubsequence(m.shown.query, q) {
		// Nothing loaded can answer this query: show no rows rather than
		// rows that do not match, until the server answers.
		m.rows, m.shown = nil, nil
		m.tbl.Empty = "searching…"
		m.tbl.SetRows(filterRows{m})
	}
	m.searching = true
	seq, id := m.inputSeq, m.id
	return m.c.Tick(Debounce, func(time.Time) tea.Msg { return debounceMsg{id: id, seq: seq} })
}

// search asks the server for q's candidates: the ids starting with q
// (so an exact id is never lost to the cap) and the first MaxCandidates
// ids holding q's characters in order.
func (m *Model) search(seq int64) tea.Cmd {
	id, src, ctx, q, cat := m.id, m.src, m.ctx, m.query, m.category
	return func() tea.Msg {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		// Both queries at once: the subsequence one may scan every stream.
		type answer struct {
			l   store.StreamList
			err error
		}
		preCh := make(chan answer, 1)
		go func() {
			l, err := src.ListStreams(cctx, store.ListStreamsOptions{Prefix: q, Category: cat, Limit: PrefixLimit})
			preCh <- answer{l, err}
		}()
		sub, err := src.ListStreams(cctx, store.ListStreamsOptions{Match: q, Category: cat, Limit: MaxCandidates})
		pre := <-preCh
		if err == nil {
			err = pre.err
		}
		if err != nil {
			return matchMsg{id: id, seq: seq, query: q, category: cat, err: err}
		}
		seen := make(map[string]bool, len(pre.l.Streams))
		cands := make([]store.StreamInfo, 0, len(pre.l.Streams)+len(sub.Streams))
		for _, s := range pre.l.Streams {
			seen[s.StreamID] = true
			cands = append(cands, s)
		}
		for _, s := range sub.Streams {
			if !seen[s.StreamID] {
				cands = append(cands, s)
			}
		}
		return matchMsg{id: id, seq: seq, query: q, category: cat, cands: cands, complete: sub.Next == ""}
	}
}

// lookup finds the best cached candidate set for q: its own, else a
// complete one for a query that is a subsequence of q (a superset of q's
// matches), else the largest such capped one.
func (m *Model) lookup(q string) *candSet {
	var best *candSet
	for i := len(m.cache) - 1; i >= 0; i-- {
		cs := &m.cache[i]
		if cs.category != m.category {
			continue
		}
		if cs.query == q {
			return cs
		}
		if !IsSubsequence(cs.query, q) {
			continue
		}
		if best == nil || (cs.complete && !best.complete) || (cs.complete == best.complete && len(cs.query) > len(best.query)) {
			best = cs
		}
	}
	if best == nil && m.shown != nil && m.shown.category == m.category && IsSubsequence(m.shown.query, q) {
		best = m.shown
	}
	return best
}

func (m *Model) remember(cs candSet) {
	for i := range m.cache {
		if m.cache[i].query == cs.query && m.cache[i].category == cs.category {
			m.cache[i] = cs
			return
		}
	}
	m.cache = append(m.cache, cs)
	if len(m.cache) > cacheSize {
		m.cache = m.cache[1:]
	}
}

type candIDs []store.StreamInfo

func (c candIDs) String(i int) string { return c[i].StreamID }
func (c candIDs) Len() int            { return len(c) }

// rank fuzzy-ranks a candidate set against the current query.
func (m *Model) rank(cs *candSet) {
	m.shown = cs
	ms := fuzzy.FindFrom(m.query, candIDs(cs.cands))
	// Ties keep the server's order (by id): stable and predictable.
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Score > ms[j].Score })
	rows := make([]row, len(ms))
	for i, fm := range ms {
		rows[i] = row{info: cs.cands[fm.Index], match: fm.MatchedIndexes}
	}
	m.rows = rows
	m.tbl.Empty = "no stream matches"
	m.tbl.SetRows(filterRows{m})
	m.tbl.SetCursor(0)
}

// IsSubsequence reports whether a's characters appear in b in order,
// ignoring case (so every id matching b also matches a).
func IsSubsequence(a, b string) bool {
	for _, r := range a {
		found := false
		for len(b) > 0 {
			c, n := utf8.DecodeRuneInString(b)
			b = b[n:]
			if c == r || unicode.SimpleFold(c) == r || unicode.ToLower(c) == unicode.ToLower(r) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

type browseRows struct{ m *Model }

func (r browseRows) Len() int { return len(r.m.browse) }
func (r browseRows) Cells(i int) []table.Cell {
	return r.m.cells(r.m.browse[i], nil)
}

type filterRows struct{ m *Model }

func (r filterRows) Len() int { return len(r.m.rows) }
func (r filterRows) Cells(i int) []table.Cell {
	return r.m.cells(r.m.rows[i].info, r.m.rows[i].match)
}

func (m *Model) cells(s store.StreamInfo, match []int) []table.Cell {
	st := m.c.Styles
	age := common.Ago(m.c.Now(), s.UpdatedAt)
	var flag table.Cell
	if s.Closed() {
		flag = table.Cell{Text: "closed", Style: &st.Warning}
	} else {
		flag = table.Cell{Text: age, Style: &st.Faint}
	}
	return []table.Cell{
		{Text: s.StreamID, Match: match},
		{Text: s.Category, Style: &st.Faint},
		{Text: fmt.Sprint(s.Version)},
		{Text: common.Timestamp(s.UpdatedAt)},
		flag,
	}
}

// View renders the status line, the filter line and the table.
func (m *Model) View() string {
	st := m.c.Styles
	var status string
	order := "id ↑"
	switch {
	case m.order == store.ByID && m.reverse:
		order = "id ↓"
	case m.order == store.ByUpdated && !m.reverse:
		order = "last update, newest first"
	case m.order == store.ByUpdated:
		order = "last update, oldest first"
	}
	cat := "all categories"
	if m.category != "" {
		cat = "category " + m.category
	}
	if m.query == "" {
		total := m.total
		if m.category != "" {
			total = m.totalCat[m.category]
		}
		n := fmt.Sprintf("%s loaded", common.Count(int64(len(m.browse))))
		if total > 0 {
			n = fmt.Sprintf("%s streams (%s loaded)", common.Count(total), common.Count(int64(len(m.browse))))
		}
		if x := m.exclude; x != (store.StreamMatch{}) {
			n = fmt.Sprintf("%s loaded", common.Count(int64(len(m.browse))))
			cat += " · without"
			if x.Match != "" {
				cat += fmt.Sprintf(" ids matching %q", x.Match)
			}
			if x.Category != "" {
				cat += " in category " + x.Category
			}
		}
		status = fmt.Sprintf("%s · sorted by %s · %s", n, order, cat)
		if !m.at.IsZero() {
			status += " · " + common.Updated(m.c.Now(), m.at)
		}
		if m.loading {
			status += " · loading…"
		}
	} else {
		status = fmt.Sprintf("%s matches for %q · %s", common.Count(int64(len(m.rows))), m.query, cat)
		if m.shown != nil && !m.shown.complete {
			status += fmt.Sprintf(" · ranked from the first %s candidates: type more to narrow", common.Count(int64(len(m.shown.cands))))
		}
		if m.searching {
			status += " · searching…"
		}
	}
	var filter string
	switch {
	case m.focused:
		filter = st.Accent.Render("/ ") + m.input.View()
	case m.filtered():
		filter = st.Accent.Render("/ ") + st.Input.Render(textsafe.Line(m.input.Value())) + st.Faint.Render("   (/ edit · esc clear)")
	default:
		filter = st.Faint.Render("/ filter · s sort · c category · enter open · t time-travel")
	}
	if m.ferr != nil {
		filter += "  " + st.Error.Render(textsafe.Line(m.ferr.Error()))
	}
	body := m.tbl.View()
	if m.catPicker != nil {
		body = m.catPicker.View(m.c.Width) + "\n" + body
	}
	out := st.Faint.Render(common.Truncate(status, m.c.Width)) + "\n" + filter + "\n" + body
	return common.FitLines(out, m.c.Width, m.c.Height)
}

// ShortHelp is the footer help.
func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	if m.focused {
		return []key.Binding{k.Up, k.Down, k.Open, k.Cancel}
	}
	return []key.Binding{k.Up, k.Down, k.Open, k.Filter, k.Sort, k.Category, k.TimeTravel, k.Copy}
}

// FullHelp is the full help.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.c.Keys
	return [][]key.Binding{
		k.Moves(),
		{k.Open, k.Filter, k.Sort, k.Category, k.TimeTravel, k.Copy, k.Refresh},
	}
}

// PageID addresses the results to the page that asked (common.Addressed).
func (m pageMsg) PageID() int64     { return m.id }
func (m debounceMsg) PageID() int64 { return m.id }
func (m reloadMsg) PageID() int64   { return m.id }
func (m matchMsg) PageID() int64    { return m.id }

// ID is the page's address.
func (m *Model) ID() int64 { return m.id }
