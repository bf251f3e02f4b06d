package common

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestRedactURL(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"postgres://app:s3cret@db.example:5432/shop?sslmode=disable", "postgres://app:xxxxx@db.example:5432/shop?sslmode=disable"},
		{"postgres://app@db/shop", "postgres://app@db/shop"},
		{"postgres://db/shop?password=s3cret&sslmode=require", "postgres://db/shop?password=xxxxx&sslmode=require"},
		{"postgresql://u:p%40ss@h/d", "postgresql://u:xxxxx@h/d"},
		{"host=db user=app password=s3cret dbname=shop", "host=db user=app password=xxxxx dbname=shop"},
		{"host=db password='it\\'s secret' dbname=shop", "host=db password=xxxxx dbname=shop"},
		{"host=db PASSWORD = s3cret", "host=db PASSWORD = xxxxx"},
		{"", ""},
	}
	for _, c := range cases {
		if got := RedactURL(c.in); got != c.want {
			t.Errorf("RedactURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzRedactURL: whatever the password, it never survives redaction, in
// the URL form (raw or percent-encoded) or the key=value form.
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{"s3cret", "p@ss:word", "with space", "%41", "x'y", "ünï"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pw string) {
		if len(pw) < 4 || strings.ContainsAny(pw, "\x00") {
			return
		}
		u := (&url.URL{Scheme: "postgres", User: url.UserPassword("app", pw), Host: "db:5432", Path: "/shop"}).String()
		got := RedactURL(u)
		enc := url.UserPassword("", pw).String()[1:]
		if strings.Contains(got, pw) && !strings.Contains("postgres://app:xxxxx@db:5432/shop", pw) {
			t.Fatalf("password %q survives in %q", pw, got)
		}
		if strings.Contains(got, enc) && !strings.Contains("postgres://app:xxxxx@db:5432/shop", enc) {
			t.Fatalf("encoded password %q survives in %q", enc, got)
		}
		if strings.ContainsAny(pw, " \t\n'\\") {
			return // not expressible bare in a key=value DSN
		}
		dsn := "host=db password=" + pw + " dbname=shop"
		if got := RedactURL(dsn); strings.Contains(got, "password="+pw) {
			t.Fatalf("password %q survives in %q", pw, got)
		}
	})
}

func TestFormat(t *testing.T) {
	t.Parallel()
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1000: "-1,000"} {
		if got := Count(in); got != want {
			t.Errorf("Count(%d) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[time.Duration]string{
		850 * time.Millisecond: "850ms", 12 * time.Second: "12s", 250 * time.Second: "4m10s",
		3*time.Hour + 5*time.Minute: "3h05m", 52 * time.Hour: "2d4h", -time.Second: "0ms",
	} {
		if got := Age(in); got != want {
			t.Errorf("Age(%s) = %q, want %q", in, got, want)
		}
	}
	if got := Rate(2013.4); got != "2,013/s" {
		t.Errorf("Rate = %q", got)
	}
	if got := Preview([]byte("{\n  \"a\": 1,\n  \"b\": \"x\"\n}"), 100); got != `{"a":1,"b":"x"}` {
		t.Errorf("Preview = %q", got)
	}
	if got := Preview([]byte(`{"a":"0123456789"}`), 10); got != `{"a":"012…` {
		t.Errorf("Preview cut = %q", got)
	}
	if got := FitLines("a\nbbbb\nc", 2, 2); got != "a\nb…" {
		t.Errorf("FitLines = %q, want the cut line to end in …", got)
	}
	if got := FitLines("a    ", 2, 1); got != "a " {
		t.Errorf("FitLines of padding = %q, want no … (only spaces were cut)", got)
	}
	if got := TruncateMiddle("customer-000000000042", 12); got != "custo…000042" {
		t.Errorf("TruncateMiddle = %q", got)
	}
}

func TestSparkline(t *testing.T) {
	t.Parallel()
	if got := Sparkline([]float64{0, 1, 2, 4, 8}, 10); got != "▁▂▂▄█" {
		t.Errorf("Sparkline = %q", got)
	}
	if got := Sparkline([]float64{1, 2, 3}, 2); got != "▅█" {
		t.Errorf("Sparkline keeps the newest = %q", got)
	}
	r := NewRing(3)
	for i := 1; i <= 5; i++ {
		r.Add(float64(i))
	}
	if got := fmt.Sprint(r.Values()); got != "[3 4 5]" || r.Last() != 5 {
		t.Errorf("Ring = %s last %v", got, r.Last())
	}
}

func TestIsConnError(t *testing.T) {
	t.Parallel()
	yes := []error{
		io.ErrUnexpectedEOF,
		fmt.Errorf("read: %w", syscall.ECONNREFUSED),
		&pgconn.PgError{Code: "57P01"},
		&pgconn.PgError{Code: "08006"},
		errors.New("failed to connect to `host=x`: dial error"),
	}
	for _, e := range yes {
		if !IsConnError(e) {
			t.Errorf("IsConnError(%v) = false", e)
		}
	}
	no := []error{nil, errors.New("syntax error"), &pgconn.PgError{Code: "42601"}}
	for _, e := range no {
		if IsConnError(e) {
			t.Errorf("IsConnError(%v) = true", e)
		}
	}
}

func TestOSC52(t *testing.T) {
	t.Parallel()
	if got := OSC52("order-42"); got != "\x1b]52;c;b3JkZXItNDI=\a" {
		t.Errorf("OSC52 = %q", got)
	}
}

func TestColorJSONLineASCII(t *testing.T) {
	t.Parallel()
	// With styles that render nothing, colouring is the identity.
	lines := PrettyJSON([]byte(`{"a":[1,true,null,"x\"y"],"b":{}}`), plainStyles())
	want := "{\n  \"a\": [\n    1,\n    true,\n    null,\n    \"x\\\"y\"\n  ],\n  \"b\": {}\n}"
	if got := strings.Join(lines, "\n"); got != want {
		t.Errorf("PrettyJSON =\n%s\nwant\n%s", got, want)
	}
}
