package subscriptions

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// An event the store holds but a reader cannot decode (JSON nested deeper
// than Go's decoder takes, stored through plain SQL before the SQL API
// refused it, say) must not stall the reader: every read of the log goes
// through readPast, which returns the events before such an event and the
// event itself (its identity and place, without its data) for the reader to
// get past: a subscription parks it, the shared log starts again after it,
// a follower reports it and moves on.

// unreadable is an event the store could not decode for a reader.
type unreadable struct {
	event store.Event // identity and place only: Data and Metadata are nil
	err   error       // why it could not be read
}

// isDecodeError reports whether a read failed on decoding a row (rather
// than on the database or the connection).
func isDecodeError(err error) bool {
	var sae pgx.ScanArgError
	return errors.As(err, &sae)
}

// readPast reads the page after `after` as st.ReadAll does. When the page
// holds an event that cannot be decoded, it returns the events before it
// (page.Next is just before it) and the event as bad; a reader that
// resumes after bad.event.Checkpoint gets past it.
func readPast(ctx context.Context, st *store.Store, after store.Checkpoint, o store.ReadAllOptions) (page store.Page, bad *unreadable, err error) {
	page, err = st.ReadAll(ctx, after, o)
	if err == nil || !isDecodeError(err) {
		return page, nil, err
	}
	readErr := err
	limit := o.Limit
	if limit <= 0 {
		limit = 1000
	}
	// The scanned window, without data: the bad event is one of these.
	refs, err := st.RefsAfter(ctx, after, limit)
	if err != nil {
		return store.Page{Next: after}, nil, err
	}
	// The smallest k whose window of k events fails holds the bad event
	// last (windows only grow at their end: what a read saw stays first).
	fails := func(k int) (bool, store.Page, error) {
		po := o
		po.Limit = k
		p, err := st.ReadAll(ctx, after, po)
		switch {
		case err == nil:
			return false, p, nil
		case isDecodeError(err):
			readErr = err
			return true, p, nil
		}
		return false, p, err
	}
	lo, hi := 1, len(refs) // fails(hi) is presumed; fails(lo-1) is false
	if bad, p, err := fails(hi); err != nil || !bad {
		return p, nil, err // not reproduced: the page as it is now
	}
	for lo < hi {
		mid := (lo + hi) / 2
		bad, _, err := fails(mid)
		if err != nil {
			return store.Page{Next: after}, nil, err
		}
		if bad {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	page = store.Page{Next: after}
	if lo > 1 {
		var err error
		po := o
		po.Limit = lo - 1
		if page, err = st.ReadAll(ctx, after, po); err != nil {
			return store.Page{Next: after}, nil, err
		}
	}
	r := refs[lo-1]
	return page, &unreadable{
		event: store.Event{StreamID: r.StreamID, Version: r.Version, Position: r.Checkpoint.Pos, Checkpoint: r.Checkpoint, EventID: r.EventID, Type: r.Type},
		err:   readErr,
	}, nil
}

// DefaultPageBytes is the default bound of one page read by a subscription
// or a follower: about this many bytes of events' data and metadata.
const DefaultPageBytes = 16 << 20

// readBounded is readPast with the page bounded by bytes as well as by
// o.Limit: when o.Limit events could exceed maxBytes (at the store's event
// size cap), the store says how many fit first (PageFit, one more round
// trip). full reports that a limit cut the page: more may follow at once.
func readBounded(ctx context.Context, st *store.Store, after store.Checkpoint, o store.ReadAllOptions, maxBytes int64) (page store.Page, bad *unreadable, full bool, err error) {
	if o.Limit <= 0 {
		o.Limit = 1000
	}
	if o.Limit > smallPage(st, maxBytes) {
		fit, err := st.PageFit(ctx, after, o, maxBytes)
		if err != nil {
			return store.Page{Next: after}, nil, false, err
		}
		o.Limit = fit
	}
	page, bad, err = readPast(ctx, st, after, o)
	return page, bad, page.Scanned >= o.Limit || bad != nil, err
}

// smallPage is the page size that stays within maxBytes even if every event
// is as large as the store allows: no need to ask PageFit.
func smallPage(st *store.Store, maxBytes int64) int {
	return int(max(1, maxBytes/int64(max(st.Options().MaxEventBytes, 1<<20))))
}

// eventBytes is what an event read holds in memory, about.
func eventBytes(e store.Event) int64 {
	return int64(len(e.Data) + len(e.Metadata) + len(e.StreamID) + len(e.Type) + 160)
}
