package subscriptions

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"eventscope/store"
)

// handlerFailure is a TxHandler's own error for the event at index at.
type handlerFailure struct {
	at  int
	e   store.Event
	err error
}

func (f *handlerFailure) Error() string { return f.err.Error() }
func (f *handlerFailure) Unwrap() error { return f.err }

// handleInTx is the one way a TxHandler's work is committed (a batch, one
// event, or a parked event delivered again): a transaction on the pool in
// which handle runs the handler, then seal writes the subscription's fenced
// bookkeeping (the checkpoint, or removing the parked event), then commit.
//
// handle returns a *handlerFailure when the handler failed, or errAbort to
// stop quietly. It returns (nil, true) when the transaction committed;
// (herr, false) when the handler failed with an error of its own (rolled
// back, to be retried or parked); (nil, false) when delivery must stop: a
// database error (logged, retried later), a transient error of the
// handler's transaction (never counted as the handler's failure: it would
// park events whenever the server restarts), a refused fenced write, or ctx.
func (s *sub) handleInTx(ctx context.Context, handle func(tx pgx.Tx) error, seal func(tx pgx.Tx) bool) (herr *handlerFailure, committed bool) {
	tx, err := s.r.db.beginIdleBounded(ctx, s.r.o.TxIdleTimeout)
	if err != nil {
		s.dbError(ctx, "beginning a transaction", err)
		return nil, false
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	if err := handle(tx); err != nil {
		var hf *handlerFailure
		switch {
		case !errors.As(err, &hf), ctx.Err() != nil:
			return nil, false
		case transientTxError(tx, hf.err):
			s.dbError(ctx, "handling "+describeEvent(hf.e)+" (transient database error, retrying)", hf.err)
			return nil, false
		}
		return hf, false
	}
	if !seal(tx) {
		return nil, false
	}
	if err := tx.Commit(ctx); err != nil {
		// The commit's outcome is unknown: take the state from the row.
		s.in.ctrlPending.Store(true)
		s.dbError(ctx, "committing", err)
		return nil, false
	}
	return nil, true
}

// callTx runs the TxHandler on one event, as handleInTx's handle wants it.
func (s *sub) callTx(ctx context.Context, tx pgx.Tx, at int, e store.Event) error {
	if err := s.timed(func() error { return s.def.TxHandler(ctx, tx, e) }); err != nil {
		return &handlerFailure{at: at, e: e, err: err}
	}
	return nil
}

// sealCheckpoint moves the checkpoint to cp (n more events processed) in
// the handler's transaction.
func (s *sub) sealCheckpoint(ctx context.Context, tx pgx.Tx, cp store.Checkpoint, n int) bool {
	fenced, err := s.writeCheckpoint(ctx, tx, cp, n)
	if err != nil {
		s.dbError(ctx, "saving the checkpoint", err)
		return false
	}
	return fenced
}

// txBatch runs the handler over evs in one transaction that moves the
// checkpoint to next. failedAt is the index of a failing event (-1 when
// all succeeded); ok is false when delivery must stop (lease, control,
// database).
func (s *sub) txBatch(ctx context.Context, evs []store.Event, next store.Checkpoint) (failedAt int, herr error, ok bool) {
	done := 0
	hf, committed := s.handleInTx(ctx, func(tx pgx.Tx) error {
		for j, e := range evs {
			if !s.canDeliver(ctx) {
				break
			}
			if err := s.callTx(ctx, tx, j, e); err != nil {
				return err
			}
			done = j + 1
		}
		if done == 0 {
			return errAbort
		}
		if done < len(evs) {
			next = evs[done-1].Checkpoint // interrupted: commit what was handled
		}
		return nil
	}, func(tx pgx.Tx) bool { return s.sealCheckpoint(ctx, tx, next, done) })
	if hf != nil {
		return hf.at, hf.err, true
	}
	if !committed {
		return -1, nil, false
	}
	s.stats.processed.Add(int64(done))
	s.markSaved(next)
	return -1, nil, done == len(evs)
}

// txOne delivers one event in a transaction that moves the checkpoint to cp.
func (s *sub) txOne(ctx context.Context, e store.Event, cp store.Checkpoint) error {
	hf, committed := s.handleInTx(ctx,
		func(tx pgx.Tx) error { return s.callTx(ctx, tx, 0, e) },
		func(tx pgx.Tx) bool { return s.sealCheckpoint(ctx, tx, cp, 1) })
	if hf != nil {
		return hf.err
	}
	if !committed {
		return errAbort
	}
	s.stats.processed.Add(1)
	s.markSaved(cp)
	return nil
}

// transientTxError reports whether a TxHandler's error is the database's
// rather than the handler's: the transaction's connection is gone, the
// server is shutting down or cancelled the statement, or the transaction
// lost a deadlock or serialization conflict. Such an error aborts the
// delivery (retried later, no attempt counted, never parked), as a failed
// Begin does: counting it would park events, and move the checkpoint past
// them, whenever the server restarts.
func transientTxError(tx pgx.Tx, err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if tx != nil && tx.Conn() != nil && tx.Conn().IsClosed() {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch {
		case len(pg.Code) == 5 && (pg.Code[:2] == "08" || pg.Code[:2] == "57"):
			return true // connection exception; operator intervention (57P01 terminated, 57014 canceled)
		case pg.Code == "40001", pg.Code == "40P01":
			return true // serialization failure, deadlock
		case pg.Code == "55P03":
			return true // lock_timeout: another session holds a lock; not the handler's failure
		case pg.Code == "25P03":
			return true // the transaction sat idle past TxIdleTimeout
		}
		return false
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}
