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
