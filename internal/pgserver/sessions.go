package pgserver

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// OtherSessions counts the client sessions connected to the server at url
// besides the one it opens to ask: the whole server's, whichever database
// url names. Background workers and replication connections do not count.
func OtherSessions(ctx context.Context, url string) (int, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, fmt.Errorf("count sessions: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count sessions: %w", err)
	}
	return n, nil
}
