package seed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"eventscope/domain"
	"eventscope/store"
)

// Options configure Seed.
type Options struct {
	// BatchEvents is the number of events per loading transaction.
	// Default 100,000.
	BatchEvents int
	// Progress, when set, is called after each batch commits with the
	// events committed so far and the expected total (an estimate until
	// the end).
	Progress func(done, total int64)
}

// Result is what Seed loaded.
type Result struct {
	Stats
	Duration time.Duration `json:"duration_ns"`
	Seed     uint64        `json:"seed"`
}

// ErrSeeded: the database holds the streams a seed would create.
var ErrSeeded = errors.New("database already seeded")

// loaderSink feeds a BulkLoader and attaches snapshots to its batches.
type loaderSink struct {
	b   *store.BulkLoader
	typ domain.AggregateType
}

func (s *loaderSink) Add(e store.BulkEvent) (int64, error) { return s.b.Add(e) }

func (s *loaderSink) Snapshot(stream string, version int64, state json.RawMessage) {
	// the customer's name is sealed by the server on the way in
	s.b.Attach(pgx.Identifier{"eventscope", "snapshots"}, domain.SnapshotColumns,
		domain.SnapshotRow(s.typ, stream, version, state))
}

// Seed generates the history c describes and bulk-loads it into st, with
// snapshots of long customer streams. Every stream it makes must be new: a
// database that holds them already fails fast with ErrSeeded.
func Seed(ctx context.Context, st *store.Store, c Config, o Options) (Result, error) {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return Result{}, err
	}
	first := domain.CustomerStream(fmt.Sprintf("%0"+fmt.Sprint(max(4, len(fmt.Sprint(c.Customers))))+"d", 1))
	if c.Customers > 0 {
		if _, err := st.StreamInfo(ctx, first); err == nil {
			return Result{}, fmt.Errorf("%w: %s exists (seed an empty database, or another one)", ErrSeeded, first)
		} else if !errors.Is(err, store.ErrNotFound) {
			return Result{}, err
		}
	}
	start := time.Now()
	total := EstimateEvents(c)
	b := st.NewBulkLoader(ctx, store.BulkOptions{BatchEvents: o.BatchEvents, Progress: func(n int64) {
		if o.Progress != nil {
			o.Progress(n, max(total, n))
		}
	}})
	stats, genErr := generate(c, &loaderSink{b: b, typ: domain.CustomerType})
	n, err := b.Close()
	if genErr != nil {
		if errors.Is(genErr, store.ErrStreamExists) {
			genErr = fmt.Errorf("%w: %v", ErrSeeded, genErr)
		}
		return Result{Stats: stats, Seed: c.Seed}, genErr
	}
	if err != nil {
		if errors.Is(err, store.ErrStreamExists) {
			err = fmt.Errorf("%w: %v", ErrSeeded, err)
		}
		return Result{Stats: stats, Seed: c.Seed}, err
	}
	if o.Progress != nil {
		o.Progress(n, n)
	}
	return Result{Stats: stats, Duration: time.Since(start), Seed: c.Seed}, nil
}

// memSink keeps generated events in memory, with versions as a loader
// would give them.
type memSink struct {
	next   map[string]int64
	events []store.BulkEvent
	snaps  int
	keep   bool
}

func newMemSink(keep bool) *memSink { return &memSink{next: map[string]int64{}, keep: keep} }

func (m *memSink) Add(e store.BulkEvent) (int64, error) {
	v := m.next[e.StreamID]
	m.next[e.StreamID] = v + 1
	if m.keep {
		m.events = append(m.events, e)
	}
	return v, nil
}

func (m *memSink) Snapshot(string, int64, json.RawMessage) { m.snaps++ }

// Generate runs the generator without a database and returns its events
// in global order (for tests and the raw-COPY baseline).
func Generate(c Config) ([]store.BulkEvent, Stats, error) {
	m := newMemSink(true)
	s, err := generate(c, m)
	return m.events, s, err
}
