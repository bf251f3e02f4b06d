package subscriptions

import (
	"context"

	"errors"
	"github.com/jackc/pgx/v5"
	"testing"
	"time"

	"eventscope/store"
)

func TestParseResetTarget(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want ResetTarget
	}{
		{"start", ResetTarget{Kind: ResetStart}},
		{" START ", ResetTarget{Kind: ResetStart}},
		{"end", ResetTarget{Kind: ResetEnd}},
		{"7731:120455", ResetTarget{Kind: ResetCheckpoint, Checkpoint: store.Checkpoint{Tx: 7731, Pos: 120455}}},
		{"-10m", ResetTarget{Kind: ResetTime, Time: now.Add(-10 * time.Minute)}},
		{"-1h30m", ResetTarget{Kind: ResetTime, Time: now.Add(-90 * time.Minute)}},
		{"-2d", ResetTarget{Kind: ResetTime, Time: now.Add(-48 * time.Hour)}},
		{"-1d12h", ResetTarget{Kind: ResetTime, Time: now.Add(-36 * time.Hour)}},
		{"2024-05-01T12:00:00Z", ResetTarget{Kind: ResetTime, Time: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}},
		{"2024-05-01T12:00:00+02:00", ResetTarget{Kind: ResetTime, Time: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)}},
		// store.ParseTime's other forms: zone-less is local time.
		{"2024-05-01 10:00", ResetTarget{Kind: ResetTime, Time: time.Date(2024, 5, 1, 10, 0, 0, 0, time.Local)}},
		{"2024-05-01T10:00", ResetTarget{Kind: ResetTime, Time: time.Date(2024, 5, 1, 10, 0, 0, 0, time.Local)}},
		{"2h ago", ResetTarget{Kind: ResetTime, Time: now.Add(-2 * time.Hour)}},
		{"10m", ResetTarget{Kind: ResetTime, Time: now.Add(-10 * time.Minute)}},
	} {
		got, err := parseResetTarget(c.in, now)
		if err != nil || got.Kind != c.want.Kind || got.Checkpoint != c.want.Checkpoint || !got.Time.Equal(c.want.Time) {
			t.Errorf("parseResetTarget(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "yesterday", "-", "-10", "-10x", "--10m", "12:ab", "-1d-2h", "-99999999d", "2024-13-01T00:00:00Z"} {
		if _, err := parseResetTarget(in, now); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("parseResetTarget(%q): %v, want ErrInvalid", in, err)
		}
	}
}

func FuzzParseResetTarget(f *testing.F) {
	for _, s := range []string{"start", "end", "1:2", "-10m", "-2d3h", "2024-05-01T12:00:00Z", "", "-", "x:y"} {
		f.Add(s)
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseResetTarget(s, now)
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("%q: error %v is not ErrInvalid", s, err)
			}
			return
		}
		if got.Kind == ResetTime && got.Time.After(now) && s != "" && s[0] == '-' {
			t.Fatalf("%q: a relative time in the future: %v", s, got.Time)
		}
		if got.Kind == ResetCheckpoint {
			if back, err := parseResetTarget(got.String(), now); err != nil || back.Checkpoint != got.Checkpoint {
				t.Fatalf("%q: checkpoint %s does not round-trip: %v", s, got.Checkpoint, err)
			}
		}
	})
}

func TestSubscriptionValidation(t *testing.T) {
	t.Parallel()
	h := func(_ context.Context, _ store.Event) error { return nil }
	r := NewRunner(setup(t).st, RunnerOptions{})
	for name, s := range map[string]Subscription{
		"no name":      {Handler: h},
		"no handler":   {Name: "a"},
		"two handlers": {Name: "a", Handler: h, TxHandler: func(context.Context, pgx.Tx, store.Event) error { return nil }},
		"space":        {Name: "a b", Handler: h},
		"both starts":  {Name: "a", Handler: h, StartAtEnd: true, Start: store.Checkpoint{Tx: 1, Pos: 1}},
		"empty cat":    {Name: "a", Handler: h, Categories: []string{""}},
	} {
		if err := r.Add(s); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: Add = %v, want ErrInvalid", name, err)
		}
	}
	must(t, r.Add(Subscription{Name: "a", Handler: h}))
	if err := r.Add(Subscription{Name: "a", Handler: h}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("duplicate: Add = %v, want ErrInvalid", err)
	}
}

func TestRetryBackoff(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{Initial: 100 * time.Millisecond, Max: time.Second}.withDefaults()
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := p.backoff(i + 1); got != w*time.Millisecond {
			t.Errorf("backoff(%d) = %s, want %s", i+1, got, w*time.Millisecond)
		}
	}
	if p.Attempts != 5 {
		t.Errorf("default attempts = %d", p.Attempts)
	}
}
