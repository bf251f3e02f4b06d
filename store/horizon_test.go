package store_test

import (
	"testing"

	"eventscope/store"
)

// TestHorizonNamesWhatHoldsTheLogBack (issue 14 item 6): Horizon, the one
// source of the console's head and held-back state, gives the head below
// an open transaction, the committed events waiting behind it and the
// transaction's pid; when it ends, the head moves on and nothing waits.
func TestHorizonNamesWhatHoldsTheLogBack(t *testing.T) {
	t.Parallel()
	st, ctx := setupPrivate(t) // the held transaction holds the whole cluster back
	mustAppend(t, st, "order-1", store.Any, ev("OrderPlaced", `{}`))
	h, err := st.Horizon(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Pending != 0 || h.Blocker != nil || h.Head.Pos == 0 {
		t.Fatalf("nothing held: %+v", h)
	}
	before := h.Head

	tx, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var pid int
	var xid string
	if err := tx.QueryRow(ctx, `SELECT pg_backend_pid(), pg_current_xact_id()::text`).Scan(&pid, &xid); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, st, "order-2", store.Any, ev("OrderPlaced", `{}`), ev("OrderApproved", `{}`))
	h, err = st.Horizon(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Head != before || h.Pending != 2 || h.PendingMore || h.Blocker == nil || h.Blocker.PID != pid {
		t.Fatalf("held back by pid %d: %+v (blocker %+v), want head %s and 2 waiting", pid, h, h.Blocker, before)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	h, err = st.Horizon(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Pending != 0 || h.Blocker != nil || !before.Less(h.Head) {
		t.Fatalf("released: %+v, want the head past %s", h, before)
	}
	head, err := st.Head(ctx)
	if err != nil || head != h.Head {
		t.Fatalf("Head = %s, %v; Horizon's head %s", head, err, h.Head)
	}
}
