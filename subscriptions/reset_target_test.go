package subscriptions

import (
	"errors"
	"strings"
	"testing"
	"time"

	"eventscope/store"
)

// TestParseResetTargetClockOrCheckpoint (issue 8 item 8): HH:MM is a time of
// day, TX:POS with a real transaction id a checkpoint, checkpoint: forces a
// checkpoint, and the rest of that shape is refused with a hint.
func TestParseResetTargetClockOrCheckpoint(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 14, 0, 0, 0, time.Local)
	at := func(h, m, s int) time.Time { return time.Date(2025, 3, 1, h, m, s, 0, time.Local) }
	for in, want := range map[string]ResetTarget{
		"12:30":               {Kind: ResetTime, Time: at(12, 30, 0)},
		"9:05":                {Kind: ResetTime, Time: at(9, 5, 0)},
		"00:00":               {Kind: ResetTime, Time: at(0, 0, 0)},
		"13:59:30":            {Kind: ResetTime, Time: at(13, 59, 30)},
		"24:00":               {Kind: ResetCheckpoint, Checkpoint: store.Checkpoint{Tx: 24, Pos: 0}},
		"7731:120455":         {Kind: ResetCheckpoint, Checkpoint: store.Checkpoint{Tx: 7731, Pos: 120455}},
		"99999999:0":          {Kind: ResetCheckpoint, Checkpoint: store.Checkpoint{Tx: 99999999}},
		"checkpoint:12:30":    {Kind: ResetCheckpoint, Checkpoint: store.Checkpoint{Tx: 12, Pos: 30}},
		"Checkpoint:100:1":    {Kind: ResetCheckpoint, Checkpoint: store.Checkpoint{Tx: 100, Pos: 1}},
		"2025-03-01 12:30":    {Kind: ResetTime, Time: at(12, 30, 0)},
		"checkpoint:0:0":      {Kind: ResetCheckpoint},
		" checkpoint:1:2 ":    {Kind: ResetCheckpoint, Checkpoint: store.Checkpoint{Tx: 1, Pos: 2}},
		"2025-03-01T12:30:00": {Kind: ResetTime, Time: at(12, 30, 0)},
	} {
		got, err := parseResetTarget(in, now)
		if err != nil || got.Kind != want.Kind || got.Checkpoint != want.Checkpoint || !got.Time.Equal(want.Time) {
			t.Errorf("parseResetTarget(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for in, hint := range map[string]string{
		"12:5":           "checkpoint:12:5",
		"3:100":          "checkpoint:3:100",
		"23:75":          "checkpoint:23:75",
		"15:30":          "later than now", // today's 15:30 has not come yet
		"checkpoint:12":  "TX:POS",
		"checkpoint:a:b": "TX:POS",
	} {
		_, err := parseResetTarget(in, now)
		if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), hint) {
			t.Errorf("parseResetTarget(%q) = %v; want ErrInvalid mentioning %q", in, err, hint)
		}
	}
	// Small checkpoints print in the form that reads back as themselves.
	small := ResetTarget{Kind: ResetCheckpoint, Checkpoint: store.Checkpoint{Tx: 12, Pos: 30}}
	if back, err := parseResetTarget(small.String(), now); err != nil || back.Checkpoint != small.Checkpoint || back.Kind != ResetCheckpoint {
		t.Errorf("%s reads back as %+v, %v", small, back, err)
	}
}
