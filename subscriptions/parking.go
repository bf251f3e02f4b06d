package subscriptions

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// park moves the checkpoint past e (counting n events processed before it)
// and parks e, in one fenced statement.
func (s *sub) park(ctx context.Context, e store.Event, n, attempts int, herr error) bool {
	msg := errString(herr)
	hist, first := s.tries.of(e.EventID)
	var one int
	err := s.r.db.QueryRow(ctx, parkSQL, s.def.Name, s.lease.epoch, e.Checkpoint.Tx, e.Checkpoint.Pos, n, s.lease.resetVersion, e.EventID, attempts, msg, first, hist).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		s.in.needVerify.Store(true)
		return false
	}
	if err != nil {
		s.dbError(ctx, "parking "+describeEvent(e), err)
		return false
	}
	s.logf("parked %s after %d attempts: %s", describeEvent(e), attempts, msg)
	s.markSaved(e.Checkpoint)
	s.publish(func(p *pubState) { p.parked++ })
	return true
}

// stopAt stops the subscription before a failing event (StopOnFailure).
func (s *sub) stopAt(ctx context.Context, cp store.Checkpoint, n int, e store.Event, herr error) {
	msg := fmt.Sprintf("%s (stopped at %s after %d attempts)", errString(herr), describeEvent(e), s.def.Retry.Attempts)
	tag, err := s.r.db.Exec(ctx, stopAtSQL, s.def.Name, s.lease.epoch, cp.Tx, cp.Pos, n, s.lease.resetVersion, msg)
	if err != nil {
		s.dbError(ctx, "stopping", err)
		return
	}
	if tag.RowsAffected() == 0 {
		s.in.needVerify.Store(true)
		return
	}
	s.logf("%s", msg)
	s.ctl.stopped = true
	s.markSaved(cp)
	s.setState(StateStopped)
}

// parkedForRetry is a parked event an operator asked to retry.
type parkedForRetry struct {
	attempts int
	e        store.Event
}

// readParkedForRetry reads up to retryBatch parked events to retry, in
// global order; more reports whether there may be others.
func (s *sub) readParkedForRetry(ctx context.Context) (list []parkedForRetry, more bool, err error) {
	rows, err := s.r.db.Query(ctx, parkedForRetrySQL, s.def.Name, retryBatch)
	if err != nil {
		return nil, false, err
	}
	type row struct {
		ID       uuid.UUID
		Attempts int
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		return nil, false, err
	}
	ids := make([]uuid.UUID, len(got))
	for i, g := range got {
		ids[i] = g.ID
	}
	evs, err := s.r.st.EventsByID(ctx, ids)
	if err != nil {
		return nil, false, err
	}
	for _, g := range got {
		if e, ok := evs[g.ID]; ok {
			list = append(list, parkedForRetry{attempts: g.Attempts, e: e})
		}
	}
	return list, len(got) == retryBatch, nil
}

// redeliverParked delivers the parked events an operator asked to retry.
// It reports false when delivery must stop.
func (s *sub) redeliverParked(ctx context.Context) bool {
	for {
		list, more, err := s.readParkedForRetry(ctx)
		if err != nil {
			s.dbError(ctx, "reading parked events", err)
			return false
		}
		for _, p := range list {
			if !s.canDeliver(ctx) {
				return false
			}
			e := p.e
			out, attempts, herr := s.attempt(ctx, e, func(ctx context.Context) error {
				return s.unpark(ctx, e)
			}, 0, nil, nil)
			switch out {
			case delivered:
				s.stats.processed.Add(1)
				s.publish(func(p *pubState) { p.parked-- })
				s.logf("delivered parked %s on retry", describeEvent(e))
			case exhausted:
				hist, first := s.tries.of(e.EventID)
				if _, err := s.r.db.Exec(ctx, reparkSQL, s.def.Name, e.EventID, attempts, errString(herr), hist, first); err != nil {
					s.dbError(ctx, "parking "+describeEvent(e)+" again", err)
					return false
				}
				s.logf("parked %s again after %d more attempts", describeEvent(e), attempts)
			case aborted:
				return false
			}
		}
		if !more {
			s.ctl.retryPending = false
			return true
		}
	}
}

// unpark delivers a parked event again and removes it from the parked
// events (in the handler's transaction for a TxHandler).
func (s *sub) unpark(ctx context.Context, e store.Event) error {
	if s.def.Handler != nil {
		if err := s.timed(func() error { return s.def.Handler(ctx, e) }); err != nil {
			return err
		}
		if !s.sealUnpark(ctx, s.r.db, e) {
			return errAbort
		}
		return nil
	}
	hf, committed := s.handleInTx(ctx,
		func(tx pgx.Tx) error { return s.callTx(ctx, tx, 0, e) },
		func(tx pgx.Tx) bool { return s.sealUnpark(ctx, tx, e) })
	if hf != nil {
		return hf.err
	}
	if !committed {
		return errAbort
	}
	return nil
}

// sealUnpark removes a parked event delivered again, fenced, on q (the pool
// or the handler's transaction). It reports false when the removal was
// refused (lease lost) or found nothing to remove (an operator skipped the
// event meanwhile: a TxHandler's effects are then rolled back).
func (s *sub) sealUnpark(ctx context.Context, q store.Executor, e store.Event) bool {
	var n int64
	err := q.QueryRow(ctx, unparkSQL, s.def.Name, s.lease.epoch, e.EventID).Scan(&n)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		s.in.needVerify.Store(true)
		return false
	case err != nil:
		s.dbError(ctx, "removing a parked event", err)
		return false
	}
	_, inTx := q.(pgx.Tx)
	return n > 0 || !inTx
}
