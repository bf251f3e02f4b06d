package timetravel

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Target is where a typed jump goes: a version, or a time.
type Target struct {
	Version int64
	At      time.Time
	IsTime  bool
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
}

// ParseTarget parses a jump: a version ("17"), a step relative to cur
// ("+10", "-3"), a time ("2024-05-01T10:00:00Z", "2024-05-01 10:00",
// "10:00:03" today), or an age ("5m ago", "-2h" is a step, so ages need
// "ago"). A leading "@" or "v" is ignored.
func ParseTarget(s string, cur int64, now time.Time) (Target, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "@")
	if s == "" {
		return Target{}, fmt.Errorf("type a version, +N/-N, a time or an age (5m ago)")
	}
	if rest, ok := strings.CutPrefix(s, "v"); ok && rest != "" && rest[0] >= '0' && rest[0] <= '9' {
		s = rest
	}
	if s[0] == '+' || s[0] == '-' {
		n, err := strconv.ParseInt(s[1:], 10, 64)
		if err != nil || n < 0 {
			return Target{}, fmt.Errorf("%q: a step is +N or -N", s)
		}
		if s[0] == '-' {
			n = -n
		}
		v := cur + n
		if v < 0 {
			v = 0
		}
		return Target{Version: v}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return Target{}, fmt.Errorf("%q: versions start at 0", s)
		}
		return Target{Version: n}, nil
	}
	if d, ok := strings.CutSuffix(s, " ago"); ok {
		dur, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil || dur < 0 {
			return Target{}, fmt.Errorf("%q: an age is a duration like 5m or 1h30m, then \"ago\"", s)
		}
		return Target{At: now.Add(-dur), IsTime: true}, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, now.Location()); err == nil {
			return Target{At: t, IsTime: true}, nil
		}
	}
	for _, l := range []string{"15:04:05.999999999", "15:04:05", "15:04"} {
		if t, err := time.ParseInLocation(l, s, now.Location()); err == nil {
			y, mo, d := now.Date()
			return Target{At: time.Date(y, mo, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), now.Location()), IsTime: true}, nil
		}
	}
	return Target{}, fmt.Errorf("%q is not a version, +N/-N, a time (2024-05-01 10:00:03, 10:00) or an age (5m ago)", s)
}
