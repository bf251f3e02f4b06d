package store

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
)

// groupCommitter lets concurrent Append calls of one Store share round
// trips and commits. A call joins a queue; when fewer than InFlight group
// commits are running, the caller itself sends the queue (up to the limits)
// as one eventscope.append_batch call, so an idle writer waits for nothing;
// otherwise it waits while the next batch forms behind the one in flight,
// and whoever finishes a batch hands the queue to a new sender.
//
// Each call keeps its own expected version and outcome: the server reports
// conflicts and closed streams per call and commits the others. The batch
// never waits for a stream lock (append_batch only tries them, before any
// write, so the transaction gets its id after its locks as migration 001
// requires): calls whose stream another transaction holds come back busy
// and are appended on their own, each waiting for its stream as a plain
// append does. So a batch cannot deadlock, nor tie a free stream's append
// to a held one. If the batch raises (an invalid event only the server
// spots, a duplicate id), nothing of it was stored and its calls are
// appended one by one, each getting its own outcome.
type groupCommitter struct {
	s        *Store
	maxCalls int
	maxBytes int
	inFlight int

	mu      sync.Mutex
	queue   []*gcCall
	running int

	batches atomic.Int64 // append_batch calls sent (tests check grouping happened)
	grouped atomic.Int64 // Append calls they carried
}

type gcCall struct {
	ctx      context.Context
	stream   string
	expected ExpectedVersion
	events   []byte // encoded events array
	done     chan gcResult
}

type gcResult struct {
	version int64
	err     error
}

func newGroupCommitter(s *Store) *groupCommitter {
	return &groupCommitter{s: s, maxCalls: s.opts.GroupCommitMaxCalls, maxBytes: s.opts.GroupCommitMaxBytes, inFlight: s.opts.GroupCommitInFlight}
}

func (g *groupCommitter) append(ctx context.Context, stream string, expected ExpectedVersion, events []byte) (int64, error) {
	c := &gcCall{ctx: ctx, stream: stream, expected: expected, events: events, done: make(chan gcResult, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	var batch []*gcCall
	if g.running < g.inFlight {
		g.running++
		batch = g.takeLocked()
	}
	g.mu.Unlock()
	if batch != nil {
		g.send(context.WithoutCancel(ctx), batch)
		g.next()
	}
	select {
	case r := <-c.done:
		return r.version, r.err
	case <-ctx.Done():
		g.mu.Lock()
		for i, q := range g.queue {
			if q == c { // not sent yet: it changes nothing
				g.queue = append(g.queue[:i], g.queue[i+1:]...)
				g.mu.Unlock()
				return 0, ctx.Err()
			}
		}
		g.mu.Unlock()
		// In flight: it may commit or not, as when a plain append is cancelled.
		select {
		case r := <-c.done:
			return r.version, r.err
		default:
			return 0, ctx.Err()
		}
	}
}

// takeLocked removes the next batch from the queue: at most maxCalls calls
// and maxBytes of events (always at least one call).
func (g *groupCommitter) takeLocked() []*gcCall {
	n, size := 0, 0
	for n < len(g.queue) && n < g.maxCalls {
		size += len(g.queue[n].events)
		if n > 0 && size > g.maxBytes {
			break
		}
		n++
	}
	batch := make([]*gcCall, n)
	copy(batch, g.queue[:n])
	g.queue = append(g.queue[:0], g.queue[n:]...)
	return batch
}

// next hands the queue on to a new sender, or gives the slot back.
func (g *groupCommitter) next() {
	g.mu.Lock()
	if len(g.queue) == 0 {
		g.running--
		g.mu.Unlock()
		return
	}
	batch := g.takeLocked()
	g.mu.Unlock()
	go func() {
		g.send(context.WithoutCancel(batch[0].ctx), batch)
		g.next()
	}()
}

const appendBatchSQL = `SELECT version, error_code, error_message, error_detail FROM eventscope.append_batch($1)`

// send runs one batch and completes each of its calls.
func (g *groupCommitter) send(ctx context.Context, batch []*gcCall) {
	if len(batch) == 1 {
		c := batch[0]
		v, err := g.s.appendOne(c.ctx, c.stream, c.expected, c.events)
		c.done <- gcResult{v, err}
		return
	}
	g.batches.Add(1)
	g.grouped.Add(int64(len(batch)))
	var buf bytes.Buffer
	size := 2
	for _, c := range batch {
		size += len(c.events) + len(c.stream) + 64
	}
	buf.Grow(size)
	buf.WriteByte('[')
	for i, c := range batch {
		if i > 0 {
			buf.WriteByte(',')
		}
		appendItem(&buf, c.stream, c.expected, c.events)
	}
	buf.WriteByte(']')

	results := make([]gcResult, len(batch))
	busy := make([]bool, len(batch))
	err := func() error {
		rows, err := g.s.pool.Query(ctx, appendBatchSQL, buf.Bytes())
		if err != nil {
			return err
		}
		defer rows.Close()
		i := 0
		for rows.Next() {
			var (
				v                 *int64
				code, msg, detail *string
			)
			if err := rows.Scan(&v, &code, &msg, &detail); err != nil {
				return err
			}
			if i >= len(batch) {
				return errors.New("append_batch returned more rows than appends")
			}
			switch {
			case v != nil:
				results[i].version = *v
			case code != nil && *code == "busy":
				busy[i] = true
			case code != nil:
				pg := &pgconn.PgError{Severity: "ERROR", Code: *code, Message: deref(msg), Detail: deref(detail)}
				results[i].err = translate(batch[i].stream, batch[i].expected, pg)
			}
			i++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if i != len(batch) {
			return errors.New("append_batch returned fewer rows than appends")
		}
		return nil
	}()
	if err != nil {
		var pg *pgconn.PgError
		if !errors.As(err, &pg) {
			// The connection failed: the batch may or may not have
			// committed, as for a plain append whose connection fails.
			for _, c := range batch {
				c.done <- gcResult{err: err}
			}
			return
		}
		// The server raised: nothing of the batch is stored. One by one,
		// each call gets its own outcome.
		for i := range busy {
			busy[i] = true
		}
	} else {
		var cats []string
		for i, c := range batch {
			if !busy[i] && results[i].err == nil {
				cats = append(cats, Category(c.stream))
			}
		}
		if g.s.wake != nil && len(cats) > 0 {
			g.s.wake.kick(cats...)
		}
	}
	for i, c := range batch {
		if !busy[i] {
			c.done <- results[i]
			continue
		}
		// Each on its own connection, concurrently and outside the
		// batch's slot: a held stream holds back only its own calls.
		go func() {
			v, err := g.s.appendOne(c.ctx, c.stream, c.expected, c.events)
			c.done <- gcResult{v, err}
		}()
	}
}

// appendOne is one append in its own round trip and transaction.
func (s *Store) appendOne(ctx context.Context, stream string, expected ExpectedVersion, events []byte) (int64, error) {
	var v int64
	if err := s.pool.QueryRow(ctx, appendSQL, stream, expected.sqlArg(), events).Scan(&v); err != nil {
		return 0, translate(stream, expected, err)
	}
	if s.wake != nil {
		s.wake.kick(Category(stream))
	}
	return v, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
