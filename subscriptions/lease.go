package subscriptions

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// leaseLink is the lease loop's news about a subscription's advisory lock:
// written by the lease loop only, read by the subscription's goroutine.
type leaseLink struct {
	locked atomic.Bool   // the lease connection holds the lock
	gen    atomic.Uint64 // bumped every time the lock is taken
}

// holding is the goroutine's lease: whether it acts as the holder, under
// which lease epoch (the fence of every write) and reset version.
type holding struct {
	active        bool
	gen           uint64 // the leaseLink generation it activated under
	epoch         int64
	resetVersion  int64
	lastConfirmed time.Time // the lease was last confirmed (a fenced write or a check)
}

// syncLease follows the lease loop: it deactivates the subscription when
// its lock was lost (or lost and taken again) and activates it when its
// lock is held. It reports false when the goroutine should wait.
func (s *sub) syncLease(ctx context.Context) bool {
	locked, gen := s.link.locked.Load(), s.link.gen.Load()
	if s.lease.active && (!locked || gen != s.lease.gen) {
		s.logf("lease lost (epoch %d); standing by", s.lease.epoch)
		s.deactivate(ctx, false)
	}
	if locked && !s.owned() {
		// A group's partition this member no longer owns: save the
		// checkpoint, clear the holder, then let the lock go to its owner.
		if s.lease.active {
			s.logf("handing the partition over (epoch %d) at checkpoint %s", s.lease.epoch, s.cp.cursor)
			s.deactivate(ctx, true)
		}
		s.link.locked.Store(false)
		s.r.requestUnlock(s.key)
		return true
	}
	if !s.lease.active && locked {
		if err := s.activate(ctx, gen); err != nil {
			s.dbError(ctx, "taking the lease", err)
			return false
		}
	}
	return true
}

// errLockNotHeld: the lease connection's backend does not hold the
// subscription's advisory lock (the connection died or was replaced).
var errLockNotHeld = errors.New("the lease connection does not hold the subscription's lock")

// activate takes over the subscription: a new lease epoch fences out every
// earlier holder, and the checkpoint is read after it.
//
// The new epoch is committed only while the lease connection's backend
// (leasePID) really holds the subscription's advisory lock: a process whose
// lease backend died (its lock perhaps already taken by another process)
// but has not noticed yet must not fence out the real holder.
func (s *sub) activate(ctx context.Context, gen uint64) error {
	s.r.unlockMu.Lock()
	leasePID := s.r.leasePID
	s.r.unlockMu.Unlock()
	if leasePID == 0 {
		return errLockNotHeld
	}
	// A bigint advisory key is classid (high 32 bits), objid (low 32 bits), objsubid 1.
	classid, objid := int64(uint64(s.key)>>32), int64(uint64(s.key)&0xffffffff)
	c, err := scanRowControl(s.r.db.QueryRow(ctx, activateSQL, s.def.Name, s.r.host, s.r.pid, s.r.o.Instance, s.def.Categories, s.def.Types,
		int64(leasePID), classid, objid, s.key))
	if errors.Is(err, pgx.ErrNoRows) {
		var exists bool
		if err := s.r.db.QueryRow(ctx, rowExistsSQL, s.def.Name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return errLockNotHeld // the lease loop will notice its connection is gone
		}
		s.markDeleted()
		return nil
	}
	if err != nil {
		return err
	}
	s.lease.active, s.lease.gen = true, gen
	s.in.ctrlPending.Store(false)
	s.in.needVerify.Store(false)
	s.apply(c)
	s.errBackoff.reset()
	s.logf("holding the lease (epoch %d) from checkpoint %s", c.epoch, c.cursor)
	return nil
}

// reload re-reads the row after a control change and acknowledges it
// (applied_control_version). The checkpoint is taken from the row: a reset
// moved it, and otherwise it equals what this holder wrote last.
func (s *sub) reload(ctx context.Context) bool {
	c, err := scanRowControl(s.r.db.QueryRow(ctx, reloadSQL, s.def.Name, s.lease.epoch))
	if errors.Is(err, pgx.ErrNoRows) {
		return s.verify(ctx)
	}
	if err != nil {
		s.in.ctrlPending.Store(true)
		s.dbError(ctx, "reloading control state", err)
		return false
	}
	if c.resetVersion != s.lease.resetVersion || c.cursor != s.cp.cursor {
		s.logf("checkpoint set to %s", c.cursor)
	}
	s.apply(c)
	return true
}

// verify confirms the lease: the row exists and still carries this
// holder's epoch. A control change it notices is left for reload.
func (s *sub) verify(ctx context.Context) bool {
	var epoch, rv, cv int64
	err := s.r.db.QueryRow(ctx, verifySQL, s.def.Name).Scan(&epoch, &rv, &cv)
	if errors.Is(err, pgx.ErrNoRows) {
		s.markDeleted()
		return false
	}
	if err != nil {
		s.in.needVerify.Store(true)
		s.dbError(ctx, "confirming the lease", err)
		return false
	}
	if epoch != s.lease.epoch {
		// Another holder took over: this process's lock must be gone too
		// (or the row was recreated). Stand by and let the lease loop find
		// out which.
		s.logf("lease taken over (epoch %d, ours %d); standing by", epoch, s.lease.epoch)
		s.deactivate(ctx, false)
		s.link.locked.Store(false)
		s.r.requestUnlock(s.key)
		return false
	}
	s.lease.lastConfirmed = time.Now()
	if rv != s.lease.resetVersion || cv != s.public().controlVersion {
		s.in.ctrlPending.Store(true)
		s.in.kick.send()
		return false
	}
	return true
}

func (s *sub) markDeleted() {
	if s.in.deleted.Swap(true) {
		return
	}
	s.logf("the subscription was deleted; this runner stops it (restart the process to create it again)")
	s.lease.active = false
	s.publish(func(p *pubState) { p.active = false })
	s.link.locked.Store(false)
	s.r.requestUnlock(s.key)
}

// deactivate stops holding. graceful clears the holder columns (when this
// process stops); after a lost lease they belong to the next holder.
func (s *sub) deactivate(ctx context.Context, graceful bool) {
	if !s.lease.active {
		return
	}
	if graceful {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		s.flush(fctx)
		cancel()
	}
	s.lease.active = false
	s.publish(func(p *pubState) { p.active = false; p.rate = 0 })
	if graceful {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if _, err := s.r.db.Exec(cctx, releaseSQL, s.def.Name, s.lease.epoch); err != nil {
			s.logf("releasing the holder row: %v", err)
		}
	}
}
