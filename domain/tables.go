package domain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Every statement of the domain's own tables (eventscope.snapshots,
// order_summary and the customer_totals and orders_by_status views, created
// by store's migrations 003 and 016) is in this file. The events themselves are read
// and written through the store.

// snapshotRow is one row of eventscope.snapshots.
type snapshotRow struct {
	Stream    string
	Version   int64
	Aggregate string
	Schema    int
	State     json.RawMessage
	// Personal marks the state's personal values ({"subject","fields"}):
	// the server seals them on insert (migration 012). Nil for none.
	Personal json.RawMessage
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
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
	marks := make([]*string, len(rows))
	for i, r := range rows {
		streams[i], versions[i], aggs[i], schemas[i], states[i] = r.Stream, r.Version, r.Aggregate, int32(r.Schema), string(r.State)
		if r.Personal != nil {
			m := string(r.Personal)
			marks[i] = &m
		}
	}
	_, err := q.Exec(ctx, `INSERT INTO eventscope.snapshots (stream_id, version, aggregate, schema_version, state, personal)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::int[], $5::jsonb[], $6::jsonb[])
		ON CONFLICT DO NOTHING`, streams, versions, aggs, schemas, states, marks)
	if err != nil {
		return fmt.Errorf("write snapshots: %w", err)
	}
	return nil
}

// latestSnapshot is the newest snapshot of stream with schema version
// schema at or below version atMost.
func latestSnapshot(ctx context.Context, q rowQuerier, stream string, schema int, atMost int64) (version int64, state []byte, ok bool, err error) {
	err = q.QueryRow(ctx, `SELECT version, CASE WHEN personal IS NULL THEN state ELSE eventscope.personal_data(state, personal) END
		  FROM eventscope.snapshots
		WHERE stream_id = $1 AND schema_version = $2 AND version <= $3
		ORDER BY version DESC LIMIT 1`, stream, schema, atMost).Scan(&version, &state)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, false, nil
	}
	if err != nil {
		return 0, nil, false, fmt.Errorf("read snapshot of %s: %w", stream, err)
	}
	return version, state, true, nil
}

// orderPlacedSQL adds an order to the order-summary read model; a replay
// changes nothing. Customer totals are a view over these rows (016).
const orderPlacedSQL = `INSERT INTO eventscope.order_summary (order_id, customer_id, status, total, lines, version, placed_at, updated_at)
VALUES ($1, $2, 'pending', $3, $4, $5, $6, $6) ON CONFLICT (order_id) DO NOTHING`

// orderStatusSQL moves an order to status $3 (reason $4, at $5) when $2 is
// newer than the version applied.
const orderStatusSQL = `UPDATE eventscope.order_summary SET status = $3, reason = $4, version = $2, updated_at = $5
 WHERE order_id = $1 AND version < $2`

// OrderCount is one row of the orders_by_status view.
type OrderCount struct {
	Status string `json:"status"`
	Orders int64  `json:"orders"`
}

// OrdersByStatus counts the order-summary read model's orders per status.
func OrdersByStatus(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}) ([]OrderCount, error) {
	rows, err := q.Query(ctx, `SELECT status, orders FROM eventscope.orders_by_status ORDER BY status`)
	if err != nil {
		return nil, fmt.Errorf("orders by status: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[OrderCount])
	if err != nil {
		return nil, fmt.Errorf("orders by status: %w", err)
	}
	return list, nil
}

// SnapshotColumns are the columns of eventscope.snapshots a bulk load
// copies, in the order of SnapshotRow's values.
var SnapshotColumns = []string{"stream_id", "schema_version", "version", "aggregate", "state", "personal"}

// SnapshotRow is a snapshot as a row of SnapshotColumns; personal values of
// the state are sealed by the server on insert.
func SnapshotRow(typ AggregateType, stream string, version int64, state json.RawMessage) []any {
	var mark any
	if p := SnapshotPersonal(typ, stream, state); p != nil {
		mark = []byte(p)
	}
	return []any{stream, int32(typ.SchemaVersion), version, typ.Name, []byte(state), mark}
}

// dropSnapshots deletes the snapshots that may hold subject's personal
// values (sealed under its key, or of streams whose events held them) and
// returns the last version dropped per stream.
func dropSnapshots(ctx context.Context, q rowQuerier, subject string, streams []string) (map[string]int64, error) {
	var ids []string
	var vers []int64
	err := q.QueryRow(ctx, `WITH d AS (
		DELETE FROM eventscope.snapshots
		 WHERE (personal IS NOT NULL AND personal ->> 'subject' = $1) OR stream_id = ANY ($2)
		RETURNING stream_id, version)
		SELECT coalesce(array_agg(stream_id), '{}'), coalesce(array_agg(v), '{}')
		  FROM (SELECT stream_id, max(version) AS v FROM d GROUP BY stream_id) x`, subject, streams).Scan(&ids, &vers)
	if err != nil {
		return nil, fmt.Errorf("drop snapshots of %s: %w", subject, err)
	}
	out := make(map[string]int64, len(ids))
	for i, id := range ids {
		out[id] = vers[i]
	}
	return out, nil
}
