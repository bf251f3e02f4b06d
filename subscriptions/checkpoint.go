package subscriptions

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// checkpointer is where delivery stands and what of it is saved; the
// goroutine's own.
//
// A Handler's checkpoint while live is saved every BatchSize events or
// flushAfter, whichever comes first: cursor may be ahead of saved, with
// unsaved events processed since (see deliverPlain).
type checkpointer struct {
	cursor     store.Checkpoint // the last event processed or scanned past
	saved      store.Checkpoint // the checkpoint last written
	unsaved    int              // events processed after saved
	dirtySince time.Time        // when the first unsaved event was processed (zero: none)
	flushTimer *time.Timer      // kicks the goroutine flushAfter after dirtySince
}

// flushAfter bounds how long a live Handler's checkpoint stays unsaved.
const flushAfter = 250 * time.Millisecond

func (c *checkpointer) dirty() bool { return !c.dirtySince.IsZero() }

// restart starts again at the stored checkpoint cp (nothing unsaved).
func (c *checkpointer) restart(cp store.Checkpoint) {
	c.cursor, c.saved, c.unsaved, c.dirtySince = cp, cp, 0, time.Time{}
}

func (c *checkpointer) stopTimer() {
	if c.flushTimer != nil {
		c.flushTimer.Stop()
	}
}

func (s *sub) setCursor(cp store.Checkpoint) {
	s.cp.cursor = cp
	s.publish(func(p *pubState) { p.cursor = cp })
}

// advance moves the cursor past n processed events (or past events the
// filter skipped, n = 0) without saving the checkpoint; flush saves it.
func (s *sub) advance(cp store.Checkpoint, n int) {
	s.setCursor(cp)
	s.cp.unsaved += n
	if s.cp.unsaved == 0 {
		// Only events the filter skipped: the heartbeat saves it (forward
		// only, and not across a reset), one statement for all.
		s.publish(func(p *pubState) { p.persistable = cp })
		return
	}
	if s.cp.dirtySince.IsZero() {
		s.cp.dirtySince = time.Now()
		s.cp.stopTimer()
		s.cp.flushTimer = time.AfterFunc(flushAfter, s.in.kick.send)
	}
}

// markSaved records a checkpoint write at cp that counted every unsaved event.
func (s *sub) markSaved(cp store.Checkpoint) {
	s.setCursor(cp)
	s.publish(func(p *pubState) { p.persistable = cp })
	s.cp.saved, s.cp.unsaved, s.cp.dirtySince = cp, 0, time.Time{}
	s.lease.lastConfirmed = time.Now()
}

// flush saves an advanced cursor.
func (s *sub) flush(ctx context.Context) bool {
	if !s.cp.dirty() || !s.lease.active {
		return true
	}
	fenced, err := s.writeCheckpoint(ctx, s.r.st.Pool(), s.cp.cursor, s.cp.unsaved)
	if err != nil {
		s.dbError(ctx, "saving the checkpoint", err)
		return false
	}
	if !fenced {
		return false
	}
	s.markSaved(s.cp.cursor)
	return true
}

// writeCheckpoint moves the checkpoint to cp, counting n more processed
// events, on q (the pool, or the handler's transaction). fenced is false
// when the write was refused: the lease or the control state changed
// (needVerify is then set).
func (s *sub) writeCheckpoint(ctx context.Context, q store.Executor, cp store.Checkpoint, n int) (fenced bool, err error) {
	sql := checkpointSQL
	if _, inTx := q.(pgx.Tx); !inTx {
		sql = asyncCheckpointSQL
	}
	var one int
	err = q.QueryRow(ctx, sql, s.def.Name, s.lease.epoch, cp.Tx, cp.Pos, n, s.lease.resetVersion).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		s.in.needVerify.Store(true)
		s.in.kick.send()
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}
