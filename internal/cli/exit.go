package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"

	"eventscope/internal/textsafe"
	"eventscope/store"
	"eventscope/subscriptions"
)

// Exit codes. Other tools depend on these numbers.
const (
	ExitOK       = 0
	ExitFailure  = 1
	ExitBadInput = 2
	ExitConflict = 3
	ExitNotFound = 4
	ExitClosed   = 5
	// ExitPermission: the connected role lacks the privilege (SQLSTATE
	// 42501); the message names the group role that grants it.
	ExitPermission = 6
	// ExitBusy: a lock another session holds was not granted in time (an
	// append's stream lock, ES423, or a subscription's row for an admin
	// operation); nothing changed, and the same command may be retried.
	ExitBusy = 7
)

// UsageError marks bad input or usage (exit code 2). Its message names what was wrong.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error { return &UsageError{Msg: fmt.Sprintf(format, args...)} }

// exitCode maps an error to the documented exit codes.
func exitCode(err error) int {
	var usage *UsageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &usage), errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrDuplicateEvent):
		return ExitBadInput
	case errors.Is(err, store.ErrConflict):
		return ExitConflict
	case errors.Is(err, store.ErrNotFound):
		return ExitNotFound
	case errors.Is(err, store.ErrStreamClosed):
		return ExitClosed
	case isPermission(err):
		return ExitPermission
	case errors.Is(err, store.ErrStreamBusy), errors.Is(err, subscriptions.ErrLockTimeout):
		return ExitBusy
	case errors.Is(err, context.Canceled):
		return ExitFailure
	}
	for _, m := range extraExitMappers {
		if code, ok := m(err); ok {
			return code
		}
	}
	return ExitFailure
}

// extraExitMappers lets command files map their packages' errors to exit
// codes (for example a package sentinel that is not store's) without this file
// importing every package.
var extraExitMappers []func(error) (int, bool)

// isPermission: the server refused for lack of privilege.
func isPermission(err error) bool {
	var pg *pgconn.PgError
	return errors.Is(err, store.ErrPermission) || (errors.As(err, &pg) && pg.Code == "42501")
}

// commandRoles is the group role each command needs (by its path below
// eventscope); a command not listed needs store.RoleReader. RoleOwner is
// the schema's owner (migrations, COPY into the log).
var commandRoles = map[string]string{
	"migrate":     store.RoleOwner,
	"seed":        store.RoleOwner,
	"demo":        store.RoleOwner,
	"bench":       store.RoleOwner,
	"import":      store.RoleWriter,
	"append":      store.RoleWriter,
	"close":       store.RoleWriter,
	"worker":      store.RoleWriter,
	"subscribe":   store.RoleWriter,
	"relay nats":  store.RoleWriter,
	"subs pause":  store.RoleAdmin,
	"subs resume": store.RoleAdmin,
	"subs reset":  store.RoleAdmin,
	"subs retry":  store.RoleAdmin,
	"subs skip":   store.RoleAdmin,
	"subs delete": store.RoleAdmin,
	"forget":      store.RoleAdmin,
}

// commandRole is the role cmd needs.
func commandRole(cmd *cobra.Command) string {
	if cmd == nil {
		return store.RoleReader
	}
	path := strings.TrimPrefix(strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()), " ")
	if r, ok := commandRoles[path]; ok {
		return r
	}
	return store.RoleReader
}

// permissionMessage explains a refusal: which role the command needs (the
// one the server named, when it did), and the GRANT that gives it.
// user is the login role ("" when not known).
func permissionMessage(cmd *cobra.Command, err error, user string) string {
	role := commandRole(cmd)
	var pe *store.PermissionError
	if errors.As(err, &pe) && pe.Role != "" {
		role = pe.Role
	}
	name := "this command"
	if cmd != nil {
		name = "`" + cmd.CommandPath() + "`"
	}
	var pg *pgconn.PgError
	server := err.Error()
	if errors.As(err, &pg) {
		server = pg.Message
		if pg.Hint != "" {
			server += "; " + pg.Hint
		}
	}
	if role == store.RoleOwner {
		return fmt.Sprintf("permission denied: %s must run as the eventscope schema's owner (the role that ran `eventscope migrate`) (server: %s)", name, server)
	}
	who, grantee := "the connected role", "<login role>"
	if user != "" {
		who, grantee = "role "+textsafe.Line(user), pgx.Identifier{user}.Sanitize()
	}
	return fmt.Sprintf("permission denied: %s needs role %s, which %s lacks; an operator grants it with: GRANT %s TO %s; (server: %s)",
		name, role, who, role, grantee, server)
}

// loginRole is the user a connection string connects as, "" when it
// cannot be parsed.
func loginRole(url string) string {
	if url == "" {
		return ""
	}
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return ""
	}
	return cfg.User
}
