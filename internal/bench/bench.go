// Package bench measures the store against the raw limit of the same server,
// in the same run: every workload runs our path and a plain INSERT (or COPY)
// of the same rows into an equivalent table — same columns, same indexes,
// no functions — and reports both figures and their ratio.
package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"eventscope/internal/pgserver"
	"eventscope/store"
)

// rawSchema is the equivalent plain table: the events table's columns and
// indexes, written to with plain INSERT/COPY.
const rawSchema = `
CREATE SCHEMA IF NOT EXISTS bench_raw;
CREATE TABLE bench_raw.events (
    stream_id   text        NOT NULL,
    version     bigint      NOT NULL,
    position    bigserial   NOT NULL,
    tx_id       xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id    uuid        NOT NULL DEFAULT gen_random_uuid(),
    type        text        NOT NULL,
    data        jsonb       NOT NULL,
    metadata    jsonb       NOT NULL DEFAULT '{}',
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream_id, version));
CREATE UNIQUE INDEX ON bench_raw.events (tx_id, position);
CREATE UNIQUE INDEX ON bench_raw.events (event_id);`

// Env is a scratch database with the store's schema and the raw table.
type Env struct {
	URL     string
	Store   *store.Store // our path: group commit, post-commit wake-ups
	NoGroup *store.Store // our path without group commit
	Notify  *store.Store // our path, NOTIFY inside every append transaction
	Raw     *pgxpool.Pool
	drop    func()
}

// Setup creates a scratch database next to the one adminURL names (the
// server's other databases are untouched), migrates it and creates the raw
// table. Close drops it.
func Setup(ctx context.Context, adminURL string) (*Env, error) {
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("bench: connect: %w", err)
	}
	defer admin.Close(ctx)
	name := fmt.Sprintf("eventscope_bench_%d_%d", time.Now().Unix(), rand.IntN(1e6))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return nil, fmt.Errorf("bench: create scratch database (the benchmark needs CREATE DATABASE rights): %w", err)
	}
	u := pgserver.WithDatabase(adminURL, name)
	env := &Env{URL: u}
	env.drop = func() {
		c, err := pgx.Connect(context.Background(), adminURL)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	fail := func(err error) (*Env, error) { env.Close(); return nil, err }
	if env.Store, err = store.Open(ctx, u, store.Options{MaxConns: 40}); err != nil {
		return fail(err)
	}
	if env.NoGroup, err = store.Open(ctx, u, store.Options{MaxConns: 40, NoGroupCommit: true, NoMigrate: true}); err != nil {
		return fail(err)
	}
	if env.Notify, err = store.Open(ctx, u, store.Options{MaxConns: 40, NotifyInTx: true, NoGroupCommit: true, NoMigrate: true}); err != nil {
		return fail(err)
	}
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		return fail(err)
	}
	cfg.MaxConns = 40
	if env.Raw, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return fail(err)
	}
	if _, err := env.Raw.Exec(ctx, rawSchema); err != nil {
		return fail(err)
	}
	return env, nil
}

// Close drops the scratch database.
func (e *Env) Close() {
	for _, s := range []*store.Store{e.Store, e.NoGroup, e.Notify} {
		if s != nil {
			s.Close()
		}
	}
	if e.Raw != nil {
		e.Raw.Close()
	}
	if e.drop != nil {
		e.drop()
	}
}

// closeIdle closes the pools' connections, so that a workload with clients
// of its own (pgbench) does not meet max_connections.
func (e *Env) closeIdle() {
	for _, s := range []*store.Store{e.Store, e.NoGroup, e.Notify} {
		if s != nil {
			s.Pool().Reset()
		}
	}
	if e.Raw != nil {
		e.Raw.Reset()
	}
}

// Truncate empties both the store and the raw table between runs, so every
// run starts from the same state.
func (e *Env) Truncate(ctx context.Context) error {
	_, err := e.Raw.Exec(ctx, `TRUNCATE eventscope.events, eventscope.streams, bench_raw.events; CHECKPOINT`)
	return err
}

// Result is one measured run.
type Result struct {
	Name      string
	Ops       int64 // calls (transactions)
	Events    int64
	Elapsed   time.Duration
	Latencies []time.Duration // per call, when measured
}

// EventsPerSec is events per second.
func (r Result) EventsPerSec() float64 { return float64(r.Events) / r.Elapsed.Seconds() }

// Quantile of the call latencies (0 when none were recorded).
func (r Result) Quantile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	l := slices.Clone(r.Latencies)
	slices.Sort(l)
	return l[min(len(l)-1, int(q*float64(len(l))))]
}

// Median returns the run with the median events/s.
func Median(rs []Result) Result {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b Result) int {
		switch {
		case a.EventsPerSec() < b.EventsPerSec():
			return -1
		case a.EventsPerSec() > b.EventsPerSec():
			return 1
		}
		return 0
	})
	return s[len(s)/2]
}

// MedianLatency returns the run with the median p50 latency.
func MedianLatency(rs []Result) Result {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b Result) int { return int(a.Quantile(0.5) - b.Quantile(0.5)) })
	return s[len(s)/2]
}
