package timetravel

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"eventscope/store"
)

// Target is where a typed jump goes: a version, or a time.
type Target struct {
	Version int64
	At      time.Time
	IsTime  bool
}

// ParseTarget parses a jump: a version ("17", "v17"), a step relative to
// cur ("+10", "-3"), a time of day today, local ("10:00", "10:00:03"), or
// any time store.ParseTime takes: RFC 3339 (2024-05-01T10:00:00Z), a local
// date and time ("2024-05-01 10:00"), "now", or an age ("5m ago", "-2h",
// "3d"; "-3" is a step, not an age). A leading "@" is ignored.
func ParseTarget(s string, cur int64, now time.Time) (Target, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "@")
	if s == "" {
		return Target{}, fmt.Errorf("type a version, +N/-N, a time or an age (5m ago)")
	}
	if rest, ok := strings.CutPrefix(s, "v"); ok && rest != "" {
		// "v12" is a version and nothing else ("v3d" is not an age).
		n, err := strconv.ParseInt(rest, 10, 64)
		if err != nil || n < 0 {
			return Target{}, fmt.Errorf("%q: vN is a version number", s)
		}
		return Target{Version: n}, nil
	}
	if s[0] == '+' || s[0] == '-' {
		n, err := strconv.ParseInt(s[1:], 10, 64)
		switch {
		case err == nil && n >= 0:
			if s[0] == '-' {
				n = -n
			}
			return Target{Version: max(cur+n, 0)}, nil
		case s[0] == '+':
			return Target{}, fmt.Errorf("%q: a step is +N or -N", s)
		}
		// "-2h": an age, for store.ParseTime.
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return Target{}, fmt.Errorf("%q: versions start at 0", s)
		}
		return Target{Version: n}, nil
	}
	for _, l := range []string{"15:04:05", "15:04"} { // fractional seconds parse after 05
		if t, err := time.ParseInLocation(l, s, time.Local); err == nil {
			y, mo, d := now.In(time.Local).Date()
			return Target{At: time.Date(y, mo, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.Local), IsTime: true}, nil
		}
	}
	t, err := store.ParseTime(s, now)
	if err != nil {
		return Target{}, fmt.Errorf("%q is not a version, +N/-N, a time of day (10:00) or a time: %w", s, err)
	}
	return Target{At: t, IsTime: true}, nil
}
