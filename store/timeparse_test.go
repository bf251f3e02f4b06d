package store

import (
	"errors"
	"testing"
	"time"
)

// TestParseTime is the one table of the time forms: --at, subs reset --to
// and the console's reset dialog all call ParseTime.
func TestParseTime(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"now", now},
		{" NOW ", now},
		{"2025-03-01T08:30:05Z", time.Date(2025, 3, 1, 8, 30, 5, 0, time.UTC)},
		{"2025-03-01T08:30:05.25Z", time.Date(2025, 3, 1, 8, 30, 5, 250_000_000, time.UTC)},
		{"2024-05-01T12:00:00+02:00", time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)},
		{"2025-03-01", time.Date(2025, 3, 1, 0, 0, 0, 0, time.Local)},
		{"2025-03-01 08:30", time.Date(2025, 3, 1, 8, 30, 0, 0, time.Local)},
		{"2025-03-01 08:30:05", time.Date(2025, 3, 1, 8, 30, 5, 0, time.Local)},
		{"2025-03-01 08:30:05.5", time.Date(2025, 3, 1, 8, 30, 5, 500_000_000, time.Local)},
		{"2025-03-01T08:30", time.Date(2025, 3, 1, 8, 30, 0, 0, time.Local)},
		{"2025-03-01T08:30:05", time.Date(2025, 3, 1, 8, 30, 5, 0, time.Local)},
		{"90m", now.Add(-90 * time.Minute)},
		{"-90m", now.Add(-90 * time.Minute)},
		{"2h ago", now.Add(-2 * time.Hour)},
		{"2h AGO", now.Add(-2 * time.Hour)},
		{"3d", now.Add(-72 * time.Hour)},
		{"-2d", now.Add(-48 * time.Hour)},
		{"1h30m", now.Add(-90 * time.Minute)},
		{"1d12h", now.Add(-36 * time.Hour)},
		{"-1d12h", now.Add(-36 * time.Hour)},
		{"15m ago", now.Add(-15 * time.Minute)},
		{"36500d", now.Add(-36500 * 24 * time.Hour)},
		{"0s", now},
	} {
		got, err := ParseTime(c.in, now)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("ParseTime(%q) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "  ", "yesterday", "soon", "2025-13-01", "2024-13-01T00:00:00Z", "1d-5h", "1d+5h",
		"5", "-10", "h", "d", "-", "--10m", "+10m", "-10x", "-1d-2h", "-99999999d", "36501d", "-5m ago", "5 ago", "ago", "2hago", "12:ab"} { // "10:00" is a time of day now: TestParseTimeOfDay
		_, err := ParseTime(in, now)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "time" || ve.Index != -1 || ve.Reason == "" || !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseTime(%q): %v, want a ValidationError for field time", in, err)
		}
	}
}

// FuzzParseTime: never panics; an error is a ValidationError for "time"; an
// age is never after now; any result formatted as RFC 3339 parses back to the
// same instant, and formats the same again.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"now", "2025-03-01", "2025-03-01T12:00:00Z", "2025-03-01T12:00:00.123+05:30", "2025-03-01 12:00",
		"2025-03-01T12:00", "90m", "-90m", "2h ago", "3d", "1d12h", "-2d", "yesterday", "", "9999999999d", "1d-5h", "0000-01-01T00:00:00+01:00"} {
		f.Add(s)
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s, now)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != "time" || ve.Reason == "" {
				t.Fatalf("%q: error %v is not a ValidationError for time", s, err)
			}
			return
		}
		if got.IsZero() {
			t.Fatalf("%q parsed to the zero time", s)
		}
		if _, ok := parseAge(s); ok && got.After(now) {
			t.Fatalf("%q (an age) lies after now: %s", s, got)
		}
		if _, off := got.Zone(); off%60 != 0 || got.Year() < 0 || got.Year() > 9999 {
			return // not representable in RFC 3339
		}
		out := got.Format(time.RFC3339Nano)
		back, err := ParseTime(out, now)
		if err != nil || !back.Equal(got) {
			t.Fatalf("%q -> %s does not re-parse: %s, %v", s, out, back, err)
		}
		if again := back.Format(time.RFC3339Nano); again != out {
			t.Fatalf("%q -> %s re-formats as %s", s, out, again)
		}
	})
}
