package subscriptions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// Admin operates subscriptions: from the CLI, the console or code. Every
// operation writes the subscription's row (bumping its control version)
// and notifies the holder on ControlChannel; a running holder acts on it
// within a second (Status.ControlPending turns false when it has).
type Admin struct {
	st *store.Store
	db lockBound
}

// AdminOptions configure an Admin. The zero value is usable.
type AdminOptions struct {
	// LockTimeout bounds every lock wait of an operation (a subscription's
	// row locked by a hung transaction, say): past it the operation fails
	// with a *LockTimeoutError (errors.Is ErrLockTimeout), having changed
	// nothing. Default 5s.
	LockTimeout time.Duration
}

// NewAdmin returns an Admin over st with the default options.
func NewAdmin(st *store.Store) *Admin { return NewAdminWith(st, AdminOptions{}) }

// NewAdminWith returns an Admin over st.
func NewAdminWith(st *store.Store, o AdminOptions) *Admin {
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	return &Admin{st: st, db: lockBound{pool: st.Pool(), timeout: o.LockTimeout}}
}

// List returns the status of every subscription, by name.
func (a *Admin) List(ctx context.Context) ([]Status, error) {
	return queryStatus(ctx, a.db, a.st, nil)
}

// Get returns one subscription's status.
func (a *Admin) Get(ctx context.Context, name string) (Status, error) {
	l, err := queryStatus(ctx, a.db, a.st, &name)
	if err != nil {
		return Status{}, err
	}
	if len(l) == 0 {
		return Status{}, notFoundSub(name)
	}
	return l[0], nil
}

func notFoundSub(name string) error {
	return &store.NotFoundError{What: fmt.Sprintf("subscription %q", name)}
}

// control runs fn on the subscription's locked row, then bumps its control
// version and notifies the holder, in one transaction.
func (a *Admin) control(ctx context.Context, name string, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, a.db, func(tx pgx.Tx) error {
		var found bool
		if err := tx.QueryRow(ctx, lockRowSQL, name).Scan(&found); err != nil {
			return err
		}
		if !found {
			return notFoundSub(name)
		}
		if fn != nil {
			if err := fn(tx); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, bumpControlSQL, name)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, notifySQL, ControlChannel, name)
		return err
	})
}

// Pause stops delivery to the subscription until Resume. Events in a batch
// the holder is handling when it learns of the pause may still be
// delivered; after the holder acknowledged it (ControlPending false),
// nothing is.
func (a *Admin) Pause(ctx context.Context, name string) error {
	return a.wrap("pause", name, a.control(ctx, name, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, pauseSQL, name)
		return err
	}))
}

// Resume resumes a paused subscription, and one stopped at a failing event
// (StopOnFailure), which retries that event.
func (a *Admin) Resume(ctx context.Context, name string) error {
	return a.wrap("resume", name, a.control(ctx, name, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, resumeSQL, name)
		return err
	}))
}

// Delete removes the subscription and its parked events. Runners that have
// it registered stop it (until they are restarted, when it is created anew
// from its Start).
func (a *Admin) Delete(ctx context.Context, name string) error {
	err := pgx.BeginFunc(ctx, a.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, deleteSQL, name)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFoundSub(name)
		}
		if _, err := tx.Exec(ctx, deleteMembersSQL, name); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, notifySQL, ControlChannel, name)
		return err
	})
	return a.wrap("delete", name, err)
}

func (a *Admin) wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var nf *store.NotFoundError
	if errors.As(err, &nf) {
		return err
	}
	// A refusal by the privileges (the role is not an eventscope_admin)
	// is a *store.PermissionError naming the role.
	return store.AsPermission(fmt.Errorf("%s subscription %s: %w", op, name, lockErr(err, a.db.timeout)),
		op+" subscription "+name, store.RoleAdmin)
}

// ResetKind is where a reset moves a subscription.
type ResetKind int

const (
	// ResetStart: the beginning of the log (everything is delivered again).
	ResetStart ResetKind = iota
	// ResetEnd: the head of the log (nothing before now is delivered).
	ResetEnd
	// ResetCheckpoint: a checkpoint (events after it are delivered).
	ResetCheckpoint
	// ResetTime: just before the first event recorded at or after a time.
	ResetTime
)

func (k ResetKind) String() string {
	switch k {
	case ResetStart:
		return "start"
	case ResetEnd:
		return "end"
	case ResetCheckpoint:
		return "checkpoint"
	case ResetTime:
		return "time"
	}
	return fmt.Sprintf("ResetKind(%d)", int(k))
}

// ResetTarget is where Reset moves a subscription.
type ResetTarget struct {
	Kind       ResetKind
	Checkpoint store.Checkpoint // for ResetCheckpoint
	Time       time.Time        // for ResetTime
}

// String is the target as ParseResetTarget reads it back.
func (t ResetTarget) String() string {
	switch t.Kind {
	case ResetStart:
		return "start"
	case ResetEnd:
		return "end"
	case ResetCheckpoint:
		if t.Checkpoint.Tx < minCheckpointTx {
			return "checkpoint:" + t.Checkpoint.String() // would read as a time of day
		}
		return t.Checkpoint.String()
	default:
		return t.Time.Format(time.RFC3339Nano)
	}
}

// Describe names the target for people: start, end, "checkpoint TX:POS"
// or "time T".
func (t ResetTarget) Describe() string {
	switch t.Kind {
	case ResetCheckpoint:
		return t.Kind.String() + " " + t.Checkpoint.String()
	case ResetTime:
		return t.Kind.String() + " " + t.String()
	}
	return t.String()
}

// minCheckpointTx: transaction ids below it never occur in a log written by
// a server (initdb alone uses hundreds), so TX:POS with a smaller first
// part is read as a time of day, or refused as ambiguous.
const minCheckpointTx = 24

// checkpointForm is the shape shared by TX:POS and a clock time HH:MM.
var checkpointForm = regexp.MustCompile(`^([0-9]+):([0-9]+)$`)

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// ParseResetTarget parses start, end, a checkpoint TX:POS (or
// checkpoint:TX:POS), or any time store.ParseTime takes: RFC 3339
// (2024-05-01T12:00:00Z), a local date and time ("2024-05-01 10:00"), a
// time of day today (12:30), "now", or an age (-10m, -1h30m, -2d, "2h
// ago"). TX:POS with TX below 24 that is not a time of day is ambiguous and
// refused with a hint. The CLI and the console share this one rule.
func ParseResetTarget(s string) (ResetTarget, error) {
	return parseResetTarget(s, time.Now())
}

func parseResetTarget(s string, now time.Time) (ResetTarget, error) {
	v := strings.TrimSpace(s)
	switch strings.ToLower(v) {
	case "start", "beginning":
		return ResetTarget{Kind: ResetStart}, nil
	case "end", "head":
		return ResetTarget{Kind: ResetEnd}, nil
	case "":
		return ResetTarget{}, store.InvalidField("reset target", "is empty; want start, end, a checkpoint TX:POS, a time or an age like -10m")
	}
	// TX:POS and a clock time HH:MM look alike. Transaction ids start far
	// above 23, so a pair with a first part of 24 or more is a checkpoint,
	// one that reads as a clock time is a time, and anything else of that
	// shape is ambiguous. "checkpoint:" forces a checkpoint.
	if rest, ok := cutPrefixFold(v, "checkpoint:"); ok {
		cp, err := store.ParseCheckpoint(rest)
		if err != nil {
			return ResetTarget{}, store.InvalidField("reset target", fmt.Sprintf("%q is not a checkpoint TX:POS (e.g. 7731:120455)", s))
		}
		return ResetTarget{Kind: ResetCheckpoint, Checkpoint: cp}, nil
	}
	pair := checkpointForm.FindStringSubmatch(v)
	if pair != nil {
		if tx, err := strconv.ParseUint(pair[1], 10, 64); err != nil || tx >= minCheckpointTx {
			cp, err := store.ParseCheckpoint(v)
			if err != nil {
				return ResetTarget{}, store.InvalidField("reset target", fmt.Sprintf("%q is not a checkpoint TX:POS (e.g. 7731:120455)", s))
			}
			return ResetTarget{Kind: ResetCheckpoint, Checkpoint: cp}, nil
		}
	}
	t, err := store.ParseTime(v, now)
	if err != nil && pair != nil && !(len(pair[2]) == 2 && pair[2] < "60") { // a clock time keeps ParseTime's reason
		return ResetTarget{}, store.InvalidField("reset target", fmt.Sprintf(
			"%q is ambiguous: not a time of day (HH:MM), and no checkpoint has a transaction id that small; "+
				"write checkpoint:%s for a checkpoint, or a time like 09:30 or \"2025-03-01 09:30\"", s, v))
	}
	if err != nil {
		reason := err.Error()
		var ve *store.ValidationError
		if errors.As(err, &ve) {
			reason = ve.Reason
		}
		return ResetTarget{}, store.InvalidField("reset target", "not start, end or a checkpoint TX:POS; as a time, "+reason)
	}
	return ResetTarget{Kind: ResetTime, Time: t}, nil
}

// Reset moves the subscription's checkpoint. The holder drops the batch in
// flight (a TxHandler's transaction is rolled back; a Handler's events
// already handled are not saved) and continues from the new checkpoint. It
// also clears a StopOnFailure stop.
func (a *Admin) Reset(ctx context.Context, name string, to ResetTarget) error {
	var cp store.Checkpoint
	switch to.Kind {
	case ResetStart:
		cp = store.Start
	case ResetEnd:
		h, err := a.st.Head(ctx)
		if err != nil {
			return fmt.Errorf("reset subscription %s: %w", name, err)
		}
		cp = h
	case ResetCheckpoint:
		// A checkpoint beyond the head would silently skip every event up
		// to it as they arrive. (The head only moves forward, so one read
		// from the log a moment ago is never refused.)
		h, err := a.st.Head(ctx)
		if err != nil {
			return fmt.Errorf("reset subscription %s: %w", name, err)
		}
		if to.Checkpoint.Compare(h) > 0 {
			return store.InvalidField("reset target", fmt.Sprintf(
				"checkpoint %s is beyond the head of the log (%s): nothing was changed (to skip to the head, reset to end)", to.Checkpoint, h))
		}
		cp = to.Checkpoint
	case ResetTime:
		c, err := a.st.CheckpointAt(ctx, to.Time)
		if err != nil {
			return fmt.Errorf("reset subscription %s: %w", name, err)
		}
		cp = c
	default:
		return store.InvalidField("reset target", fmt.Sprintf("unknown kind %d", to.Kind))
	}
	return a.wrap("reset", name, a.control(ctx, name, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, resetSQL, name, cp.Tx, cp.Pos)
		return err
	}))
}

// Parked lists the subscription's parked events in global order.
func (a *Admin) Parked(ctx context.Context, name string) ([]ParkedEvent, error) {
	if err := a.exists(ctx, name); err != nil {
		return nil, err
	}
	rows, err := a.db.Query(ctx, parkedSQL, name)
	if err != nil {
		return nil, fmt.Errorf("parked events of %s: %w", name, err)
	}
	type row struct {
		ID             uuid.UUID
		Attempts       int
		LastError      string
		ParkedAt       time.Time
		RetryRequested bool
		FirstFailedAt  *time.Time
		History        []byte
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		return nil, fmt.Errorf("parked events of %s: %w", name, err)
	}
	ids := make([]uuid.UUID, len(got))
	for i, g := range got {
		ids[i] = g.ID
	}
	evs, err := a.st.EventsByID(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("parked events of %s: %w", name, err)
	}
	list := []ParkedEvent{}
	for _, g := range got {
		e, ok := evs[g.ID]
		if !ok {
			continue // parked events reference stored events; none is ever deleted
		}
		p := ParkedEvent{Subscription: name, Event: e, Attempts: g.Attempts,
			LastError: g.LastError, ParkedAt: g.ParkedAt, RetryRequested: g.RetryRequested, History: []Attempt{}}
		if g.FirstFailedAt != nil {
			p.FirstFailedAt = *g.FirstFailedAt
		}
		if err := json.Unmarshal(g.History, &p.History); err != nil {
			return nil, fmt.Errorf("parked events of %s: the history of %s: %w", name, g.ID, err)
		}
		list = append(list, p)
	}
	return list, nil
}

func (a *Admin) exists(ctx context.Context, name string) error {
	var ok bool
	err := a.db.QueryRow(ctx, adminExistsSQL, name).Scan(&ok)
	if err != nil {
		return fmt.Errorf("subscription %s: %w", name, err)
	}
	if !ok {
		return notFoundSub(name)
	}
	return nil
}

func notFoundParked(name string, id uuid.UUID) error {
	return &store.NotFoundError{What: fmt.Sprintf("parked event %s of subscription %q", id, name)}
}

// Retry asks the holder to deliver a parked event again through the
// handler (with the subscription's retry policy). On success it leaves the
// parked events; if it fails again it stays parked with the new error.
func (a *Admin) Retry(ctx context.Context, name string, eventID uuid.UUID) error {
	return a.wrap("retry", name, a.control(ctx, name, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, retrySQL, name, eventID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFoundParked(name, eventID)
		}
		return nil
	}))
}

// RetryAll asks the holder to deliver every parked event again and returns
// how many there are.
func (a *Admin) RetryAll(ctx context.Context, name string) (int, error) {
	var n int
	err := a.control(ctx, name, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, retryAllSQL, name)
		n = int(tag.RowsAffected())
		return err
	})
	return n, a.wrap("retry", name, err)
}

// Skip discards a parked event: it is never delivered.
func (a *Admin) Skip(ctx context.Context, name string, eventID uuid.UUID) error {
	return a.wrap("skip", name, a.control(ctx, name, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, skipSQL, name, eventID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFoundParked(name, eventID)
		}
		return nil
	}))
}
