package cli

import (
	"context"
	"fmt"

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
