package cli

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseMulti: --multi input is either parsed (every append with a valid
// stream id, events and a line number) or refused with a usage error.
func FuzzParseMulti(f *testing.F) {
	f.Add(`{"stream_id":"order-1","expected_version":-1,"events":[{"type":"A","data":{}}]}`)
	f.Add("{\"stream_id\":\"a-1\",\"events\":[{\"type\":\"A\",\"data\":{}}]}\n\n{\"stream_id\":\"b-1\",\"expected_version\":3,\"events\":[{\"type\":\"B\",\"data\":{\"x\":[1]}}]}")
	f.Add(`{"stream_id":"a 1","events":[]}`)
	f.Add(`{} {}`)
	f.Fuzz(func(t *testing.T, in string) {
		appends, lines, err := ParseMulti(strings.NewReader(in))
		if err != nil {
			var u *UsageError
			if !errors.As(err, &u) {
				t.Fatalf("%q: error %v is not a usage error", in, err)
			}
			return
		}
		if len(appends) == 0 || len(lines) != len(appends) {
			t.Fatalf("%q: %d appends, %d lines", in, len(appends), len(lines))
		}
		for i, a := range appends {
			if a.Stream == "" || len(a.Events) == 0 || lines[i] < 1 || (i > 0 && lines[i] <= lines[i-1]) {
				t.Fatalf("%q: append %d = %+v at line %d", in, i, a, lines[i])
			}
		}
	})
}
