package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
)

// Sentinels to branch on with errors.Is.
var (
	// ErrNotFound: the stream (or other named thing) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrStreamClosed: the stream has been closed (tombstoned) and takes no more events.
	ErrStreamClosed = errors.New("stream is closed")
	// ErrConflict: the expected version did not match. The error is a *ConflictError.
	ErrConflict = errors.New("expected version conflict")
	// ErrInvalid: bad input. The error is a *ValidationError.
	ErrInvalid = errors.New("invalid input")
	// ErrDuplicateEvent: an event id is already stored with other content.
	ErrDuplicateEvent = errors.New("duplicate event id")
)

// ConflictError is an expected-version conflict. Actual is -1 when the stream does not exist.
type ConflictError struct {
	Stream   string
	Expected ExpectedVersion
	Actual   int64
	err      error // the server's error (*pgconn.PgError), when it raised this
}

func (e *ConflictError) Error() string {
	actual := fmt.Sprint(e.Actual)
	if e.Actual < 0 {
		actual = "no-stream"
	}
	return fmt.Sprintf("append to %s: expected version %s, stream is at %s", e.Stream, e.Expected, actual)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Unwrap is the server's *pgconn.PgError, when the server raised the error.
func (e *ConflictError) Unwrap() error { return e.err }

// StreamClosedError is returned when appending to a closed stream.
type StreamClosedError struct {
	Stream string
	err    error
}

func (e *StreamClosedError) Error() string {
	return fmt.Sprintf("append to %s: stream is closed", e.Stream)
}

// Is makes errors.Is(err, ErrStreamClosed) true.
func (e *StreamClosedError) Is(target error) bool { return target == ErrStreamClosed }

// Unwrap is the server's *pgconn.PgError, when the server raised the error.
func (e *StreamClosedError) Unwrap() error { return e.err }

// ValidationError names the field that was wrong. Index is the event's index
// in the batch, or -1 when the field is not an event's.
type ValidationError struct {
	Field  string
	Index  int
	Reason string
	err    error // the server's error (*pgconn.PgError) when the SQL API refused the input
}

func (e *ValidationError) Error() string {
	if e.Index >= 0 {
		return fmt.Sprintf("invalid events[%d].%s: %s", e.Index, e.Field, e.Reason)
	}
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason)
}

// InvalidField is the ValidationError of a field that is not an event's
// (a subscription's name, a reset target, an option): the one bad-input
// error of every package.
func InvalidField(field, reason string) *ValidationError {
	return &ValidationError{Field: field, Index: -1, Reason: reason}
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Unwrap is the server's *pgconn.PgError when the SQL API refused the input
// (nil when the Go client did).
func (e *ValidationError) Unwrap() error { return e.err }

// DuplicateEventError: the event id is stored already with other content (or
// in another stream, or the batch mixes stored and new events).
type DuplicateEventError struct {
	Stream  string
	EventID uuid.UUID
	Msg     string
	err     error
}

func (e *DuplicateEventError) Error() string { return fmt.Sprintf("append to %s: %s", e.Stream, e.Msg) }

// Is makes errors.Is(err, ErrDuplicateEvent) true.
func (e *DuplicateEventError) Is(target error) bool { return target == ErrDuplicateEvent }

// Unwrap is the server's *pgconn.PgError (a unique violation or ES422).
func (e *DuplicateEventError) Unwrap() error { return e.err }

// NotFoundError names what was not found: the one not-found error of every
// package (subscriptions and the console use it too).
type NotFoundError struct{ What string }

func (e *NotFoundError) Error() string { return e.What + " not found" }

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// translate maps the SQL API's ES* SQLSTATEs to typed errors.
func translate(stream string, expected ExpectedVersion, err error) error {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return err
	}
	if pg.Code == "23505" && pg.ConstraintName == "events_event_id_idx" {
		// Two appends raced with the same event id (on different streams):
		// the loser meets the unique index rather than the idempotency check.
		return &DuplicateEventError{Stream: stream, Msg: "an event id of the batch was stored meanwhile by another append: " + pg.Detail, err: err}
	}
	switch pg.Code {
	case "42501":
		op := "append"
		if stream != "" {
			op = "append to " + stream
		}
		return AsPermission(err, op, RoleWriter)
	case "ES400":
		var d struct {
			Field  string `json:"field"`
			Index  *int   `json:"index"`
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal([]byte(pg.Detail), &d)
		ve := &ValidationError{Field: d.Field, Index: -1, Reason: d.Reason, err: err}
		if d.Index != nil {
			ve.Index = *d.Index
		}
		return ve
	case "ES409":
		var d struct {
			Actual int64 `json:"actual"`
		}
		_ = json.Unmarshal([]byte(pg.Detail), &d)
		return &ConflictError{Stream: stream, Expected: expected, Actual: d.Actual, err: err}
	case "ES410":
		return &StreamClosedError{Stream: stream, err: err}
	case "ES423":
		return &StreamBusyError{Stream: stream, err: err}
	case "ES422":
		var d struct {
			EventID string `json:"event_id"`
		}
		_ = json.Unmarshal([]byte(pg.Detail), &d)
		id, _ := uuid.Parse(d.EventID)
		return &DuplicateEventError{Stream: stream, EventID: id, Msg: pg.Message, err: err}
	}
	return err
}

func isUndefinedTable(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "42P01" || pg.Code == "3F000")
}

// ErrStreamBusy: an append waited longer than the server's
// append_lock_timeout_ms for its stream's lock (held by an open transaction
// that appended to the stream, or by any session that took the advisory
// lock). Nothing was written; retrying is safe. The error is a
// *StreamBusyError; SQL callers see SQLSTATE ES423.
var ErrStreamBusy = errors.New("stream is busy")

// StreamBusyError names the stream whose lock an append could not get in time.
type StreamBusyError struct {
	Stream string
	err    error
}

func (e *StreamBusyError) Error() string {
	return fmt.Sprintf("append to %s: the stream is busy (its append lock is held by another transaction); retry", e.Stream)
}

// Is makes errors.Is(err, ErrStreamBusy) true.
func (e *StreamBusyError) Is(target error) bool { return target == ErrStreamBusy }

// Unwrap is the server's *pgconn.PgError, when the server raised the error.
func (e *StreamBusyError) Unwrap() error { return e.err }

// The group roles of the privilege model (store/migrations/privileges.sql):
// a writer is a reader, an admin is a writer.
const (
	RoleReader = "eventscope_reader"
	RoleWriter = "eventscope_writer"
	RoleAdmin  = "eventscope_admin"
	// RoleOwner is not a role's name: it stands for the schema's owner (the
	// role that migrates), in a PermissionError's Role.
	RoleOwner = "owner"
)

// ErrPermission: the connected role may not do what was asked (SQLSTATE
// 42501, insufficient_privilege). Nothing was changed. The error is a
// *PermissionError.
var ErrPermission = errors.New("permission denied")

// PermissionError is a refusal by the server's privileges. Role is the
// group role that would allow the operation ("" when not known here; the
// CLI names it from the command).
type PermissionError struct {
	Op   string // what was being done, e.g. "append to order-1"
	Role string // RoleReader, RoleWriter, RoleAdmin, RoleOwner, or ""
	err  error  // the server's *pgconn.PgError
}

func (e *PermissionError) Error() string {
	msg := "permission denied"
	if e.Op != "" {
		msg = e.Op + ": " + msg
	}
	switch e.Role {
	case "":
	case RoleOwner:
		msg += ": it must run as the eventscope schema's owner"
	default:
		msg += ": it needs role " + e.Role
	}
	var pg *pgconn.PgError
	if errors.As(e.err, &pg) {
		msg += " (server: " + pg.Message + ")"
		if pg.Hint != "" {
			msg += "; " + pg.Hint
		}
	}
	return msg
}

// Is makes errors.Is(err, ErrPermission) true.
func (e *PermissionError) Is(target error) bool { return target == ErrPermission }

// Unwrap is the server's *pgconn.PgError.
func (e *PermissionError) Unwrap() error { return e.err }

// AsPermission returns err as a *PermissionError (with op and role) when
// the server refused it for lack of privilege (42501), else err unchanged.
// An error that is a *PermissionError already keeps its op and role.
func AsPermission(err error, op, role string) error {
	var pe *PermissionError
	if err == nil || errors.As(err, &pe) {
		return err
	}
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || pg.Code != "42501" {
		return err
	}
	if r := roleInMessage(pg.Message); r != "" {
		role = r // the subscription guard names the role it wants
	}
	return &PermissionError{Op: op, Role: role, err: pg}
}

// roleInMessage finds a group role named by a refusal (the guard's message).
func roleInMessage(msg string) string {
	for _, r := range []string{RoleAdmin, RoleWriter, RoleReader} {
		if strings.Contains(msg, "needs role "+r) {
			return r
		}
	}
	return ""
}
