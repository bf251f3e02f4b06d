package event

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"time"
	"unicode"

	tea "github.com/charmbracelet/bubbletea"

	"eventscope/store"
	"eventscope/tui/common"
)

// A reference is a value in the event's data that names another stream by
// the common convention: a key ending in Id (orderId, customer_id) whose
// value is the stream's id within the key's category ("orderId":"001617"
// names order-001617), or the whole stream id ("orderId":"order-001617").
// enter follows the selected one; n/N select the next and previous.
type dataRef struct {
	line    int      // index into Model.lines
	key     string   // the JSON key
	value   string   // its value, as written
	streams []string // the stream ids it may name, most likely first
}

// maxRefs bounds the references collected from one event.
const maxRefs = 200

// refLine matches one line of indented JSON holding a key and a string or
// integer value: `  "orderId": "001617",`.
var refLine = regexp.MustCompile(`^\s*"([A-Za-z0-9_$.-]{1,100})": (?:"([^"\\]{1,200})"|(-?[0-9]{1,30}))(,?)$`)

// dataRefs finds the references in raw (the event's data); first is the
// index of raw's first pretty-printed line in the view.
func dataRefs(raw []byte, first int) []dataRef {
	var b bytes.Buffer
	if json.Indent(&b, bytes.TrimSpace(raw), "", "  ") != nil {
		return nil
	}
	var out []dataRef
	for i, l := range strings.Split(b.String(), "\n") {
		m := refLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		val := m[2]
		if val == "" {
			val = m[3]
		}
		if s := RefStreams(m[1], val); len(s) > 0 {
			out = append(out, dataRef{line: first + i, key: m[1], value: val, streams: s})
			if len(out) == maxRefs {
				break
			}
		}
	}
	return out
}

// RefStreams is the stream ids a key and its value may name, most likely
// first: none when the key does not end in Id (or _id, -id, ID) after a
// name, or the value cannot be part of a stream id.
func RefStreams(key, value string) []string {
	var prefix string
	for _, suf := range []string{"_id", "-id", "Id", "ID"} {
		if strings.HasSuffix(key, suf) && len(key) > len(suf) {
			prefix = strings.TrimRight(key[:len(key)-len(suf)], "_-")
			break
		}
	}
	prefix = strings.TrimLeft(prefix, "$")
	if prefix == "" || value == "" || strings.IndexFunc(value, unicode.IsSpace) >= 0 {
		return nil
	}
	var out []string
	add := func(s string) {
		for _, o := range out {
			if o == s {
				return
			}
		}
		out = append(out, s)
	}
	if strings.Contains(value, "-") {
		add(value) // the whole stream id: "orderId": "order-001617"
	}
	add(kebab(prefix) + "-" + value)
	add(strings.ToLower(prefix) + "-" + value)
	add(prefix + "-" + value)
	return out
}

// kebab turns shippingAddress and shipping_address into shipping-address.
func kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '_':
			b.WriteByte('-')
		case unicode.IsUpper(r):
			if i > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// refMsg is the answer of following a reference: the first of its
// streams that exists, or none.
type refMsg struct {
	id     int64
	ref    dataRef
	stream string
	err    error
}

// PageID addresses the answer to the page that asked (common.Addressed).
func (m refMsg) PageID() int64 { return m.id }

// follow checks, through the store, which stream the reference names and
// opens it (refMsg).
func (m *Model) follow(r dataRef) tea.Cmd {
	id, src := m.id, m.src
	return common.Fetch(m.ctx, 10*time.Second, func(ctx context.Context) tea.Msg {
		for _, s := range r.streams {
			evs, err := src.ReadStream(ctx, s, store.ReadStreamOptions{Limit: 1, MaxBytes: 1})
			if err != nil && !common.IsNotFound(err) {
				return refMsg{id: id, ref: r, err: err}
			}
			if len(evs) > 0 {
				return refMsg{id: id, ref: r, stream: s}
			}
		}
		return refMsg{id: id, ref: r}
	})
}

// selectRef selects reference i and scrolls it into view.
func (m *Model) selectRef(i int) {
	if len(m.refs) == 0 {
		return
	}
	m.refSel = (i + len(m.refs)) % len(m.refs)
	m.render()
	_, start := m.display()
	l := start[m.refs[m.refSel].line]
	if l < m.offset || l >= m.offset+m.c.Height {
		m.offset = min(max(l-m.c.Height/2, 0), m.maxOffset())
	}
}
