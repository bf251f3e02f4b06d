package store_test

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"eventscope/store"
)

// TestTypedErrorsKeepTheServerError: the typed errors the SQL API's
// refusals become still unwrap to the server's *pgconn.PgError, with its
// SQLSTATE, detail and hint.
func TestTypedErrorsKeepTheServerError(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	mustAppend(t, st, "order-1", store.NoStream, ev("OrderPlaced", `{}`))
	if err := st.CloseStream(ctx, "order-1"); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, st, "order-2", store.NoStream, ev("OrderPlaced", `{}`))
	for _, c := range []struct {
		name   string
		stream string
		exp    store.ExpectedVersion
		events []store.NewEvent
		is     error
		code   string
	}{
		{"conflict", "order-2", store.Exact(7), []store.NewEvent{ev("X", `{}`)}, store.ErrConflict, "ES409"},
		{"closed", "order-1", store.Any, []store.NewEvent{ev("X", `{}`)}, store.ErrStreamClosed, "ES410"},
	} {
		_, err := st.Append(ctx, c.stream, c.exp, c.events...)
		var pg *pgconn.PgError
		if !errors.Is(err, c.is) || !errors.As(err, &pg) || pg.Code != c.code {
			t.Errorf("%s: %v (server error %+v), want %v with SQLSTATE %s", c.name, err, pg, c.is, c.code)
		}
	}
}

// TestAsPermission: only 42501 becomes a *PermissionError; it keeps the
// server's error, takes the role a refusal names over the caller's guess,
// and an error that is one already keeps its op and role.
func TestAsPermission(t *testing.T) {
	t.Parallel()
	denied := &pgconn.PgError{Code: "42501", Message: "permission denied for function append"}
	err := store.AsPermission(denied, "append to order-1", store.RoleWriter)
	var pe *store.PermissionError
	var pg *pgconn.PgError
	if !errors.As(err, &pe) || pe.Role != store.RoleWriter || pe.Op != "append to order-1" || !errors.Is(err, store.ErrPermission) || !errors.As(err, &pg) || pg != denied {
		t.Fatalf("AsPermission(42501) = %#v", err)
	}
	if got := err.Error(); got != "append to order-1: permission denied: it needs role eventscope_writer (server: permission denied for function append)" {
		t.Fatalf("message %q", got)
	}
	if again := store.AsPermission(err, "other", store.RoleAdmin); !errors.As(again, &pe) || pe.Op != "append to order-1" || pe.Role != store.RoleWriter {
		t.Fatalf("re-wrapped: %v", again)
	}
	guard := &pgconn.PgError{Code: "42501", Message: "permission denied: skipping a parked event needs role eventscope_admin (role x lacks it)"}
	if err := store.AsPermission(guard, "skip", store.RoleReader); !errors.As(err, &pe) || pe.Role != store.RoleAdmin {
		t.Fatalf("the guard's role: %v", err)
	}
	other := &pgconn.PgError{Code: "23505"}
	if err := store.AsPermission(other, "x", store.RoleWriter); err != other {
		t.Fatalf("a unique violation became %v", err)
	}
	if store.AsPermission(nil, "x", "") != nil {
		t.Fatal("nil became an error")
	}
	if err := store.AsPermission(denied, "bulk load", store.RoleOwner); err.Error() != "bulk load: permission denied: it must run as the eventscope schema's owner (server: permission denied for function append)" {
		t.Fatalf("owner message %q", err)
	}
}
