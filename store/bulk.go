package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// BulkEvent is one event of a bulk load.
type BulkEvent struct {
	// StreamID must name a stream that does not exist before the load.
	StreamID string
	// ID is the event id; zero generates a random one.
	ID   uuid.UUID
	Type string
	// Data is a JSON object; Metadata a JSON object or empty.
	Data     json.RawMessage
	Metadata json.RawMessage
	// RecordedAt is stored as given (seeded history lies in the past).
	// Zero means the loading transaction's start time.
	RecordedAt time.Time
	// Personal marks fields of Data as personal data (see NewEvent):
	// such events are sealed by the server (eventscope.personal_seal) on
	// the way in, so their values never reach the table in plain text.
	// Default nil.
	Personal *Personal
}

// BulkStream is one new stream and its events, in version order.
type BulkStream struct {
	StreamID string
	Events   []BulkEvent // StreamID of each may be left empty
}

// BulkOptions configure a bulk load. The zero value is usable.
type BulkOptions struct {
	// BatchEvents is the number of events per transaction. Default 100,000.
	BatchEvents int
	// Progress, when set, is called after each batch commits with the
	// number of events committed so far.
	Progress func(loaded int64)
}

// copyRows are extra rows a caller attaches to a batch (e.g. snapshots),
// copied in the batch's transaction after the events.
type copyRows struct {
	table   pgx.Identifier
	columns []string
	rows    [][]any
}

type bulkBatch struct {
	events  []BulkEvent
	version []int64
	extra   map[string]*copyRows
	order   []string
}

// BulkLoader loads new streams fast, through COPY, keeping every invariant
// of Append: versions contiguous from 0 per stream, a streams row per
// stream with its version and count, positions from the events sequence in
// the order events were added, tx_id the loading transaction's id (so the
// global log and checkpoints work as for appended events). Events are
// stored in the order Add is called, which is their global order. It
// writes the log's tables directly, which only the schema's owner may (see
// migrations/privileges.sql); other roles get a *PermissionError.
//
// Batches commit as they fill, in one transaction each, while the caller
// keeps adding (one batch loads while the next one fills). Every stream
// must be new: a stream that exists fails the batch that reaches it, with
// an error naming it; batches committed before stay.
//
// A BulkLoader is not safe for concurrent use.
type BulkLoader struct {
	s     *Store
	o     BulkOptions
	next  map[string]int64 // next version per stream loaded so far
	cur   *bulkBatch
	work  chan *bulkBatch
	done  chan struct{}
	err   error // first flush error, set by the flusher before done closes or via errc
	errc  chan error
	total int64
	ctx   context.Context
}

// NewBulkLoader starts a bulk load. Close it to load the last batch.
func (s *Store) NewBulkLoader(ctx context.Context, o BulkOptions) *BulkLoader {
	if o.BatchEvents <= 0 {
		o.BatchEvents = 100_000
	}
	b := &BulkLoader{
		s: s, o: o, next: map[string]int64{},
		work: make(chan *bulkBatch, 1), done: make(chan struct{}), errc: make(chan error, 1), ctx: ctx,
	}
	b.cur = b.newBatch()
	go b.flusher()
	return b
}

func (b *BulkLoader) newBatch() *bulkBatch {
	return &bulkBatch{events: make([]BulkEvent, 0, b.o.BatchEvents), version: make([]int64, 0, b.o.BatchEvents), extra: map[string]*copyRows{}}
}

func (b *BulkLoader) failed() error {
	if b.err != nil {
		return b.err
	}
	select {
	case err := <-b.errc:
		b.err = err
	default:
	}
	return b.err
}

// Add queues one event and returns the version it gets. It validates the
// stream id, the type and the shape of data and metadata (the server
// validates the JSON itself).
func (b *BulkLoader) Add(e BulkEvent) (int64, error) {
	if err := b.failed(); err != nil {
		return 0, err
	}
	v, seen := b.next[e.StreamID]
	if !seen {
		if err := ValidateStreamID(e.StreamID); err != nil {
			return 0, err
		}
	}
	switch {
	case e.Type == "":
		return 0, &ValidationError{Field: "type", Index: -1, Reason: fmt.Sprintf("event %d of %s: must be a non-empty string", v, e.StreamID)}
	case len(e.Data) < 2 || e.Data[0] != '{':
		return 0, &ValidationError{Field: "data", Index: -1, Reason: fmt.Sprintf("event %d of %s: must be a JSON object", v, e.StreamID)}
	case len(e.Metadata) > 0 && e.Metadata[0] != '{':
		return 0, &ValidationError{Field: "metadata", Index: -1, Reason: fmt.Sprintf("event %d of %s: must be a JSON object", v, e.StreamID)}
	}
	if e.Personal != nil {
		if err := validatePersonal(-1, e.Personal, e.Data); err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) {
				ve.Reason = fmt.Sprintf("event %d of %s: %s", v, e.StreamID, ve.Reason)
			}
			return 0, err
		}
	}
	if e.ID == (uuid.UUID{}) {
		e.ID = uuid.New()
	}
	if len(e.Metadata) == 0 {
		e.Metadata = json.RawMessage(`{}`)
	}
	b.next[e.StreamID] = v + 1
	b.cur.events = append(b.cur.events, e)
	b.cur.version = append(b.cur.version, v)
	if len(b.cur.events) >= b.o.BatchEvents {
		return v, b.flush()
	}
	return v, nil
}

// Attach adds a row for another table to the current batch: it is copied
// in the same transaction as the batch's events (e.g. a snapshot of a
// version just added).
func (b *BulkLoader) Attach(table pgx.Identifier, columns []string, row []any) {
	key := table.Sanitize()
	r, ok := b.cur.extra[key]
	if !ok {
		r = &copyRows{table: table, columns: columns}
		b.cur.extra[key] = r
		b.cur.order = append(b.cur.order, key)
	}
	r.rows = append(r.rows, row)
}

// Version is the last version added to stream (-1 when none).
func (b *BulkLoader) Version(stream string) int64 {
	if v, ok := b.next[stream]; ok {
		return v - 1
	}
	return -1
}

func (b *BulkLoader) flush() error {
	if len(b.cur.events) == 0 && len(b.cur.order) == 0 {
		return nil
	}
	select {
	case b.work <- b.cur:
	case err := <-b.errc:
		b.err = err
		return err
	}
	b.cur = b.newBatch()
	return nil
}

func (b *BulkLoader) flusher() {
	defer close(b.done)
	failed := false
	for batch := range b.work {
		if failed {
			continue
		}
		if err := b.load(b.ctx, batch); err != nil {
			failed = true
			b.errc <- AsPermission(err, "bulk load", RoleOwner)
			continue
		}
		b.total += int64(len(batch.events))
		if b.o.Progress != nil {
			b.o.Progress(b.total)
		}
	}
}

// Close loads what is left and waits for every batch; it returns the number
// of events committed (also on error: what earlier batches committed).
func (b *BulkLoader) Close() (int64, error) {
	err := b.failed()
	if err == nil {
		err = b.flush()
	}
	close(b.work)
	<-b.done
	if err == nil {
		err = b.failed()
	}
	if err == nil && b.total >= analyzeAfterBulk {
		// A large load can finish before autovacuum's analyze notices it;
		// until then the planner takes the log for empty and scans it (a
		// trace on a fresh 700,000-event seed took seconds, not a
		// millisecond). Fresh statistics cost a second or two here.
		if _, aerr := b.s.pool.Exec(b.ctx, `ANALYZE eventscope.events, eventscope.streams`); aerr != nil {
			err = fmt.Errorf("bulk load: analyze: %w", aerr)
		}
	}
	return b.total, err
}

// analyzeAfterBulk is the size of a bulk load after which it refreshes the
// planner's statistics of the log itself.
const analyzeAfterBulk = 10_000

// load commits one batch: create or advance the streams rows, COPY the
// events (position and tx_id come from their column defaults: the sequence,
// and this transaction's id), copy the attached rows.
func (b *BulkLoader) load(ctx context.Context, batch *bulkBatch) error {
	tx, err := b.s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("bulk load: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op

	// One streams row per stream of the batch: new streams are copied in,
	// streams continued from an earlier batch are advanced.
	type agg struct {
		first, last int64
		count       int64
		created     time.Time
		updated     time.Time
	}
	per := map[string]*agg{}
	var names []string
	for j, e := range batch.events {
		a, ok := per[e.StreamID]
		at := e.RecordedAt
		if at.IsZero() {
			at = time.Now()
		}
		if !ok {
			a = &agg{first: batch.version[j], created: at}
			per[e.StreamID] = a
			names = append(names, e.StreamID)
		}
		a.last, a.updated = batch.version[j], at
		a.count++
	}
	sort.Strings(names)
	var newRows [][]any
	var contIDs []string
	var contVer, contCount []int64
	var contAt []time.Time
	for _, n := range names {
		a := per[n]
		if a.first == 0 {
			newRows = append(newRows, []any{n, Category(n), a.last, a.count, a.created, a.updated})
		} else {
			contIDs, contVer, contCount, contAt = append(contIDs, n), append(contVer, a.last), append(contCount, a.count), append(contAt, a.updated)
		}
	}
	if len(newRows) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"eventscope", "streams"},
			[]string{"stream_id", "category", "version", "event_count", "created_at", "updated_at"}, pgx.CopyFromRows(newRows)); err != nil {
			return bulkError(err)
		}
	}
	if len(contIDs) > 0 {
		tag, err := tx.Exec(ctx, `UPDATE eventscope.streams s
			   SET version = u.version, event_count = s.event_count + u.n, updated_at = u.at, last_tx = pg_current_xact_id()
			  FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::timestamptz[]) AS u(stream_id, version, n, at)
			 WHERE s.stream_id = u.stream_id AND s.version = u.version - u.n`, contIDs, contVer, contCount, contAt)
		if err != nil {
			return bulkError(err)
		}
		if tag.RowsAffected() != int64(len(contIDs)) {
			return fmt.Errorf("bulk load: %d of %d streams continued from an earlier batch changed meanwhile", int64(len(contIDs))-tag.RowsAffected(), len(contIDs))
		}
	}
	// The events go in after the streams rows, in the order Append takes its
	// locks (stream row, then events), so a concurrent append to a stream
	// being created here waits and then conflicts instead of deadlocking.
	// Runs of plain events are copied; runs of events with personal fields
	// are one INSERT each that seals them on the server. Positions follow
	// the order of Add either way.
	for start := 0; start < len(batch.events); {
		personal := batch.events[start].Personal != nil
		end := start + 1
		for end < len(batch.events) && (batch.events[end].Personal != nil) == personal {
			end++
		}
		var err error
		if personal {
			err = insertSealed(ctx, tx, batch, start, end)
		} else {
			err = copyPlain(ctx, tx, batch, start, end)
		}
		if err != nil {
			return err
		}
		start = end
	}

	for _, key := range batch.order {
		r := batch.extra[key]
		if _, err := tx.CopyFrom(ctx, r.table, r.columns, pgx.CopyFromRows(r.rows)); err != nil {
			return fmt.Errorf("bulk load: copy into %s: %w", key, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("bulk load: commit: %w", err)
	}
	cats := map[string]struct{}{}
	for _, n := range names {
		cats[Category(n)] = struct{}{}
	}
	list := make([]string, 0, len(cats))
	for c := range cats {
		list = append(list, c)
	}
	b.s.Wake(list...)
	return nil
}

// ErrStreamExists: a bulk load reached a stream that exists already. The
// error is a *StreamExistsError.
var ErrStreamExists = errors.New("stream exists")

// StreamExistsError names the stream a bulk load could not create.
type StreamExistsError struct{ Detail string }

func (e *StreamExistsError) Error() string {
	return "bulk load: only new streams can be bulk loaded, and this one exists: " + e.Detail
}

// Is makes errors.Is(err, ErrStreamExists) true.
func (e *StreamExistsError) Is(target error) bool { return target == ErrStreamExists }

func bulkError(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23505" && (pg.ConstraintName == "events_pkey" || pg.ConstraintName == "streams_pkey") {
		return &StreamExistsError{Detail: pg.Detail}
	}
	return fmt.Errorf("bulk load: %w", err)
}

// BulkLoad loads new streams, each in version order, one after the other,
// through a BulkLoader. It returns the number of events committed.
func (s *Store) BulkLoad(ctx context.Context, streams []BulkStream, o BulkOptions) (int64, error) {
	b := s.NewBulkLoader(ctx, o)
	for _, st := range streams {
		for _, e := range st.Events {
			if e.StreamID == "" {
				e.StreamID = st.StreamID
			} else if e.StreamID != st.StreamID {
				b.Close() //nolint:errcheck // reporting the caller's mistake instead
				return 0, &ValidationError{Field: "stream_id", Index: -1, Reason: fmt.Sprintf("event of %s listed under %s", e.StreamID, st.StreamID)}
			}
			if _, err := b.Add(e); err != nil {
				n, _ := b.Close()
				return n, err
			}
		}
	}
	return b.Close()
}

func recordedAt(e BulkEvent) time.Time {
	if e.RecordedAt.IsZero() {
		return time.Now()
	}
	return e.RecordedAt
}

// copyPlain copies events [start, end) of the batch (none marks personal fields).
func copyPlain(ctx context.Context, tx pgx.Tx, batch *bulkBatch, start, end int) error {
	i := start
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i >= end {
			return nil, nil
		}
		e := batch.events[i]
		row := []any{e.StreamID, batch.version[i], e.ID, e.Type, []byte(e.Data), []byte(e.Metadata), recordedAt(e)}
		i++
		return row, nil
	})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"eventscope", "events"},
		[]string{"stream_id", "version", "event_id", "type", "data", "metadata", "recorded_at"}, src); err != nil {
		return bulkError(err)
	}
	return nil
}

// insertSealed inserts events [start, end) of the batch, each marking
// personal fields, sealed by eventscope.personal_seal.
func insertSealed(ctx context.Context, tx pgx.Tx, batch *bulkBatch, start, end int) error {
	n := end - start
	streams, types := make([]string, n), make([]string, n)
	versions := make([]int64, n)
	ids := make([]uuid.UUID, n)
	data, meta, marks := make([]string, n), make([]string, n), make([]string, n)
	ats := make([]time.Time, n)
	for j := range n {
		e := batch.events[start+j]
		pj, err := json.Marshal(e.Personal)
		if err != nil {
			return fmt.Errorf("bulk load: %w", err)
		}
		streams[j], versions[j], ids[j], types[j] = e.StreamID, batch.version[start+j], e.ID, e.Type
		data[j], meta[j], marks[j], ats[j] = string(e.Data), string(e.Metadata), string(pj), recordedAt(e)
	}
	_, err := tx.Exec(ctx, `INSERT INTO eventscope.events (stream_id, version, event_id, type, data, metadata, recorded_at, personal)
		SELECT u.s, u.v, u.id, u.t, x.sealed_doc, u.m, u.at, x.sealed_personal
		  FROM unnest($1::text[], $2::bigint[], $3::uuid[], $4::text[], $5::jsonb[], $6::jsonb[], $7::timestamptz[], $8::jsonb[])
		       WITH ORDINALITY AS u(s, v, id, t, d, m, at, p, ord)
		 CROSS JOIN LATERAL eventscope.personal_seal(u.d, u.p) AS x
		 ORDER BY u.ord`, streams, versions, ids, types, data, meta, ats, marks)
	if err != nil {
		return bulkError(translate("", Any, err))
	}
	return nil
}
