package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// Path is what an append workload writes through.
type Path int

const (
	// Ours appends through store.Append (eventscope.append), wake-ups after commit.
	Ours Path = iota
	// OursNotifyInTx appends through eventscope.append with NOTIFY inside
	// each append transaction, as a plain SQL caller gets.
	OursNotifyInTx
	// RawInsert is a plain INSERT of the same rows (multi-row for batches).
	RawInsert
	// RawCopy is COPY of the same rows.
	RawCopy
)

func (p Path) String() string {
	return [...]string{"eventscope.append", "eventscope.append + NOTIFY in tx", "raw INSERT", "raw COPY"}[p]
}

// AppendConfig is one append workload.
type AppendConfig struct {
	Path       Path
	Clients    int           // concurrent writers, each on streams of its own
	Batch      int           // events per call
	Duration   time.Duration // how long to run (when Calls is 0)
	Calls      int           // total calls across clients; overrides Duration when > 0
	Categories int           // spread the writers' streams over this many categories (0: one per writer)
	Latencies  bool          // record per-call latency
}

var payload = json.RawMessage(`{"customerId":"customer-42","lines":[{"sku":"SKU-1","qty":2,"price":1250}],"total":2500}`)

// RunAppend runs an append workload and returns what it did. Every call
// checks an exact expected version (the raw path's equivalent is the
// primary key on (stream_id, version)).
func RunAppend(ctx context.Context, env *Env, c AppendConfig) (Result, error) {
	if c.Clients <= 0 {
		c.Clients = 1
	}
	if c.Batch <= 0 {
		c.Batch = 1
	}
	var (
		ops, events atomic.Int64
		mu          sync.Mutex
		lats        []time.Duration
		wg          sync.WaitGroup
		firstErr    error
		errOnce     sync.Once
	)
	run := fmt.Sprintf("%d", time.Now().UnixNano()%1e9)
	deadline := time.Now().Add(c.Duration)
	var budget atomic.Int64
	budget.Store(int64(c.Calls))
	more := func() bool {
		if c.Calls > 0 {
			return budget.Add(-1) >= 0 && ctx.Err() == nil
		}
		return time.Now().Before(deadline) && ctx.Err() == nil
	}
	start := time.Now()
	for w := 0; w < c.Clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			cat := fmt.Sprintf("w%d", w)
			if c.Categories > 0 {
				cat = fmt.Sprintf("cat%d", w%c.Categories)
			}
			var local []time.Duration
			streamN, version := 0, int64(-1)
			stream := fmt.Sprintf("%s-%s.%d.%d", cat, run, w, streamN)
			for more() {
				if version >= 999 { // keep streams at most 1,000 events
					streamN++
					stream, version = fmt.Sprintf("%s-%s.%d.%d", cat, run, w, streamN), -1
				}
				t0 := time.Now()
				err := appendOnce(ctx, env, c, stream, version)
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("%s: %w", c.Path, err) })
					return
				}
				if c.Latencies {
					local = append(local, time.Since(t0))
				}
				version += int64(c.Batch)
				ops.Add(1)
				events.Add(int64(c.Batch))
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	r := Result{Name: c.Path.String(), Ops: ops.Load(), Events: events.Load(), Elapsed: time.Since(start), Latencies: lats}
	return r, firstErr
}

func appendOnce(ctx context.Context, env *Env, c AppendConfig, stream string, version int64) error {
	switch c.Path {
	case Ours, OursNotifyInTx:
		st := env.Store
		if c.Path == OursNotifyInTx {
			st = env.Notify
		}
		evs := make([]store.NewEvent, c.Batch)
		for i := range evs {
			evs[i] = store.NewEvent{Type: "OrderPlaced", Data: payload}
		}
		exp := store.NoStream
		if version >= 0 {
			exp = store.Exact(version)
		}
		_, err := st.Append(ctx, stream, exp, evs...)
		return err
	case RawInsert:
		if c.Batch == 1 {
			_, err := env.Raw.Exec(ctx, `INSERT INTO bench_raw.events (stream_id, version, type, data) VALUES ($1, $2, $3, $4)`,
				stream, version+1, "OrderPlaced", payload)
			return err
		}
		var sb strings.Builder
		sb.WriteString(`INSERT INTO bench_raw.events (stream_id, version, type, data) VALUES `)
		args := make([]any, 0, 4*c.Batch)
		for i := 0; i < c.Batch; i++ {
			if i > 0 {
				sb.WriteByte(',')
			}
			n := len(args)
			fmt.Fprintf(&sb, "($%d,$%d,$%d,$%d)", n+1, n+2, n+3, n+4)
			args = append(args, stream, version+1+int64(i), "OrderPlaced", payload)
		}
		_, err := env.Raw.Exec(ctx, sb.String(), args...)
		return err
	case RawCopy:
		rows := make([][]any, c.Batch)
		for i := range rows {
			rows[i] = []any{stream, version + 1 + int64(i), uuid.New(), "OrderPlaced", payload}
		}
		_, err := env.Raw.CopyFrom(ctx, pgx.Identifier{"bench_raw", "events"},
			[]string{"stream_id", "version", "event_id", "type", "data"}, pgx.CopyFromRows(rows))
		return err
	}
	return fmt.Errorf("unknown path %d", c.Path)
}
