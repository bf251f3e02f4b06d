package cli

import (
	"strconv"
	"testing"
	"time"
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

func FuzzParseTimeFlag(f *testing.F) {
	for _, s := range []string{"now", "2025-03-01", "2025-03-01T12:00:00Z", "2025-03-01 12:00", "90m", "2h ago", "3d", "1d12h", "-2h", "yesterday", "", "9999999999d", "1d-5h"} {
		f.Add(s)
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		at, err := parseTimeFlag(s, now)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if at.IsZero() {
			t.Fatalf("%q parsed to the zero time", s)
		}
		if d, ok := parseAgo(s); ok && at.After(now) && d >= 0 {
			t.Fatalf("%q (a duration ago) lies after now: %s", s, at)
		}
	})
}

func TestParseTimeFlag(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"now":                  now,
		"2025-03-01":           time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC),
		"2025-03-01 08:30":     time.Date(2025, 3, 1, 8, 30, 0, 0, time.UTC),
		"2025-03-01T08:30:05Z": time.Date(2025, 3, 1, 8, 30, 5, 0, time.UTC),
		"90m":                  now.Add(-90 * time.Minute),
		"2h ago":               now.Add(-2 * time.Hour),
		"-2h":                  now.Add(-2 * time.Hour),
		"3d":                   now.Add(-72 * time.Hour),
		"1d12h":                now.Add(-36 * time.Hour),
	} {
		got, err := parseTimeFlag(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseTimeFlag(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "yesterday", "2025-13-01", "1d-5h", "5", "h"} {
		if _, err := parseTimeFlag(in, now); err == nil {
			t.Errorf("parseTimeFlag(%q) succeeded", in)
		}
	}
}
