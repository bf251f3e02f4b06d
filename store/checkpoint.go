package store

import (
	"fmt"
	"strconv"
	"strings"
)

// Checkpoint is a place in the global log: the id of the transaction that
// wrote an event and the event's position. Checkpoints are totally ordered
// (by Tx, then Pos); reading "after" a checkpoint never skips an event that
// commits late. The zero Checkpoint is the start of the log.
//
// Its text form, "TX:POS" (e.g. "7731:120455"), is what the CLI prints and
// accepts; treat it as opaque.
type Checkpoint struct {
	Tx  uint64
	Pos int64
}

// Start is the checkpoint before the first event.
var Start = Checkpoint{}

// String is the checkpoint's text form.
func (c Checkpoint) String() string {
	return strconv.FormatUint(c.Tx, 10) + ":" + strconv.FormatInt(c.Pos, 10)
}

// IsZero reports whether c is the start of the log.
func (c Checkpoint) IsZero() bool { return c == Checkpoint{} }

// Compare returns -1, 0 or +1 as c is before, equal to or after d.
func (c Checkpoint) Compare(d Checkpoint) int {
	switch {
	case c.Tx < d.Tx:
		return -1
	case c.Tx > d.Tx:
		return 1
	case c.Pos < d.Pos:
		return -1
	case c.Pos > d.Pos:
		return 1
	}
	return 0
}

// Less reports whether c is before d.
func (c Checkpoint) Less(d Checkpoint) bool { return c.Compare(d) < 0 }

// ParseCheckpoint parses the text form "TX:POS".
func ParseCheckpoint(s string) (Checkpoint, error) {
	tx, pos, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return Checkpoint{}, &ValidationError{Field: "checkpoint", Index: -1, Reason: fmt.Sprintf("%q is not of the form TX:POS (e.g. 7731:120455)", s)}
	}
	t, err1 := strconv.ParseUint(tx, 10, 64)
	p, err2 := strconv.ParseInt(pos, 10, 64)
	if err1 != nil || err2 != nil || p < 0 {
		return Checkpoint{}, &ValidationError{Field: "checkpoint", Index: -1, Reason: fmt.Sprintf("%q is not of the form TX:POS with non-negative integers", s)}
	}
	return Checkpoint{Tx: t, Pos: p}, nil
}

// MarshalText implements encoding.TextMarshaler (JSON writes the text form).
func (c Checkpoint) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Checkpoint) UnmarshalText(b []byte) error {
	v, err := ParseCheckpoint(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}
