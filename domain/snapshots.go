package domain

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// snapshotRow is one row of eventscope.snapshots.
type snapshotRow struct {
	Stream    string
	Version   int64
	Aggregate string
	Schema    int
	State     json.RawMessage
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// writeSnapshots stores snapshots; existing ones are kept (a snapshot of a
// version never changes while the schema version stays).
func writeSnapshots(ctx context.Context, q execer, rows []snapshotRow) error {
	if len(rows) == 0 {
		return nil
	}
	streams := make([]string, len(rows))
	versions := make([]int64, len(rows))
	aggs := make([]string, len(rows))
	schemas := make([]int32, len(rows))
	states := make([]string, len(rows))
	for i, r := range rows {
		streams[i], versions[i], aggs[i], schemas[i], states[i] = r.Stream, r.Version, r.Aggregate, int32(r.Schema), string(r.State)
	}
	_, err := q.Exec(ctx, `INSERT INTO eventscope.snapshots (stream_id, version, aggregate, schema_version, state)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::int[], $5::jsonb[])
		ON CONFLICT DO NOTHING`, streams, versions, aggs, schemas, states)
	if err != nil {
		return fmt.Errorf("write snapshots: %w", err)
	}
	return nil
}

// latestSnapshot is the newest snapshot of stream with schema version schema.
func latestSnapshot(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, stream string, schema int) (version int64, state []byte, ok bool, err error) {
	err = q.QueryRow(ctx, `SELECT version, state FROM eventscope.snapshots
		WHERE stream_id = $1 AND schema_version = $2 ORDER BY version DESC LIMIT 1`, stream, schema).Scan(&version, &state)
	if err == pgx.ErrNoRows {
		return 0, nil, false, nil
	}
	if err != nil {
		return 0, nil, false, fmt.Errorf("read snapshot of %s: %w", stream, err)
	}
	return version, state, true, nil
}
