// Package storetest is the store's test-support API: the few low-level
// things tests of other packages need done to the events schema that the
// SQL API (rightly) refuses or does not offer. Only store/ names that schema;
// tests elsewhere come here instead of writing its SQL themselves.
//
// Nothing here is for production code: RawAppend writes past every check of
// eventscope.append (it needs the schema owner's rights, which tests have).
package storetest

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"eventscope/store"
)

// Execer is what RawAppend and Analyze run on: a *pgxpool.Pool, a *pgx.Conn
// or a pgx.Tx.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// RawEvent is an event as RawAppend stores it, unchecked.
type RawEvent struct {
	// ID is the event id. Default: a new random one.
	ID uuid.UUID
	// Type is stored as given (control characters included).
	Type string
	// Data and Metadata are JSON text, cast to jsonb by the server (which
	// takes nesting deeper than Go's decoder). Defaults: {}.
	Data, Metadata string
	// RecordedAt is the stored timestamp. Default: the server's now().
	RecordedAt time.Time
}

const rawAppendSQL = `
WITH s AS (
    INSERT INTO eventscope.streams AS s (stream_id, category, version, event_count)
    VALUES ($1, eventscope.category($1), $2::bigint - 1, $2::bigint)
    ON CONFLICT (stream_id) DO UPDATE
       SET version = s.version + $2::bigint, event_count = s.event_count + $2::bigint, updated_at = now()
 RETURNING s.version - $2::bigint AS before)
INSERT INTO eventscope.events (stream_id, version, event_id, type, data, metadata, recorded_at)
SELECT $1, s.before + v.i, v.id, v.type, v.data::jsonb, v.metadata::jsonb, coalesce(v.at, now())
  FROM s, unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::timestamptz[]) WITH ORDINALITY
       AS v(id, type, data, metadata, at, i)`

// RawAppend stores evs at the end of stream (creating it), as the schema's
// owner and past the SQL API's checks: for tests of how readers cope with
// what the store holds but no longer accepts (undecodable data, types with
// control characters, timestamps out of order). One statement, so the
// stream row and its events commit together.
func RawAppend(ctx context.Context, db Execer, stream string, evs ...RawEvent) error {
	if len(evs) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(evs))
	types := make([]string, len(evs))
	data := make([]string, len(evs))
	meta := make([]string, len(evs))
	at := make([]*time.Time, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
		if ids[i] == uuid.Nil {
			ids[i] = uuid.New()
		}
		types[i], data[i], meta[i] = e.Type, e.Data, e.Metadata
		if data[i] == "" {
			data[i] = "{}"
		}
		if meta[i] == "" {
			meta[i] = "{}"
		}
		if !e.RecordedAt.IsZero() {
			t := e.RecordedAt
			at[i] = &t
		}
	}
	if _, err := db.Exec(ctx, rawAppendSQL, stream, int64(len(evs)), ids, types, data, meta, at); err != nil {
		return fmt.Errorf("storetest: raw append to %s: %w", stream, err)
	}
	return nil
}

// Analyze vacuums and analyzes the events table, so a benchmark's plans and
// visibility map match a settled log.
func Analyze(ctx context.Context, st *store.Store) error {
	if _, err := st.Pool().Exec(ctx, `VACUUM ANALYZE eventscope.events`); err != nil {
		return fmt.Errorf("storetest: vacuum analyze: %w", err)
	}
	return nil
}

// StoredEvent is an event as its row holds it at rest: Data without its
// personal fields, which are sealed in Personal (nil when it has none).
type StoredEvent struct {
	StreamID string
	Version  int64
	Type     string
	Data     []byte // jsonb text
	Personal []byte // jsonb text, nil when the event has no personal fields
}

// Stored returns every event of the log as the table holds it, in position
// order, without the decryption every read does: for tests of what is
// stored in plain text.
func Stored(ctx context.Context, st *store.Store) ([]StoredEvent, error) {
	rows, err := st.Pool().Query(ctx, `SELECT stream_id, version, type, data::text, personal::text FROM eventscope.events ORDER BY position`)
	if err != nil {
		return nil, fmt.Errorf("storetest: stored events: %w", err)
	}
	evs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StoredEvent, error) {
		var e StoredEvent
		var personal *string
		if err := r.Scan(&e.StreamID, &e.Version, &e.Type, &e.Data, &personal); err != nil {
			return e, err
		}
		if personal != nil {
			e.Personal = []byte(*personal)
		}
		return e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("storetest: stored events: %w", err)
	}
	return evs, nil
}
