package common

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsConnError reports whether err means the database connection is lost or
// cannot be made (as opposed to a query that failed on a live connection).
func IsConnError(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		// Class 08: connection exception; 57P01-03: shutdown, crash,
		// cannot connect now.
		return strings.HasPrefix(pg.Code, "08") || pg.Code == "57P01" || pg.Code == "57P02" || pg.Code == "57P03"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	var op *net.OpError
	switch {
	case errors.As(err, &ce), errors.As(err, &op), errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	s := err.Error()
	for _, frag := range []string{"conn closed", "connection refused", "broken pipe", "connection reset", "failed to connect", "closed pool", "unexpected EOF"} {
		if strings.Contains(s, frag) {
			return true
		}
	}
	return false
}
