package store_test

import (
	"strings"
	"testing"

	"eventscope/store"
)

// TestStatsRedactsTheBlockersLiterals (issue 8 item 15): Stats names the
// transaction that holds the log back by its statement's shape; the
// literals (a password in an INSERT) only with FullQuery.
func TestStatsRedactsTheBlockersLiterals(t *testing.T) {
	t.Parallel()
	st, ctx := setupPrivate(t)
	tx, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_current_xact_id(), 'hunter2-secret' AS password, 4111111111111111 AS card`); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, st, "order-1", store.Any, ev("OrderPlaced", `{}`))
	s, err := st.Stats(ctx, store.StatsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Blocker == nil {
		t.Fatalf("no blocker: %+v", s)
	}
	if q := s.Blocker.Query; strings.Contains(q, "hunter2") || strings.Contains(q, "4111") || !strings.Contains(q, "pg_current_xact_id() , ? AS password") && !strings.Contains(q, "pg_current_xact_id(), ? AS password, ? AS card") {
		t.Fatalf("blocker query %q: want the shape with literals redacted", q)
	}
	full, err := st.Stats(ctx, store.StatsOptions{FullQuery: true})
	if err != nil {
		t.Fatal(err)
	}
	if full.Blocker == nil || !strings.Contains(full.Blocker.Query, "hunter2-secret") {
		t.Fatalf("FullQuery blocker %+v: want the full text", full.Blocker)
	}
}
