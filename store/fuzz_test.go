package store

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzEncode: whatever a caller passes, encode either rejects it with a
// ValidationError or produces a JSON array of event objects whose data is a
// JSON object — what eventscope.append accepts.
func FuzzEncode(f *testing.F) {
	f.Add("order-1", "OrderPlaced", `{"total":10}`, `{"correlationId":"x"}`)
	f.Add("", "", `[]`, `3`)
	f.Add("a b", "T", `{"a":`, ``)
	f.Add("order-\u00e9", "T\x00", `{}`, `null`)
	f.Add("order-\u202e1", "Order\u200dPlaced", `{"a":"\u0000"}`, `{"b":"\ud800"}`)
	f.Add("order-1", "T", `{"a":`+strings.Repeat("[", 120)+strings.Repeat("]", 120)+`}`, `{"n":1e1001}`)
	f.Add("order-1", "T", `{"a":"\\u0000","b":"\ud83d\ude00"}`, "{\"k\":\"\xff\"}")
	s := New(nil, Options{NoNotify: true, MaxEventBytes: 4096})
	f.Fuzz(func(t *testing.T, stream, typ, data, meta string) {
		payload, err := s.encode(stream, Any, []NewEvent{{Type: typ, Data: json.RawMessage(data), Metadata: json.RawMessage(meta)}})
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field == "" || ve.Reason == "" {
				t.Fatalf("error %v is not a ValidationError naming a field", err)
			}
			return
		}
		var evs []struct {
			Type     string          `json:"type"`
			Data     json.RawMessage `json:"data"`
			Metadata json.RawMessage `json:"metadata"`
		}
		if err := json.Unmarshal(payload, &evs); err != nil {
			t.Fatalf("payload %q is not a JSON array of events: %v", payload, err)
		}
		if len(evs) != 1 || evs[0].Type != typ {
			t.Fatalf("payload %q lost the type %q", payload, typ)
		}
		var obj map[string]any
		if err := json.Unmarshal(evs[0].Data, &obj); err != nil || obj == nil {
			t.Fatalf("data %q is not an object", evs[0].Data)
		}
		// What the validator lets through, PostgreSQL's jsonb stores and the
		// readers decode: valid UTF-8, no refused rune in the type or the
		// stream id, no NUL, nesting within MaxJSONDepth.
		if !utf8.Valid(payload) {
			t.Fatalf("payload %q is not UTF-8", payload)
		}
		for _, r := range typ {
			if TypeRefused(r) {
				t.Fatalf("type %q with refused rune %U accepted", typ, r)
			}
		}
		for _, r := range stream {
			if StreamIDRefused(r) {
				t.Fatalf("stream %q with refused rune %U accepted", stream, r)
			}
		}
		for _, raw := range []string{data, meta} {
			if depthOf(t, raw) > MaxJSONDepth {
				t.Fatalf("%q nests deeper than %d", raw, MaxJSONDepth)
			}
			if strings.ContainsRune(decodeStrings(raw), 0) {
				t.Fatalf("%q holds a NUL", raw)
			}
		}
	})
}

// depthOf is the nesting depth of JSON text by decoding it token by token.
func depthOf(t *testing.T, s string) int {
	d := json.NewDecoder(strings.NewReader(s))
	depth, max := 0, 0
	for {
		tok, err := d.Token()
		if err != nil {
			return max
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			if depth > max {
				max = depth
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// decodeStrings concatenates every string token of JSON text, decoded.
func decodeStrings(s string) string {
	d := json.NewDecoder(strings.NewReader(s))
	var b strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return b.String()
		}
		if str, ok := tok.(string); ok {
			b.WriteString(str)
		}
	}
}

func FuzzParseCheckpoint(f *testing.F) {
	f.Add("7731:120455")
	f.Add("0:0")
	f.Add(":")
	f.Add("-1:2")
	f.Add("18446744073709551615:9223372036854775807")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCheckpoint(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		back, err := ParseCheckpoint(c.String())
		if err != nil || back != c {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, c, c.String(), back, err)
		}
	})
}

func FuzzParseExpectedVersion(f *testing.F) {
	for _, s := range []string{"any", "no-stream", "exists", "0", "17", "-1", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseExpectedVersion(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if e != Any && e != NoStream && e != StreamExists && e < 0 {
			t.Fatalf("%q parsed to %d", s, int64(e))
		}
		if back, err := ParseExpectedVersion(e.String()); err != nil || back != e {
			t.Fatalf("%q -> %s -> %v %v", s, e, back, err)
		}
	})
}
