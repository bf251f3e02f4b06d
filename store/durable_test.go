package store_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// TestAppendCommitsDurably (migration 021): a writer's session with
// synchronous_commit off would make its appends visible before they are on
// disk, and a crash would lose them after subscribers delivered them (and
// could hand their transaction ids out again, below a checkpoint taken from
// them). Every writing function sets synchronous_commit back on for the rest
// of the transaction: the fast path, the general path (a new stream),
// append_batch's set path and append_multi; the session's own setting is
// back after the transaction, and a durable setting other than on (local)
// is left alone.
func TestAppendCommitsDurably(t *testing.T) {
	owner, url, ctx := roleSetup(t, store.RoleWriter)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	show := func() string {
		t.Helper()
		var v string
		if err := conn.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	const ev = `[{"type":"OrderNoted","data":{}}]`
	for _, c := range []struct{ name, sql string }{
		{"fast path", `SELECT eventscope.append('order-1', NULL, '` + ev + `')`},
		{"fast path, exact version", `SELECT eventscope.append('order-1', 1, '` + ev + `')`},
		{"general path", `SELECT eventscope.append('order-durable', -1, '` + ev + `')`},
		{"append_batch", `SELECT count(*) FROM eventscope.append_batch('[{"stream_id":"order-1","events":` + ev + `},{"stream_id":"order-durable","events":` + ev + `}]')`},
		{"append_multi", `SELECT cardinality(eventscope.append_multi('[{"stream_id":"order-1","events":` + ev + `},{"stream_id":"order-durable2","expected_version":-1,"events":` + ev + `}]'))`},
	} {
		if _, err := conn.Exec(ctx, `SET synchronous_commit = off`); err != nil {
			t.Fatal(err)
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := tx.QueryRow(ctx, c.sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if v := show(); v != "on" {
			t.Fatalf("%s: synchronous_commit is %q inside the appending transaction, want on", c.name, v)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if v := show(); v != "off" {
			t.Fatalf("%s: the session's setting after the transaction is %q, want its own off", c.name, v)
		}
	}
	// An autocommitted append in an "off" session, then the session's own setting.
	var v int64
	if err := conn.QueryRow(ctx, `SELECT eventscope.append('order-1', NULL, '`+ev+`')`).Scan(&v); err != nil || v != 5 {
		t.Fatalf("autocommitted append: %d %v", v, err)
	}
	if s := show(); s != "off" {
		t.Fatalf("after an autocommitted append the session says %q", s)
	}
	// local flushes locally before the commit is visible: left alone.
	if _, err := conn.Exec(ctx, `SET synchronous_commit = local`); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow(ctx, `SELECT eventscope.append('order-1', NULL, '`+ev+`')`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if s := show(); s != "local" {
		t.Fatalf("synchronous_commit local became %q", s)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if info, err := owner.StreamInfo(ctx, "order-1"); err != nil || info.Version != 6 {
		t.Fatalf("order-1: %+v %v", info, err)
	}
}
