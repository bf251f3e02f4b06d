package cli

import (
	"strconv"
	"testing"
)

func FuzzParseVersionFlag(f *testing.F) {
	for _, s := range []string{"0", "42", "-1", "", " 7 ", "1e3", "99999999999999999999", "0x10", "+5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseVersionFlag(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if v < 0 {
			t.Fatalf("%q parsed to negative %d", s, v)
		}
		if again, err := parseVersionFlag(strconv.FormatInt(v, 10)); err != nil || again != v {
			t.Fatalf("%q -> %d does not round-trip", s, v)
		}
	})
}
