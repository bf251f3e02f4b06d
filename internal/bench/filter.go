package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// The filtered-read workloads: reading a small category from the start of
// a big log, through the store's indexed read, through the statement the
// store used before the filter indexes (migration 007), and the raw limit
// of reading as many rows: one stream of the same size by primary key.

// SmallCategory is the category FillSmallCategory appends to.
const SmallCategory = "rare"

// FillSmallCategory appends n events to one stream of SmallCategory, at
// the end of the log, in the store and in the raw table.
func FillSmallCategory(ctx context.Context, env *Env, n int) error {
	stream := SmallCategory + "-1"
	for v := range n {
		if _, err := env.Store.Append(ctx, stream, store.Any, store.NewEvent{Type: "Rare", Data: payload}); err != nil {
			return err
		}
		if _, err := env.Raw.Exec(ctx, `INSERT INTO bench_raw.events (stream_id, version, type, data) VALUES ($1, $2, $3, $4)`,
			stream, v, "Rare", payload); err != nil {
			return err
		}
	}
	// Wait until they are deliverable: another session's open transaction
	// holds the global log back for a moment.
	deadline := time.Now().Add(time.Minute)
	for {
		p, err := env.Store.ReadAll(ctx, store.Start, store.ReadAllOptions{Categories: []string{SmallCategory}})
		if err != nil || len(p.Events) == n {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: the %s events are still held back after a minute", SmallCategory)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ReadCategoryOurs reads SmallCategory from the start until caught up,
// reads times, through store.ReadAll with a category filter.
func ReadCategoryOurs(ctx context.Context, env *Env, reads int) (Result, error) {
	r := Result{Name: "store.ReadAll, category filter"}
	start := time.Now()
	for range reads {
		t0 := time.Now()
		cp := store.Start
		for {
			p, err := env.Store.ReadAll(ctx, cp, store.ReadAllOptions{Categories: []string{SmallCategory}})
			if err != nil {
				return r, err
			}
			r.Ops++
			r.Events += int64(len(p.Events))
			cp = p.Next
			if !p.More {
				break
			}
		}
		r.Latencies = append(r.Latencies, time.Since(t0))
	}
	r.Elapsed = time.Since(start)
	return r, nil
}

// walkSQL is the filtered read before migration 007: a window of the global
// log in pages of $3, joined back for the matches, plus a row with the last
// scanned checkpoint and the window's size.
const walkSQL = `WITH w AS MATERIALIZED (SELECT e.stream_id, e.version, e.position, e.tx_id, e.type FROM eventscope.events e
	 WHERE (e.tx_id, e.position) > ($1::xid8, $2)
	   AND e.tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
	 ORDER BY e.tx_id, e.position LIMIT $3)
SELECT e.stream_id, e.version, e.position, e.tx_id, e.event_id, e.type, e.data, e.metadata, e.recorded_at, 0 AS kind
  FROM w JOIN eventscope.events e ON e.stream_id = w.stream_id AND e.version = w.version
 WHERE eventscope.category(e.stream_id) = ANY($4)
UNION ALL
(SELECT NULL, NULL, w.position, w.tx_id, NULL, NULL, NULL, NULL, NULL, count(*) OVER () FROM w ORDER BY w.tx_id DESC, w.position DESC LIMIT 1)
ORDER BY 10, 4, 3`

// ReadCategoryWalk is ReadCategoryOurs through walkSQL (pages of 1,000
// scanned events, resumed from the last scanned checkpoint): what the read
// cost before the filter indexes.
func ReadCategoryWalk(ctx context.Context, env *Env, reads int) (Result, error) {
	r := Result{Name: "pre-007 filtered read (walks the log)"}
	start := time.Now()
	for range reads {
		t0 := time.Now()
		cp := store.Start
		for {
			rows, err := env.Raw.Query(ctx, walkSQL, cp.Tx, cp.Pos, 1000, []string{SmallCategory})
			if err != nil {
				return r, err
			}
			scanned := 0
			for rows.Next() {
				var (
					sid      *string
					kind     int64
					tx       uint64
					pos      int64
					ver, id  any
					typ, at  any
					data, md []byte
				)
				if err := rows.Scan(&sid, &ver, &pos, &tx, &id, &typ, &data, &md, &at, &kind); err != nil {
					rows.Close()
					return r, err
				}
				if sid == nil {
					cp, scanned = store.Checkpoint{Tx: tx, Pos: pos}, int(kind)
					continue
				}
				r.Events++
			}
			if err := rows.Err(); err != nil {
				return r, err
			}
			r.Ops++
			if scanned < 1000 {
				break
			}
		}
		r.Latencies = append(r.Latencies, time.Since(t0))
	}
	r.Elapsed = time.Since(start)
	return r, nil
}

// ReadSmallStreamRaw is the raw limit for the same rows: the small
// category's one stream read from the raw table by primary key.
func ReadSmallStreamRaw(ctx context.Context, env *Env, reads int) (Result, error) {
	r := Result{Name: "raw indexed scan of one stream"}
	start := time.Now()
	for range reads {
		t0 := time.Now()
		rows, err := env.Raw.Query(ctx, `SELECT stream_id, version, position, tx_id, event_id, type, data, metadata, recorded_at
			FROM bench_raw.events WHERE stream_id = $1 AND version >= 0 ORDER BY version LIMIT 1000`, SmallCategory+"-1")
		if err != nil {
			return r, err
		}
		evs, err := pgx.CollectRows(rows, scanRaw)
		if err != nil {
			return r, err
		}
		r.Latencies = append(r.Latencies, time.Since(t0))
		r.Ops++
		r.Events += int64(len(evs))
	}
	r.Elapsed = time.Since(start)
	return r, nil
}

// filterIndexes are the indexes migration 007 adds for filtered reads.
var filterIndexes = []string{"events_category_idx", "events_type_idx"}

// DropFilterIndexes drops the filtered reads' indexes from the scratch
// database (to measure what they cost appends) and returns a function that
// creates them again, from their own definitions.
func DropFilterIndexes(ctx context.Context, env *Env) (restore func(context.Context) error, err error) {
	var defs []string
	for _, name := range filterIndexes {
		var def string
		if err := env.Raw.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE schemaname = 'eventscope' AND indexname = $1`, name).Scan(&def); err != nil {
			return nil, fmt.Errorf("bench: definition of %s: %w", name, err)
		}
		defs = append(defs, def)
	}
	for _, name := range filterIndexes {
		if _, err := env.Raw.Exec(ctx, `DROP INDEX eventscope.`+name); err != nil {
			return nil, fmt.Errorf("bench: drop %s: %w", name, err)
		}
	}
	return func(ctx context.Context) error {
		for _, def := range defs {
			if _, err := env.Raw.Exec(ctx, def); err != nil {
				return fmt.Errorf("bench: %s: %w", def, err)
			}
		}
		return nil
	}, nil
}
