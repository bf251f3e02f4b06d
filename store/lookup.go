package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Look-ups of single events and facts about streams, for the console, the
// domain and the CLI (which hold no SQL of their own).

// EventByID is the event with id; a *NotFoundError when there is none.
// One index lookup (events_event_id_idx).
func (s *Store) EventByID(ctx context.Context, id uuid.UUID) (Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM eventscope.events e WHERE e.event_id = $1`, id)
	if err != nil {
		return Event{}, fmt.Errorf("find event %s: %w", id, err)
	}
	e, err := pgx.CollectExactlyOneRow(rows, scanEvent)
	if errors.Is(err, pgx.ErrNoRows) {
		return Event{}, &NotFoundError{What: "event " + id.String()}
	}
	if err != nil {
		return Event{}, fmt.Errorf("find event %s: %w", id, err)
	}
	return e, nil
}

// EventExists reports whether an event with id is stored (in any stream).
func (s *Store) EventExists(ctx context.Context, id uuid.UUID) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM eventscope.events WHERE event_id = $1)`, id).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("find event %s: %w", id, err)
	}
	return ok, nil
}

// VersionAt is the version of the stream's last event recorded at or
// before t. ok is false when the stream has no such event (it may not
// exist: see StreamInfo).
func (s *Store) VersionAt(ctx context.Context, stream string, t time.Time) (version int64, ok bool, err error) {
	// The last version before the first event recorded after t: never an
	// event recorded later than t, even where recorded_at decreases along
	// the stream (a transaction's start time, stored before appends kept it
	// monotonic). Where it increases, that is every event recorded at or
	// before t.
	err = s.pool.QueryRow(ctx, `SELECT v FROM (
		SELECT coalesce((SELECT version - 1 FROM eventscope.events WHERE stream_id = $1 AND recorded_at > $2 ORDER BY version LIMIT 1),
		                (SELECT max(version) FROM eventscope.events WHERE stream_id = $1)) AS v) x
		WHERE v >= 0`, stream, t).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("version of %s at %s: %w", stream, t.Format(time.RFC3339), err)
	}
	return version, true, nil
}

// HasStreams reports whether any stream exists.
func (s *Store) HasStreams(ctx context.Context) (bool, error) {
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM eventscope.streams)`).Scan(&ok); err != nil {
		return false, fmt.Errorf("look for streams: %w", err)
	}
	return ok, nil
}

// StreamVersion is the version of the stream's last event; a
// *NotFoundError when the stream does not exist.
func (s *Store) StreamVersion(ctx context.Context, stream string) (int64, error) {
	var v int64
	err := s.pool.QueryRow(ctx, `SELECT s.version FROM eventscope.streams s WHERE s.stream_id = $1`, stream).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, &NotFoundError{What: "stream " + stream}
	}
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	return v, nil
}
