package cli

import (
	"context"
	"fmt"
	"strings"

	"eventscope/internal/pgserver"
)

// resolveURL returns the database to use: --db, else $DATABASE_URL, else
// the embedded server, initialised and started if needed. Progress of
// that goes to stderr, and only while it happens, so stdout stays clean
// for output such as `eventscope read`.
func (g *globals) resolveURL(ctx context.Context) (string, error) {
	return pgserver.ResolveURL(ctx, g.dbURL, g.progressf)
}

// progressf prints a progress line of the embedded server on stderr.
func (g *globals) progressf(format string, args ...any) {
	fmt.Fprintf(g.errw, "eventscope: "+format+"\n", args...)
}

// embeddedOptions are the embedded server's options: the home from
// $EVENTSCOPE_HOME or the default, progress on stderr.
func (g *globals) embeddedOptions() pgserver.Options {
	return pgserver.Options{Logf: g.progressf}
}

// redactURL removes any password from a URL (postgres://u:pw@h/db,
// ?password=pw) or key=value DSN (password=pw), for headers and logs:
// passwords are never shown.
func redactURL(u string) string { return pgserver.RedactURL(u) }

// dbFlag is --db: a database URL that, when given, must say something. An
// empty --db ("--db $UNSET_VAR") is a mistake, not a request for the
// embedded server: it is refused (exit 2) instead of silently falling back.
type dbFlag struct{ url *string }

func (f dbFlag) String() string { return *f.url }
func (f dbFlag) Type() string   { return "string" }
func (f dbFlag) Set(s string) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf(`--db is empty: give a PostgreSQL URL, or leave --db out to use $DATABASE_URL or the embedded server`)
	}
	*f.url = s
	return nil
}
