package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

const appendSQL = `SELECT eventscope.append($1, $2, $3)`

// Append appends events to stream atomically, if the stream is at the
// expected version, and returns the stream's new version (the version of the
// last event). It is one round trip to eventscope.append, or, while other
// Appends of this Store are in flight, a share of one group commit
// (Options.NoGroupCommit): the outcome is the call's own either way. Events whose ids are
// all stored in this stream already, with the same content, are a no-op that
// returns the version of the last of them.
//
// Errors: *ValidationError (ErrInvalid), *ConflictError (ErrConflict),
// *StreamClosedError (ErrStreamClosed), *DuplicateEventError
// (ErrDuplicateEvent). A rejected call changes nothing.
func (s *Store) Append(ctx context.Context, stream string, expected ExpectedVersion, events ...NewEvent) (int64, error) {
	payload, err := s.encode(stream, expected, events)
	if err != nil {
		return 0, err
	}
	if s.gc != nil {
		return s.gc.append(ctx, stream, expected, payload)
	}
	var v int64
	if err := s.pool.QueryRow(ctx, appendSQL, stream, expected.sqlArg(), payload).Scan(&v); err != nil {
		return 0, translate(stream, expected, err)
	}
	if s.wake != nil {
		s.wake.kick(Category(stream))
	}
	return v, nil
}

// AppendTx appends within the caller's transaction; the events become visible
// (and subscribers are woken) when the caller commits. It NOTIFYs inside the
// transaction unless the Store has wake-ups off.
func (s *Store) AppendTx(ctx context.Context, tx pgx.Tx, stream string, expected ExpectedVersion, events ...NewEvent) (int64, error) {
	payload, err := s.encode(stream, expected, events)
	if err != nil {
		return 0, err
	}
	var v int64
	q := appendSQL
	if !s.opts.NoNotify && !s.opts.NotifyInTx {
		q = `SELECT eventscope.append($1, $2, $3), pg_notify('` + NotifyChannel + `', eventscope.category($1))`
	}
	var ignored any
	dest := []any{&v}
	if q != appendSQL {
		dest = append(dest, &ignored)
	}
	if err := tx.QueryRow(ctx, q, stream, expected.sqlArg(), payload).Scan(dest...); err != nil {
		return 0, translate(stream, expected, err)
	}
	return v, nil
}

// ValidateStreamID checks a stream id: non-empty, at most 200 bytes, valid
// UTF-8, no whitespace or control characters.
func ValidateStreamID(stream string) error {
	switch {
	case stream == "":
		return &ValidationError{Field: "stream_id", Index: -1, Reason: "must not be empty"}
	case len(stream) > 200:
		return &ValidationError{Field: "stream_id", Index: -1, Reason: fmt.Sprintf("is %d bytes, at most 200 allowed", len(stream))}
	case !utf8.ValidString(stream):
		return &ValidationError{Field: "stream_id", Index: -1, Reason: "is not valid UTF-8"}
	}
	for _, r := range stream {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return &ValidationError{Field: "stream_id", Index: -1, Reason: fmt.Sprintf("must not contain whitespace or control characters (found %q)", r)}
		}
	}
	return nil
}

// encode validates the call and builds the events JSON array. The server
// validates again (for plain SQL callers); checking here gives the same
// errors without a round trip.
func (s *Store) encode(stream string, expected ExpectedVersion, events []NewEvent) ([]byte, error) {
	if err := ValidateStreamID(stream); err != nil {
		return nil, err
	}
	if expected != Any && expected < StreamExists {
		return nil, &ValidationError{Field: "expected_version", Index: -1, Reason: fmt.Sprintf("%d is not any, no-stream, exists or a version >= 0", int64(expected))}
	}
	if len(events) == 0 {
		return nil, &ValidationError{Field: "events", Index: -1, Reason: "must hold at least one event"}
	}
	var buf bytes.Buffer
	buf.Grow(64 * len(events))
	buf.WriteByte('[')
	for i, e := range events {
		if err := validateEvent(i, e, s.opts.MaxEventBytes); err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		start := buf.Len()
		buf.WriteByte('{')
		if e.ID != [16]byte{} {
			buf.WriteString(`"id":"`)
			buf.WriteString(e.ID.String())
			buf.WriteString(`",`)
		}
		buf.WriteString(`"type":`)
		t, _ := json.Marshal(e.Type)
		buf.Write(t)
		buf.WriteString(`,"data":`)
		buf.Write(e.Data)
		if len(bytes.TrimSpace(e.Metadata)) > 0 {
			buf.WriteString(`,"metadata":`)
			buf.Write(e.Metadata)
		}
		buf.WriteByte('}')
		if n := buf.Len() - start; n > s.opts.MaxEventBytes {
			return nil, &ValidationError{Field: "event", Index: i, Reason: fmt.Sprintf("is %d bytes, at most %d allowed", n, s.opts.MaxEventBytes)}
		}
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}

func validateEvent(i int, e NewEvent, maxBytes int) error {
	switch {
	case e.Type == "":
		return &ValidationError{Field: "type", Index: i, Reason: "must be a non-empty string"}
	case len(e.Type) > 200:
		return &ValidationError{Field: "type", Index: i, Reason: "is longer than 200 bytes"}
	case !utf8.ValidString(e.Type):
		return &ValidationError{Field: "type", Index: i, Reason: "is not valid UTF-8"}
	}
	if len(e.Data) > maxBytes {
		return &ValidationError{Field: "event", Index: i, Reason: fmt.Sprintf("is over %d bytes", maxBytes)}
	}
	if !isJSONObject(e.Data) {
		return &ValidationError{Field: "data", Index: i, Reason: "must be a JSON object"}
	}
	if len(bytes.TrimSpace(e.Metadata)) > 0 && !isJSONObject(e.Metadata) && string(bytes.TrimSpace(e.Metadata)) != "null" {
		return &ValidationError{Field: "metadata", Index: i, Reason: "must be a JSON object"}
	}
	return nil
}

func isJSONObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) >= 2 && b[0] == '{' && json.Valid(b)
}
