package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestParseTimeOfDay: a time of day is today's, in local time; one later
// than now is refused with a hint naming the date.
func TestParseTimeOfDay(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 14, 0, 0, 0, time.Local)
	for in, want := range map[string]time.Time{
		"12:30":        time.Date(2025, 3, 1, 12, 30, 0, 0, time.Local),
		"9:05":         time.Date(2025, 3, 1, 9, 5, 0, 0, time.Local),
		"14:00":        now,
		"13:59:59.25":  time.Date(2025, 3, 1, 13, 59, 59, 250_000_000, time.Local),
		"  00:00:00  ": time.Date(2025, 3, 1, 0, 0, 0, 0, time.Local),
	} {
		got, err := ParseTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"14:01", "23:59", "24:00", "12:60", "12:5", "123:00", "12:30:61", "1:2:3"} {
		_, err := ParseTime(in, now)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseTime(%q) = %v, want ErrInvalid", in, err)
		}
	}
	if _, err := ParseTime("15:00", now); err == nil || !strings.Contains(err.Error(), "2025-02-28 15:00") {
		t.Errorf("ParseTime(15:00) at 14:00 = %v; want a hint with yesterday's date", err)
	}
}
