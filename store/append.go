package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"eventscope/internal/textsafe"
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
// (ErrDuplicateEvent), *StreamBusyError (ErrStreamBusy: the stream's lock
// was held longer than the server's append_lock_timeout_ms; retry). A
// rejected call changes nothing.
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
		return 0, translateAppend(stream, expected, err)
	}
	if s.wake != nil {
		s.wake.kick(Category(stream))
	}
	return v, nil
}

// AppendTx appends within the caller's transaction; the events become
// visible when the caller commits. It sends no NOTIFY inside the
// transaction (NOTIFY would serialise commits on the notify queue's lock
// and forbid PREPARE TRANSACTION): subscribers are woken by the database's
// commit watcher (CommitWatch), which notices the commit by itself. The
// Store also kicks its post-statement wake-up, so the watcher checks at its
// fastest pace while the caller's transaction is likely to commit.
func (s *Store) AppendTx(ctx context.Context, tx pgx.Tx, stream string, expected ExpectedVersion, events ...NewEvent) (int64, error) {
	payload, err := s.encode(stream, expected, events)
	if err != nil {
		return 0, err
	}
	var v int64
	if err := tx.QueryRow(ctx, appendSQL, stream, expected.sqlArg(), payload).Scan(&v); err != nil {
		return 0, translateAppend(stream, expected, err)
	}
	if s.wake != nil {
		s.wake.kick(Category(stream))
	}
	return v, nil
}

// MaxJSONDepth is how deep an event's data and metadata may nest: {"a":1}
// is 1 level, {"a":{"b":[]}} is 3. The SQL API refuses deeper values too
// (eventscope.max_json_depth()), so every reader can decode what is stored
// (Go's encoding/json stops at 10,000 levels, other decoders sooner).
const MaxJSONDepth = 100

// MaxNameBytes bounds stream ids and event types.
const MaxNameBytes = 200

// ValidateStreamID checks a stream id the way eventscope.append does:
// non-empty, at most 200 bytes, valid UTF-8, and no whitespace, control or
// format character (category Cf: bidi controls such as U+202E, zero-width
// characters).
func ValidateStreamID(stream string) error {
	switch {
	case stream == "":
		return &ValidationError{Field: "stream_id", Index: -1, Reason: "must not be empty"}
	case len(stream) > MaxNameBytes:
		return &ValidationError{Field: "stream_id", Index: -1, Reason: fmt.Sprintf("is %d bytes, at most %d allowed", len(stream), MaxNameBytes)}
	case !utf8.ValidString(stream):
		return &ValidationError{Field: "stream_id", Index: -1, Reason: "is not valid UTF-8"}
	}
	for _, r := range stream {
		if StreamIDRefused(r) {
			return &ValidationError{Field: "stream_id", Index: -1, Reason: fmt.Sprintf("must not contain whitespace, control or format characters (found %s)", runeName(r))}
		}
	}
	return nil
}

// StreamIDRefused reports whether r may not appear in a stream id:
// whitespace, NBSP, and everything TypeRefused refuses.
func StreamIDRefused(r rune) bool {
	return unicode.IsSpace(r) || r == '\u00a0' || TypeRefused(r)
}

// TypeRefused reports whether r may not appear in an event type: the runes
// internal/textsafe will not print raw (C0 and C1 controls, DEL, U+2028,
// U+2029, Unicode format characters). NUL is among them.
func TypeRefused(r rune) bool { return r == 0 || textsafe.Unsafe(r) }

func runeName(r rune) string { return fmt.Sprintf("U+%04X", r) }

// encode validates the call and builds the events JSON array. The server
// validates again (for plain SQL callers) with the same rules; checking here
// gives the same errors without a round trip, and catches what PostgreSQL
// would refuse as a raw error before the append runs (NUL, invalid UTF-8).
// Group commit and multi-stream appends build on it.
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
		if err := ValidateEvent(i, e, s.opts.MaxEventBytes); err != nil {
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
		if e.Personal != nil {
			pj, err := json.Marshal(e.Personal)
			if err != nil {
				return nil, &ValidationError{Field: "personal", Index: i, Reason: err.Error()}
			}
			buf.WriteString(`,"personal":`)
			buf.Write(pj)
		}
		buf.WriteByte('}')
		if n := buf.Len() - start; n > s.opts.MaxEventBytes {
			return nil, &ValidationError{Field: "event", Index: i, Reason: fmt.Sprintf("is %d bytes, at most %d allowed", n, s.opts.MaxEventBytes)}
		}
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}

// ValidateEvent checks event i of a batch with the rules of
// eventscope.append: a type of 1 to 200 bytes of valid UTF-8 without
// refused characters (TypeRefused), data a JSON object and metadata a JSON
// object, null or empty, each at most MaxJSONDepth levels deep, holding
// nothing PostgreSQL's jsonb refuses (a \u0000 escape, invalid UTF-8, an
// unpaired surrogate escape, a number out of numeric's range), and data no
// larger than maxBytes; metadata without the reserved key "$personal", and
// a Personal marking whose fields are in data.
func ValidateEvent(i int, e NewEvent, maxBytes int) error {
	switch {
	case e.Type == "":
		return &ValidationError{Field: "type", Index: i, Reason: "must be a non-empty string"}
	case len(e.Type) > MaxNameBytes:
		return &ValidationError{Field: "type", Index: i, Reason: fmt.Sprintf("is longer than %d bytes", MaxNameBytes)}
	case !utf8.ValidString(e.Type):
		return &ValidationError{Field: "type", Index: i, Reason: "is not valid UTF-8"}
	}
	for _, r := range e.Type {
		if TypeRefused(r) {
			return &ValidationError{Field: "type", Index: i, Reason: fmt.Sprintf("must not contain control or format characters (found %s)", runeName(r))}
		}
	}
	if maxBytes > 0 && len(e.Data) > maxBytes {
		return &ValidationError{Field: "event", Index: i, Reason: fmt.Sprintf("is over %d bytes", maxBytes)}
	}
	if err := checkJSONValue(i, "data", e.Data, false); err != nil {
		return err
	}
	if len(bytes.TrimSpace(e.Metadata)) > 0 {
		if err := checkJSONValue(i, "metadata", e.Metadata, true); err != nil {
			return err
		}
		if bytes.Contains(e.Metadata, []byte(`"`+personalKey+`"`)) {
			var m map[string]json.RawMessage
			if json.Unmarshal(e.Metadata, &m) == nil {
				if _, ok := m[personalKey]; ok {
					return &ValidationError{Field: "metadata", Index: i, Reason: `"$personal" is reserved (readers add it); mark personal fields with "personal": {"subject": ..., "fields": [...]}`}
				}
			}
		}
	}
	if e.Personal != nil {
		return validatePersonal(i, e.Personal, e.Data)
	}
	return nil
}

// checkJSONValue: b is a JSON object (or null, when nullOK) that jsonb
// stores and every reader decodes.
func checkJSONValue(i int, field string, b []byte, nullOK bool) error {
	b = bytes.TrimSpace(b)
	if nullOK && string(b) == "null" {
		return nil
	}
	if len(b) < 2 || b[0] != '{' {
		return &ValidationError{Field: field, Index: i, Reason: "must be a JSON object"}
	}
	if reason := scanJSON(b); reason != "" {
		return &ValidationError{Field: field, Index: i, Reason: reason}
	}
	if !json.Valid(b) {
		return &ValidationError{Field: field, Index: i, Reason: "must be a JSON object"}
	}
	return nil
}

// scanJSON walks JSON text once for what json.Valid lets through but jsonb
// or the readers refuse: nesting deeper than MaxJSONDepth, a \u0000 escape,
// invalid UTF-8, an unpaired UTF-16 surrogate escape, and a number whose
// exponent PostgreSQL's numeric refuses (beyond ±1000). It does not check
// the syntax (json.Valid does). "" when none is found.
func scanJSON(b []byte) string {
	if !utf8.Valid(b) {
		return "is not valid UTF-8"
	}
	depth := 0
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '{' || c == '[':
			depth++
			if depth > MaxJSONDepth {
				return fmt.Sprintf("nests deeper than %d levels", MaxJSONDepth)
			}
		case c == '}' || c == ']':
			depth--
		case c == '"':
			end, reason := scanString(b, i+1)
			if reason != "" {
				return reason
			}
			i = end
		case c == '-' || (c >= '0' && c <= '9'):
			end, reason := scanNumber(b, i)
			if reason != "" {
				return reason
			}
			i = end - 1
		}
	}
	return ""
}

// scanString scans a string body from i (after the opening quote) and
// returns the index of the closing quote.
func scanString(b []byte, i int) (int, string) {
	pendingHigh := false
	for ; i < len(b); i++ {
		c := b[i]
		if c == '"' {
			if pendingHigh {
				return i, "holds an unpaired UTF-16 surrogate escape"
			}
			return i, ""
		}
		if c != '\\' {
			if pendingHigh {
				return i, "holds an unpaired UTF-16 surrogate escape"
			}
			continue
		}
		i++
		if i >= len(b) {
			return i, ""
		}
		if b[i] != 'u' {
			if pendingHigh {
				return i, "holds an unpaired UTF-16 surrogate escape"
			}
			continue
		}
		if i+4 >= len(b) {
			return i, ""
		}
		var r rune
		for _, h := range b[i+1 : i+5] {
			r <<= 4
			switch {
			case h >= '0' && h <= '9':
				r |= rune(h - '0')
			case h >= 'a' && h <= 'f':
				r |= rune(h-'a') + 10
			case h >= 'A' && h <= 'F':
				r |= rune(h-'A') + 10
			default:
				return i, "" // bad syntax: json.Valid reports it
			}
		}
		i += 4
		switch {
		case r == 0:
			return i, `must not contain \u0000 (NUL): PostgreSQL cannot store it`
		case r >= 0xD800 && r < 0xDC00:
			if pendingHigh {
				return i, "holds an unpaired UTF-16 surrogate escape"
			}
			pendingHigh = true
		case r >= 0xDC00 && r < 0xE000:
			if !pendingHigh {
				return i, "holds an unpaired UTF-16 surrogate escape"
			}
			pendingHigh = false
		default:
			if pendingHigh {
				return i, "holds an unpaired UTF-16 surrogate escape"
			}
		}
	}
	return i, ""
}

// scanNumber scans a number from i and returns the index after it.
func scanNumber(b []byte, i int) (int, string) {
	for i < len(b) && b[i] != 'e' && b[i] != 'E' && (b[i] == '-' || b[i] == '+' || b[i] == '.' || (b[i] >= '0' && b[i] <= '9')) {
		i++
	}
	if i >= len(b) || (b[i] != 'e' && b[i] != 'E') {
		return i, ""
	}
	i++
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	exp := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if exp <= 1000 {
			exp = exp*10 + int(b[i]-'0')
		}
	}
	if exp > 1000 {
		return i, "holds a number with an exponent beyond ±1000, which PostgreSQL cannot store"
	}
	return i, ""
}

// translateAppend maps the append's errors to typed ones. Beyond translate's
// ES* codes: a data exception (class 22) can only come from the arguments,
// i.e. the events JSON the server could not take as jsonb; it is bad input.
func translateAppend(stream string, expected ExpectedVersion, err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && len(pg.Code) == 5 && pg.Code[:2] == "22" {
		return &ValidationError{Field: "events", Index: -1, Reason: "PostgreSQL refused the events JSON: " + pg.Message}
	}
	return translate(stream, expected, err)
}
