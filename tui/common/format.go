package common

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"eventscope/internal/textsafe"
)

// Count formats n with thousands separators: 1,000,000.
func Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Age formats a duration compactly: 850ms, 12s, 4m10s, 3h05m, 2d4h.
func Age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

// Ago formats the age of t relative to now ("-" for the zero time).
func Ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return Age(now.Sub(t)) + " ago"
}

// RefreshEvery is how often a live view reloads its data by itself (a
// keypress is never needed to see the present).
const RefreshEvery = 2 * time.Second

// Updated says how old a view's data is, the same way in every view:
// "updated 3s ago" ("updated just now" under a second, "loading…" before
// the first answer).
func Updated(now, at time.Time) string {
	if at.IsZero() {
		return "loading…"
	}
	return "updated " + Since(now, at)
}

// Since is how long ago t was, at a glance: "just now" under a second,
// else "3s ago", "4m10s ago".
func Since(now, t time.Time) string {
	if now.Sub(t) < time.Second {
		return "just now"
	}
	return Ago(now, t)
}

// Bytes formats a size: 512 B, 1.2 KB, 3.4 MB.
func Bytes(n int) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.1f KB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1024*1024))
}

// Rate formats events per second.
func Rate(r float64) string {
	switch {
	case math.IsNaN(r) || r <= 0:
		return "0/s"
	case r < 10:
		return fmt.Sprintf("%.1f/s", r)
	}
	return Count(int64(math.Round(r))) + "/s"
}

// Timestamp formats a time for tables (local time, milliseconds).
func Timestamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05.000")
}

// Preview is a one-line compact rendering of JSON, cut to n cells.
func Preview(raw []byte, n int) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		b.Reset()
		b.Write(raw)
	}
	s := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, b.String())
	return Truncate(textsafe.Line(s), n)
}

// Truncate cuts s to n cells with an ellipsis.
func Truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= n {
		return s
	}
	return ansi.Truncate(s, n, "…")
}

// TruncateMiddle cuts s to n cells in its middle ("customer-00…0042"),
// keeping the distinguishing end of a long id.
func TruncateMiddle(s string, n int) string {
	w := ansi.StringWidth(s)
	if w <= n {
		return s
	}
	if n < 5 {
		return Truncate(s, n)
	}
	head := ansi.Truncate(s, (n-1)/2, "")
	tail := ansi.TruncateLeft(s, w-(n-1-ansi.StringWidth(head)), "")
	return head + "…" + tail
}

// PadRight pads s with spaces to n cells (cutting it when longer).
func PadRight(s string, n int) string {
	w := ansi.StringWidth(s)
	if w > n {
		return ansi.Truncate(s, n, "…")
	}
	return s + strings.Repeat(" ", n-w)
}

// PadLeft right-aligns s in n cells.
func PadLeft(s string, n int) string {
	w := ansi.StringWidth(s)
	if w > n {
		return ansi.Truncate(s, n, "…")
	}
	return strings.Repeat(" ", n-w) + s
}

// FitLines cuts or pads text to exactly h lines, each cut to w cells
// (ending in "…" where cut).
func FitLines(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		if ansi.StringWidth(l) > w {
			tail := "…"
			if ansi.StringWidth(strings.TrimRight(ansi.Strip(l), " ")) <= w {
				tail = "" // only padding is cut
			}
			lines[i] = ansi.Truncate(l, w, tail)
		}
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// StripANSI removes escape sequences (to restyle already styled text).
func StripANSI(s string) string { return ansi.Strip(s) }

// PadLines pads every line of s to w cells (cutting longer ones).
func PadLines(s string, w int) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = PadRight(l, w)
	}
	return strings.Join(lines, "\n")
}
