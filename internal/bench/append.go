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
	// Ours appends through store.Append with the Store's defaults: group
	// commit (concurrent calls share round trips and commits), wake-ups
	// after commit.
	Ours Path = iota
	// OursNotifyInTx appends through eventscope.append with NOTIFY inside
	// each append transaction, as a plain SQL caller got before migration 005.
	OursNotifyInTx
	// RawInsert is a plain INSERT of the same rows (multi-row for batches).
	RawInsert
	// RawCopy is COPY of the same rows.
	RawCopy
	// OursNoGroup is store.Append with group commit off: one round trip
	// and one transaction per call.
	OursNoGroup
	// OursMulti appends through store.AppendMulti: each call appends Batch
	// events to each of Streams streams of the writer, atomically.
	OursMulti
)

func (p Path) String() string {
	return [...]string{"eventscope.append (group commit)", "eventscope.append + NOTIFY in tx", "raw INSERT", "raw COPY",
		"eventscope.append (no group commit)", "eventscope.append_multi"}[p]
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
	Streams    int           // OursMulti: streams per call (0: 1); the raw path inserts the same rows in one statement
}

// The event every workload writes: a realistic order (325 bytes of data)
// with correlation and causation ids (126 bytes of metadata).
var (
	payload  = json.RawMessage(`{"orderId":"order-000042","customerId":"customer-000007","currency":"EUR","placedBy":"web-shop","lines":[{"sku":"SKU-10042","name":"Espresso beans 1kg","qty":2,"unitPrice":1890},{"sku":"SKU-20017","name":"Milk frother","qty":1,"unitPrice":3450}],"shipping":{"method":"standard","city":"Lyon","postcode":"69002"},"total":7230}`)
	metadata = json.RawMessage(`{"correlationId":"6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b","causationId":"0b9e8d7c-6a5f-4e3d-2c1b-0a9f8e7d6c5b","user":"svc-ord"}`)
)

// PayloadSizes are the bytes of data and metadata of every benchmark event.
func PayloadSizes() (data, meta int) { return len(payload), len(metadata) }

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
	if c.Streams <= 0 {
		c.Streams = 1
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
				events.Add(int64(c.Batch * c.Streams))
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
	exp := store.NoStream
	if version >= 0 {
		exp = store.Exact(version)
	}
	newEvents := func() []store.NewEvent {
		evs := make([]store.NewEvent, c.Batch)
		for i := range evs {
			evs[i] = store.NewEvent{Type: "OrderPlaced", Data: payload, Metadata: metadata}
		}
		return evs
	}
	// streamAt is the k-th stream a call writes to (the multi paths write
	// to Streams streams of the writer, all at the same version).
	streamAt := func(k int) string {
		if k == 0 {
			return stream
		}
		return fmt.Sprintf("%s/%d", stream, k)
	}
	switch c.Path {
	case Ours, OursNotifyInTx, OursNoGroup:
		st := env.Store
		switch c.Path {
		case OursNotifyInTx:
			st = env.Notify
		case OursNoGroup:
			st = env.NoGroup
		}
		_, err := st.Append(ctx, stream, exp, newEvents()...)
		return err
	case OursMulti:
		appends := make([]store.StreamAppend, c.Streams)
		for k := range appends {
			appends[k] = store.StreamAppend{Stream: streamAt(k), Expected: exp, Events: newEvents()}
		}
		_, err := env.Store.AppendMulti(ctx, appends)
		return err
	case RawInsert:
		if c.Batch == 1 && c.Streams == 1 {
			_, err := env.Raw.Exec(ctx, `INSERT INTO bench_raw.events (stream_id, version, type, data, metadata) VALUES ($1, $2, $3, $4, $5)`,
				stream, version+1, "OrderPlaced", payload, metadata)
			return err
		}
		var sb strings.Builder
		sb.WriteString(`INSERT INTO bench_raw.events (stream_id, version, type, data, metadata) VALUES `)
		args := make([]any, 0, 5*c.Batch*c.Streams)
		for k := 0; k < c.Streams; k++ {
			for i := 0; i < c.Batch; i++ {
				if len(args) > 0 {
					sb.WriteByte(',')
				}
				n := len(args)
				fmt.Fprintf(&sb, "($%d,$%d,$%d,$%d,$%d)", n+1, n+2, n+3, n+4, n+5)
				args = append(args, streamAt(k), version+1+int64(i), "OrderPlaced", payload, metadata)
			}
		}
		_, err := env.Raw.Exec(ctx, sb.String(), args...)
		return err
	case RawCopy:
		rows := make([][]any, 0, c.Batch*c.Streams)
		for k := 0; k < c.Streams; k++ {
			for i := 0; i < c.Batch; i++ {
				rows = append(rows, []any{streamAt(k), version + 1 + int64(i), uuid.New(), "OrderPlaced", payload, metadata})
			}
		}
		_, err := env.Raw.CopyFrom(ctx, pgx.Identifier{"bench_raw", "events"},
			[]string{"stream_id", "version", "event_id", "type", "data", "metadata"}, pgx.CopyFromRows(rows))
		return err
	}
	return fmt.Errorf("unknown path %d", c.Path)
}
