package subscriptions

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"eventscope/internal/testdb"
	"eventscope/store"
)

// TestRolesRunAsWriterAdministerAsAdmin: a subscriber runs as a writer
// (registers, checkpoints, parks, redelivers a retried event); the writer
// and a reader may not administer it, directly or through Admin; an admin
// may (pause, resume, retry, skip, reset, delete).
func TestRolesRunAsWriterAdministerAsAdmin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	ws := testdb.Open(t, testdb.LoginRole(t, b.url, store.RoleWriter), store.Options{})
	rs := testdb.Open(t, testdb.LoginRole(t, b.url, store.RoleReader), store.Options{})
	as := testdb.Open(t, testdb.LoginRole(t, b.url, store.RoleAdmin), store.Options{})

	appendN(t, b.st, "order", 3, 20)
	var poison atomic.Bool
	poison.Store(true)
	rec := newRecorder()
	handler := func(ctx context.Context, e store.Event) error {
		var d struct{ N int }
		_ = json.Unmarshal(e.Data, &d)
		if d.N == 7 && poison.Load() {
			return errors.New("poisoned")
		}
		return rec.handle(ctx, e)
	}
	r := NewRunner(ws, RunnerOptions{Logf: testLogf(t)})
	if err := r.Add(Subscription{Name: "roles", Handler: handler, Retry: RetryPolicy{Attempts: 2, Initial: time.Millisecond, Max: time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	run(t, r)
	waitFor(t, "catch-up as writer", 30*time.Second, func() bool { return rec.count() >= 19 })
	var parked []ParkedEvent
	waitFor(t, "the poisoned event parked", 30*time.Second, func() bool {
		var err error
		parked, err = NewAdmin(rs).Parked(ctx, "roles")
		return err == nil && len(parked) == 1
	})

	// Neither the reader nor the writer administers.
	for who, st := range map[string]*store.Store{"reader": rs, "writer": ws} {
		adm := NewAdmin(st)
		for op, err := range map[string]error{
			"pause":  adm.Pause(ctx, "roles"),
			"reset":  adm.Reset(ctx, "roles", ResetTarget{Kind: ResetStart}),
			"retry":  adm.Retry(ctx, "roles", parked[0].Event.EventID),
			"skip":   adm.Skip(ctx, "roles", parked[0].Event.EventID),
			"delete": adm.Delete(ctx, "roles"),
		} {
			var pe *store.PermissionError
			if !errors.As(err, &pe) || pe.Role != store.RoleAdmin {
				t.Errorf("%s %s: want a PermissionError naming %s, got %v", who, op, store.RoleAdmin, err)
			}
		}
	}
	// Nor directly, past Admin: what the guard and the column privileges keep.
	for _, sql := range []string{
		`UPDATE eventscope.subscriptions SET paused = true WHERE name = 'roles'`,
		`UPDATE eventscope.subscriptions SET reset_version = reset_version + 1 WHERE name = 'roles'`,
		`UPDATE eventscope.parked_events SET retry_requested = true WHERE subscription = 'roles'`,
		`DELETE FROM eventscope.parked_events WHERE subscription = 'roles'`,
		`DELETE FROM eventscope.subscriptions WHERE name = 'roles'`,
	} {
		_, err := ws.Pool().Exec(ctx, sql)
		var pg *pgconn.PgError
		if !errors.As(err, &pg) || pg.Code != "42501" {
			t.Errorf("writer %s: want 42501, got %v", sql, err)
		}
	}
	if l, err := NewAdmin(rs).Parked(ctx, "roles"); err != nil || len(l) != 1 || l[0].RetryRequested {
		t.Fatalf("parked after the refusals: %+v %v", l, err)
	}

	// The admin retries; the writer redelivers it and unparks it.
	adm := NewAdmin(as)
	poison.Store(false)
	if err := adm.Retry(ctx, "roles", parked[0].Event.EventID); err != nil {
		t.Fatalf("admin retry: %v", err)
	}
	waitFor(t, "the retried event redelivered by the writer", 30*time.Second, func() bool {
		l, err := adm.Parked(ctx, "roles")
		return err == nil && len(l) == 0 && rec.count() >= 20
	})
	if err := adm.Pause(ctx, "roles"); err != nil {
		t.Fatalf("admin pause: %v", err)
	}
	if err := adm.Resume(ctx, "roles"); err != nil {
		t.Fatalf("admin resume: %v", err)
	}
	if err := adm.Reset(ctx, "roles", ResetTarget{Kind: ResetEnd}); err != nil {
		t.Fatalf("admin reset: %v", err)
	}
	appendN(t, b.st, "order", 3, 3)
	waitFor(t, "live after the reset", 30*time.Second, func() bool { return rec.count() >= 23 })
}

// TestRolesGroupMembersRunAsWriter: the members of a group (competing
// consumers) run as a writer: they create the partition rows, record
// themselves as members, share the partitions and deliver every event; a
// reader sees the group and its members but cannot join it.
func TestRolesGroupMembersRunAsWriter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	writerURL := testdb.LoginRole(t, b.url, store.RoleWriter)
	rs := testdb.Open(t, testdb.LoginRole(t, b.url, store.RoleReader), store.Options{})

	appendN(t, b.st, "grp", 6, 60)
	const parts = 4
	rec := newRecorder()
	for _, inst := range []string{"a", "b"} {
		ws := testdb.Open(t, writerURL, store.Options{})
		r := NewRunner(ws, RunnerOptions{Instance: inst, PollInterval: 100 * time.Millisecond, Logf: testLogf(t)})
		if err := r.Add(Subscription{Name: "g", Categories: []string{"grp"}, Partitions: parts, Handler: rec.handle}); err != nil {
			t.Fatal(err)
		}
		run(t, r)
	}
	waitBalanced(t, b, "g", parts, "two writer members", "a", "b")
	waitFor(t, "every event delivered by writer members", 30*time.Second, func() bool { return rec.distinct() >= 60 })

	s, err := NewAdmin(rs).Get(ctx, "g")
	if err != nil || len(s.Members) != 2 || len(s.Partitions) != parts {
		t.Fatalf("the reader's view of the group: %+v %v", s, err)
	}
	r := NewRunner(rs, RunnerOptions{Instance: "c", PollInterval: 100 * time.Millisecond, Logf: testLogf(t)})
	if err := r.Add(Subscription{Name: "g", Categories: []string{"grp"}, Partitions: parts, Handler: rec.handle}); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`INSERT INTO eventscope.subscription_members (group_name, instance, host, pid, backend) VALUES ('g', 'x', 'h', 1, 1)`,
		`DELETE FROM eventscope.subscription_members`,
	} {
		_, err := rs.Pool().Exec(ctx, sql)
		var pg *pgconn.PgError
		if !errors.As(err, &pg) || pg.Code != "42501" {
			t.Errorf("reader %s: want 42501, got %v", sql, err)
		}
	}
}
