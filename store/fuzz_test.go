package store

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzEncode: whatever a caller passes, encode either rejects it with a
// ValidationError or produces a JSON array of event objects whose data is a
// JSON object — what eventscope.append accepts.
func FuzzEncode(f *testing.F) {
	f.Add("order-1", "OrderPlaced", `{"total":10}`, `{"correlationId":"x"}`)
	f.Add("", "", `[]`, `3`)
	f.Add("a b", "T", `{"a":`, ``)
	f.Add("order-\u00e9", "T\x00", `{}`, `null`)
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
	})
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
