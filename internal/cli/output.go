package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"eventscope/internal/textsafe"
	"eventscope/store"
	"eventscope/tui/common"
)

// Everything the CLI prints from stored data (stream ids, types, JSON,
// errors, other sessions' queries) goes through these helpers: text output
// through textsafe, JSON output through safeJSON, so that a control
// sequence stored in an event can never reach the terminal as one.

// safe is textsafe.Line: one line of stored text.
func safe(s string) string { return textsafe.Line(s) }

// safePreview is a one-line preview of JSON data cut to n cells: compacted,
// escaped, then cut (cutting first could keep half an escape sequence).
func safePreview(raw []byte, n int) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		b.Reset()
		b.Write(raw)
	}
	return common.Truncate(textsafe.Line(b.String()), n)
}

// oneLine collapses whitespace, escapes what is unsafe and cuts s to n
// cells (never inside a character or an escape).
func oneLine(s string, n int) string {
	return common.Truncate(textsafe.Line(strings.Join(strings.Fields(s), " ")), n)
}

// jsonEncoder writes one JSON value per line, like json.Encoder, with every
// rune textsafe calls unsafe (C1 controls, bidi overrides, zero-width
// characters; C0 controls json already escapes) written as a \uXXXX
// escape: the same JSON value, harmless on a terminal.
type jsonEncoder struct{ w io.Writer }

func newJSONEncoder(w io.Writer) *jsonEncoder { return &jsonEncoder{w: w} }

func (e *jsonEncoder) Encode(v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	if err := enc.Encode(v); err != nil {
		ev, ok := v.(store.Event)
		if !ok {
			return err
		}
		// Data or metadata nested deeper than Go's decoder takes (stored
		// before the SQL API refused it) fails encoding/json's check of
		// a RawMessage: write the event with them as stored.
		b.Reset()
		if err := encodeEventRaw(&b, ev); err != nil {
			return err
		}
	}
	_, err := e.w.Write(safeJSON(b.Bytes()))
	return err
}

// encodeEventRaw writes e as json.Encoder would, but with its data and
// metadata spliced in as the stored bytes (still valid JSON, just too deep
// for encoding/json to re-check), followed by a newline.
func encodeEventRaw(b *bytes.Buffer, e store.Event) error {
	data, meta := e.Data, e.Metadata
	e.Data, e.Metadata = json.RawMessage("null"), json.RawMessage("null")
	head, err := json.Marshal(e)
	if err != nil {
		return err
	}
	// Quotes inside JSON strings are escaped, so this sequence can only be
	// the fields themselves.
	const marker = `,"data":null,"metadata":null,`
	i := bytes.Index(head, []byte(marker))
	if i < 0 {
		return fmt.Errorf("encode event %s: unexpected layout", e.EventID)
	}
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	if len(meta) == 0 {
		meta = json.RawMessage("null")
	}
	b.Write(head[:i])
	b.WriteString(`,"data":`)
	b.Write(bytes.TrimSpace(data))
	b.WriteString(`,"metadata":`)
	b.Write(bytes.TrimSpace(meta))
	b.WriteByte(',')
	b.Write(head[i+len(marker):])
	b.WriteByte('\n')
	return nil
}

// safeJSON escapes unsafe runes in encoded JSON. They can only occur inside
// strings (outside them JSON is ASCII), where \uXXXX means the same rune;
// the newline that ends each value is kept.
func safeJSON(b []byte) []byte {
	clean := true
	for _, r := range string(b) {
		if r != '\n' && textsafe.Unsafe(r) {
			clean = false
			break
		}
	}
	if clean && utf8.Valid(b) {
		return b
	}
	var out bytes.Buffer
	out.Grow(len(b) + 16)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			out.WriteString(`\ufffd`)
		case r != '\n' && textsafe.Unsafe(r):
			if r > 0xffff {
				r1, r2 := utf16Pair(r)
				fmt.Fprintf(&out, `\u%04x\u%04x`, r1, r2)
			} else {
				fmt.Fprintf(&out, `\u%04x`, r)
			}
		default:
			out.Write(b[i : i+size])
		}
		i += size
	}
	return out.Bytes()
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}
