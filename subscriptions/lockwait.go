package subscriptions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrLockTimeout: an operation gave up waiting for a lock another session
// holds (a row of the subscriptions tables, typically, locked by a hung
// transaction). Retrying later is safe. The errors are *LockTimeoutError.
var ErrLockTimeout = errors.New("lock wait timed out")

// LockTimeoutError is an operation that waited Waited for a lock and gave
// up (SQLSTATE 55P03 under lock_timeout). Err is the server's error.
type LockTimeoutError struct {
	// What names what was waited for, as the server reported it (e.g.
	// `relation "subscriptions"`), or "a lock" when it did not say.
	What   string
	Waited time.Duration
	Err    error
}

func (e *LockTimeoutError) Error() string {
	return fmt.Sprintf("gave up after waiting %s for %s held by another session (retry later, or end the session holding it)", e.Waited, e.What)
}

func (e *LockTimeoutError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrLockTimeout) true.
func (e *LockTimeoutError) Is(target error) bool { return target == ErrLockTimeout }

// Temporary reports that the operation may succeed when retried.
func (e *LockTimeoutError) Temporary() bool { return true }

// DefaultLockTimeout bounds the lock waits of runners and admin operations
// unless their options say otherwise.
const DefaultLockTimeout = 5 * time.Second

// lockErr turns a lock timeout into a *LockTimeoutError naming what was
// waited for; other errors are returned as they are.
func lockErr(err error, waited time.Duration) error {
	var pg *pgconn.PgError
	if err == nil || !errors.As(err, &pg) || pg.Code != "55P03" {
		return err
	}
	var le *LockTimeoutError
	if errors.As(err, &le) {
		return err
	}
	what := "a lock"
	// The server says what it waited on in the error's context, e.g.
	// `while updating tuple (0,1) in relation "subscriptions"`.
	if i := strings.Index(pg.Where, "relation "); i >= 0 {
		what = "a row lock in " + strings.TrimSpace(strings.SplitN(pg.Where[i:], "\n", 2)[0])
	} else if strings.Contains(pg.Message, "relation") {
		what = "a lock: " + pg.Message
	}
	return &LockTimeoutError{What: what, Waited: waited, Err: err}
}

// lockBound runs statements on a pool with every lock wait bounded:
// lock_timeout is set for the statement's own (implicit) transaction, in
// the same round trip (a pipelined batch), or for an explicit one at its
// BEGIN. It is a store.Executor.
type lockBound struct {
	pool    *pgxpool.Pool
	timeout time.Duration
}

func (b lockBound) setTimeout() string {
	return fmt.Sprintf("SET LOCAL lock_timeout = %d", b.timeout.Milliseconds())
}

func (b lockBound) batch(ctx context.Context, sql string, args []any) pgx.BatchResults {
	bt := &pgx.Batch{}
	bt.Queue(`SELECT set_config('lock_timeout', $1, true)`, fmt.Sprintf("%dms", b.timeout.Milliseconds()))
	bt.Queue(sql, args...)
	return b.pool.SendBatch(ctx, bt)
}

// Exec runs one statement.
func (b lockBound) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	br := b.batch(ctx, sql, args)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	return tag, lockErr(err, b.timeout)
}

// Query runs one query; closing the rows ends it.
func (b lockBound) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	br := b.batch(ctx, sql, args)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, lockErr(err, b.timeout)
	}
	return &boundRows{Rows: rows, br: br, timeout: b.timeout}, nil
}

// QueryRow runs a query of at most one row.
func (b lockBound) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := b.Query(ctx, sql, args...)
	return boundRow{rows: rows, err: err}
}

// Begin starts a transaction whose lock waits are bounded, with a single
// round trip.
func (b lockBound) Begin(ctx context.Context) (pgx.Tx, error) {
	return b.pool.BeginTx(ctx, pgx.TxOptions{BeginQuery: "BEGIN; " + b.setTimeout()})
}

// beginIdleBounded is Begin for a handler's transaction: the server also
// ends it after idle of idle (idle_in_transaction_session_timeout), so a
// handler (or a process) that stops in the middle of it cannot hold back
// the global log and the subscription's row for longer.
func (b lockBound) beginIdleBounded(ctx context.Context, idle time.Duration) (pgx.Tx, error) {
	return b.pool.BeginTx(ctx, pgx.TxOptions{BeginQuery: fmt.Sprintf("BEGIN; %s; SET LOCAL idle_in_transaction_session_timeout = %d",
		b.setTimeout(), idle.Milliseconds())})
}

type boundRows struct {
	pgx.Rows
	br      pgx.BatchResults
	timeout time.Duration
	closed  bool
}

func (r *boundRows) Close() {
	r.Rows.Close()
	if !r.closed {
		r.closed = true
		r.br.Close()
	}
}

func (r *boundRows) Err() error { return lockErr(r.Rows.Err(), r.timeout) }

type boundRow struct {
	rows pgx.Rows
	err  error
}

func (r boundRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}
