package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// Fill loads n events in streams of streamLen events into both the store
// (through the append function, in batches) and the raw table (COPY), so
// the read workloads compare the same rows.
func Fill(ctx context.Context, env *Env, n, streamLen int) error {
	const batch = 100
	for s := 0; s*streamLen < n; s++ {
		stream := fmt.Sprintf("read-%d", s)
		for v := 0; v < streamLen && s*streamLen+v < n; v += batch {
			k := min(batch, streamLen-v, n-s*streamLen-v)
			evs := make([]store.NewEvent, k)
			rows := make([][]any, k)
			for i := range evs {
				evs[i] = store.NewEvent{Type: "OrderPlaced", Data: payload, Metadata: metadata}
				rows[i] = []any{stream, int64(v + i), "OrderPlaced", payload, metadata}
			}
			exp := store.Exact(int64(v - 1))
			if v == 0 {
				exp = store.NoStream
			}
			if _, err := env.Store.Append(ctx, stream, exp, evs...); err != nil {
				return err
			}
			if _, err := env.Raw.CopyFrom(ctx, pgx.Identifier{"bench_raw", "events"},
				[]string{"stream_id", "version", "type", "data", "metadata"}, pgx.CopyFromRows(rows)); err != nil {
				return err
			}
		}
	}
	for _, t := range []string{"eventscope.events", "bench_raw.events"} {
		if _, err := env.Raw.Exec(ctx, "VACUUM ANALYZE "+t); err != nil {
			return err
		}
	}
	return nil
}

// ReadAllOurs reads the whole global log through ReadAll in pages of batch.
func ReadAllOurs(ctx context.Context, env *Env, batch int) (Result, error) {
	start := time.Now()
	r := Result{Name: "store.ReadAll"}
	cp := store.Start
	for {
		p, err := env.Store.ReadAll(ctx, cp, store.ReadAllOptions{Limit: batch})
		if err != nil {
			return r, err
		}
		r.Ops++
		r.Events += int64(len(p.Events))
		cp = p.Next
		if p.Scanned < batch {
			break
		}
	}
	r.Elapsed = time.Since(start)
	return r, nil
}

// ReadAllRaw is the raw limit: a plain indexed range scan of the same rows
// by position, in pages of batch.
func ReadAllRaw(ctx context.Context, env *Env, batch int) (Result, error) {
	start := time.Now()
	r := Result{Name: "raw range scan"}
	var last store.Checkpoint
	for {
		rows, err := env.Raw.Query(ctx, `SELECT stream_id, version, position, tx_id, event_id, type, data, metadata, recorded_at
			FROM bench_raw.events WHERE (tx_id, position) > ($1::xid8, $2) ORDER BY tx_id, position LIMIT $3`, last.Tx, last.Pos, batch)
		if err != nil {
			return r, err
		}
		evs, err := pgx.CollectRows(rows, scanRaw)
		if err != nil {
			return r, err
		}
		r.Ops++
		r.Events += int64(len(evs))
		if len(evs) < batch {
			break
		}
		last = store.Checkpoint{Tx: evs[len(evs)-1].Checkpoint.Tx, Pos: evs[len(evs)-1].Position}
	}
	r.Elapsed = time.Since(start)
	return r, nil
}

// scanRaw scans as the store does: data and metadata as raw bytes.
func scanRaw(row pgx.CollectableRow) (store.Event, error) {
	var e store.Event
	err := row.Scan(&e.StreamID, &e.Version, &e.Position, &e.Checkpoint.Tx, &e.EventID, &e.Type, (*[]byte)(&e.Data), (*[]byte)(&e.Metadata), &e.RecordedAt)
	return e, err
}

// ReadStreams reads `reads` random whole streams of streamLen events, ours or raw.
func ReadStreams(ctx context.Context, env *Env, raw bool, streams, streamLen, reads int) (Result, error) {
	r := Result{Name: "store.ReadStream"}
	if raw {
		r.Name = "raw indexed scan"
	}
	start := time.Now()
	for i := 0; i < reads; i++ {
		stream := fmt.Sprintf("read-%d", i%streams)
		t0 := time.Now()
		var n int
		if raw {
			rows, err := env.Raw.Query(ctx, `SELECT stream_id, version, position, tx_id, event_id, type, data, metadata, recorded_at
				FROM bench_raw.events WHERE stream_id = $1 AND version >= 0 ORDER BY version LIMIT $2`, stream, streamLen)
			if err != nil {
				return r, err
			}
			evs, err := pgx.CollectRows(rows, scanRaw)
			if err != nil {
				return r, err
			}
			n = len(evs)
		} else {
			evs, err := env.Store.ReadStream(ctx, stream, store.ReadStreamOptions{Limit: streamLen})
			if err != nil {
				return r, err
			}
			n = len(evs)
		}
		r.Latencies = append(r.Latencies, time.Since(t0))
		r.Ops++
		r.Events += int64(n)
	}
	r.Elapsed = time.Since(start)
	return r, nil
}
