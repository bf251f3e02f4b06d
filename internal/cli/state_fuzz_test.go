package cli

import (
	"strconv"
	"testing"
	"time"

	"eventscope/store"
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

// TestParseTimeFlag: --at takes store.ParseTime's forms (its fuzz test is
// store.FuzzParseTime); zone-less times are local.
func TestParseTimeFlag(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"now":                  now,
		"2025-03-01":           time.Date(2025, 3, 1, 0, 0, 0, 0, time.Local),
		"2025-03-01 08:30":     time.Date(2025, 3, 1, 8, 30, 0, 0, time.Local),
		"2025-03-01T08:30:05Z": time.Date(2025, 3, 1, 8, 30, 5, 0, time.UTC),
		"90m":                  now.Add(-90 * time.Minute),
		"2h ago":               now.Add(-2 * time.Hour),
		"-2h":                  now.Add(-2 * time.Hour),
		"3d":                   now.Add(-72 * time.Hour),
		"1d12h":                now.Add(-36 * time.Hour),
	} {
		got, err := store.ParseTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("store.ParseTime(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "yesterday", "2025-13-01", "1d-5h", "5", "h"} {
		if _, err := store.ParseTime(in, now); err == nil {
			t.Errorf("store.ParseTime(%q) succeeded", in)
		}
	}
}
