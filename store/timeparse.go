package store

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// maxAgeDays caps the day count of an age ("36500d" is about a century).
const maxAgeDays = 36_500

// zonelessLayouts are read in local time: the CLI and the console print
// local times, so what a user types back means the same clock.
var zonelessLayouts = []string{
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
}

// ParseTime parses a user-typed time, the one rule the CLI, the console and
// the subscriptions admin share:
//
//   - RFC 3339, with or without fractional seconds (2025-03-01T12:00:00Z,
//     2025-03-01T12:00:00.5+02:00);
//   - a date or a date and time without a zone, read in local time
//     (2025-03-01, "2025-03-01 12:00", "2025-03-01 12:00:05",
//     2025-03-01T12:00[:05]; fractional seconds are accepted after the seconds);
//   - a time of day, today in local time (12:30, 9:05, 12:30:15); one later
//     than now is refused (was it today or yesterday?) with a hint;
//   - "now";
//   - an age, meaning now minus it: a Go duration or a day count with an
//     optional duration after it, with a leading "-" or a trailing " ago"
//     (90m, -90m, "2h ago", 3d, 1h30m, -2d, 1d12h); at most 36,500 days.
//
// Errors are *ValidationError{Field: "time"} (errors.Is ErrInvalid).
func ParseTime(s string, now time.Time) (time.Time, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return time.Time{}, timeError(s, "is empty")
	}
	if strings.EqualFold(t, "now") {
		return now, nil
	}
	if v, err := time.Parse(time.RFC3339Nano, t); err == nil {
		return v, nil
	}
	for _, layout := range zonelessLayouts {
		if v, err := time.ParseInLocation(layout, t, time.Local); err == nil {
			return v, nil
		}
	}
	if m := clockForm.FindStringSubmatch(t); m != nil {
		return clockToday(s, m, now)
	}
	if d, ok := parseAge(t); ok {
		return now.Add(-d), nil
	}
	return time.Time{}, timeError(s, "is not a time")
}

// clockForm is a time of day: H:MM or HH:MM, optionally :SS and a fraction.
var clockForm = regexp.MustCompile(`^([01]?[0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9])(\.[0-9]{1,9})?)?$`)

// clockToday is the clock time m (clockForm's match) today, in local time.
// A time later than now is refused: today's or yesterday's is a guess.
func clockToday(s string, m []string, now time.Time) (time.Time, error) {
	h, _ := strconv.Atoi(m[1])
	mi, _ := strconv.Atoi(m[2])
	sec, ns := 0, 0
	if m[3] != "" {
		sec, _ = strconv.Atoi(m[3])
	}
	if m[4] != "" {
		frac := (m[4][1:] + "000000000")[:9]
		ns, _ = strconv.Atoi(frac)
	}
	local := now.In(time.Local)
	v := time.Date(local.Year(), local.Month(), local.Day(), h, mi, sec, ns, time.Local)
	if v.After(now) {
		return time.Time{}, &ValidationError{Field: "time", Index: -1, Reason: fmt.Sprintf(
			"%q (a time of day, today) is later than now (%s): give the date, e.g. %q",
			s, local.Format("15:04"), local.AddDate(0, 0, -1).Format("2006-01-02")+" "+strings.TrimSpace(s))}
	}
	return v, nil
}

func timeError(s, what string) error {
	return &ValidationError{Field: "time", Index: -1, Reason: fmt.Sprintf(
		`%q %s: use RFC 3339 (2025-03-01T12:00:00Z), a date (2025-03-01), a local date and time (2025-03-01 12:00[:05]), a time of day today (12:30), "now", or an age (90m, -90m, "2h ago", 3d, 1h30m)`, s, what)}
}

// parseAge parses "90m", "-90m", "2h ago", "3d", "1d12h": a non-negative
// age, with either a leading "-" or a trailing "ago", not both.
func parseAge(t string) (time.Duration, bool) {
	body := t
	if len(body) > 3 && strings.EqualFold(body[len(body)-3:], "ago") {
		rest := body[:len(body)-3]
		trimmed := strings.TrimRight(rest, " \t")
		if len(trimmed) == len(rest) { // "2hago": "ago" must be a word
			return 0, false
		}
		body = trimmed
	} else if strings.HasPrefix(body, "-") {
		body = body[1:]
	}
	if body == "" || body[0] == '-' || body[0] == '+' {
		return 0, false
	}
	var days int64
	if i := strings.IndexByte(body, 'd'); i >= 0 {
		n, err := strconv.ParseUint(body[:i], 10, 32)
		if err != nil || n > maxAgeDays {
			return 0, false
		}
		days, body = int64(n), body[i+1:]
		if body != "" && (body[0] == '-' || body[0] == '+') {
			return 0, false
		}
	}
	var d time.Duration
	if body != "" {
		var err error
		if d, err = time.ParseDuration(body); err != nil || d < 0 {
			return 0, false
		}
	}
	total := time.Duration(days)*24*time.Hour + d
	if total < d {
		return 0, false // overflow
	}
	return total, true
}
