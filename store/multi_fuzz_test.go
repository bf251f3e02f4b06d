package store_test

import (
	"encoding/json"
	"testing"

	"eventscope/store"
)

// FuzzStreamAppendJSON: the append object either decodes to something that
// encodes and decodes back to the same stream, expected version and event
// count, or is refused with an error — never a panic.
func FuzzStreamAppendJSON(f *testing.F) {
	for _, s := range []string{
		`{"stream_id":"a-1","expected_version":null,"events":[{"type":"A","data":{}}]}`,
		`{"stream_id":"a-1","expected_version":-2,"events":[]}`,
		`{"stream_id":"a-1","expected_version":"no-stream","events":[{"id":"3c1a9d52-4b1e-4c8a-9f00-1d2e3f4a5b6c","type":"A","data":{"x":1},"metadata":{}}]}`,
		`{"stream_id":"a-1","expected_version":1e3}`,
		`{"stream_id":7}`, `[]`, `null`, `{"stream_id":"\u0000"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var a store.StreamAppend
		if err := json.Unmarshal([]byte(in), &a); err != nil {
			return
		}
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("%q decoded but does not encode: %v", in, err)
		}
		var back store.StreamAppend
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q → %s does not decode: %v", in, b, err)
		}
		if back.Stream != a.Stream || back.Expected != a.Expected || len(back.Events) != len(a.Events) {
			t.Fatalf("%q → %s → %+v, want %+v", in, b, back, a)
		}
	})
}
