package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// StreamAppend is one stream's part of an AppendMulti call.
type StreamAppend struct {
	Stream   string          `json:"stream_id"`
	Expected ExpectedVersion `json:"-"`
	Events   []NewEvent      `json:"events"`
}

// MultiError is the error of one append of an AppendMulti call: Index is
// its place in the call (0-based), Err the error append gives for it
// (*ConflictError, *ValidationError, ...; errors.Is and errors.As see
// through). Nothing of the call was stored.
type MultiError struct {
	Index int
	Err   error
}

func (e *MultiError) Error() string { return fmt.Sprintf("appends[%d]: %v", e.Index, e.Err) }

// Unwrap returns the append's own error.
func (e *MultiError) Unwrap() error { return e.Err }

const appendMultiSQL = `SELECT eventscope.append_multi($1)`

// AppendMulti appends to several streams atomically, in one round trip to
// eventscope.append_multi: either every append is stored or none is. Each
// append has its own expected version; the same stream may appear more
// than once (applied in order, so the second expects what the first leaves).
// It returns each append's new version, in input order. The events of one
// call sit together in the global log (one transaction).
//
// Errors: a *MultiError naming the append that failed and wrapping the
// error Append would give for it; *ValidationError for an empty call.
func (s *Store) AppendMulti(ctx context.Context, appends []StreamAppend) ([]int64, error) {
	payload, err := s.encodeMulti(appends)
	if err != nil {
		return nil, err
	}
	var vs []int64
	if err := s.pool.QueryRow(ctx, appendMultiSQL, payload).Scan(&vs); err != nil {
		return nil, translateMulti(appends, err)
	}
	if s.wake != nil {
		cats := make([]string, len(appends))
		for i, a := range appends {
			cats[i] = Category(a.Stream)
		}
		s.wake.kick(cats...)
	}
	return vs, nil
}

// AppendMultiTx is AppendMulti inside the caller's transaction.
func (s *Store) AppendMultiTx(ctx context.Context, tx pgx.Tx, appends []StreamAppend) ([]int64, error) {
	payload, err := s.encodeMulti(appends)
	if err != nil {
		return nil, err
	}
	var vs []int64
	if err := tx.QueryRow(ctx, appendMultiSQL, payload).Scan(&vs); err != nil {
		return nil, translateMulti(appends, err)
	}
	return vs, nil
}

func (s *Store) encodeMulti(appends []StreamAppend) ([]byte, error) {
	if len(appends) == 0 {
		return nil, &ValidationError{Field: "appends", Index: -1, Reason: "must hold at least one append"}
	}
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, a := range appends {
		evs, err := s.encode(a.Stream, a.Expected, a.Events)
		if err != nil {
			return nil, &MultiError{Index: i, Err: err}
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		appendItem(&buf, a.Stream, a.Expected, evs)
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}

// appendItem writes one {"stream_id","expected_version","events"} object;
// events is an encoded events array.
func appendItem(buf *bytes.Buffer, stream string, expected ExpectedVersion, events []byte) {
	buf.WriteString(`{"stream_id":`)
	id, _ := json.Marshal(stream)
	buf.Write(id)
	buf.WriteString(`,"expected_version":`)
	if expected == Any {
		buf.WriteString("null")
	} else {
		buf.WriteString(strconv.FormatInt(int64(expected), 10))
	}
	buf.WriteString(`,"events":`)
	buf.Write(events)
	buf.WriteByte('}')
}

// translateMulti maps append_multi's errors: the DETAIL's append_index names
// the append, whose stream and expected version the typed error carries.
func translateMulti(appends []StreamAppend, err error) error {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return err
	}
	var d struct {
		Index *int `json:"append_index"`
	}
	_ = json.Unmarshal([]byte(pg.Detail), &d)
	if d.Index == nil || *d.Index < 0 || *d.Index >= len(appends) {
		return translate("", Any, err)
	}
	a := appends[*d.Index]
	return &MultiError{Index: *d.Index, Err: translate(a.Stream, a.Expected, err)}
}

// MarshalJSON writes the object eventscope.append_multi takes (and
// `eventscope append --multi` reads): expected_version null, -1, -2 or N.
func (a StreamAppend) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	evs, err := json.Marshal(a.Events)
	if err != nil {
		return nil, err
	}
	if a.Events == nil {
		evs = []byte("[]")
	}
	appendItem(&buf, a.Stream, a.Expected, evs)
	return buf.Bytes(), nil
}

// UnmarshalJSON reads that object. expected_version may be null or absent
// (any), -1 (no stream), -2 (stream exists), a version >= 0, or one of the
// names "any", "no-stream", "exists".
func (a *StreamAppend) UnmarshalJSON(b []byte) error {
	var raw struct {
		Stream   *string         `json:"stream_id"`
		Expected json.RawMessage `json:"expected_version"`
		Events   []NewEvent      `json:"events"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return &ValidationError{Field: "append", Index: -1, Reason: err.Error()}
	}
	if raw.Stream == nil {
		return &ValidationError{Field: "stream_id", Index: -1, Reason: "is missing"}
	}
	a.Stream, a.Events, a.Expected = *raw.Stream, raw.Events, Any
	ev := bytes.TrimSpace(raw.Expected)
	switch {
	case len(ev) == 0 || string(ev) == "null":
	case ev[0] == '"':
		var name string
		if err := json.Unmarshal(ev, &name); err != nil {
			return &ValidationError{Field: "expected_version", Index: -1, Reason: err.Error()}
		}
		v, err := ParseExpectedVersion(name)
		if err != nil {
			return err
		}
		a.Expected = v
	default:
		v, err := strconv.ParseInt(string(ev), 10, 64)
		if err != nil || v < -2 {
			return &ValidationError{Field: "expected_version", Index: -1, Reason: fmt.Sprintf("%s is not null, -1, -2 or a version >= 0", ev)}
		}
		a.Expected = ExpectedVersion(v)
	}
	return nil
}
