package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"eventscope/internal/pgserver"
	"eventscope/store"
	"eventscope/subscriptions"
)

// resolveURL returns the database to use: --db, else $DATABASE_URL, else
// the embedded server, initialised and started if needed. Progress of
// that goes to stderr, and only while it happens, so stdout stays clean
// for output such as `eventscope read`.
func (g *globals) resolveURL(ctx context.Context) (string, error) {
	url, err := pgserver.ResolveURL(ctx, g.dbURL, g.progressf)
	if err == nil {
		g.resolved = url // a refusal's message names the login role (permissionMessage)
	}
	return url, err
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

// openReadStore opens the hot standby given by --read-db, else
// $EVENTSCOPE_READ_DB, to read the log from; nil without either. It is
// never migrated and never notifies (a standby accepts neither).
func (g *globals) openReadStore(ctx context.Context) (*store.Store, error) {
	url := g.readDB
	if url == "" {
		url = os.Getenv("EVENTSCOPE_READ_DB")
	}
	if url == "" {
		return nil, nil
	}
	st, err := store.Open(ctx, url, store.Options{NoMigrate: true, NoNotify: true})
	if err != nil {
		return nil, fmt.Errorf("--read-db %s: %w", redactURL(url), err)
	}
	if err := st.Pool().Ping(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("--read-db %s: %w", redactURL(url), err)
	}
	return st, nil
}

// openStores opens the primary and, with --read-db, the standby to read
// the log from (read is then the standby, else the primary itself). close
// closes both.
func (g *globals) openStores(ctx context.Context) (primary, read *store.Store, close func(), err error) {
	primary, err = g.openStore(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	rd, err := g.openReadStore(ctx)
	if err != nil {
		primary.Close()
		return nil, nil, nil, err
	}
	if rd == nil {
		return primary, primary, primary.Close, nil
	}
	return primary, rd, func() { rd.Close(); primary.Close() }, nil
}

// standbyPrimary is the primary to take wake-ups from when the log is read
// from a standby (nil when it is read from the primary itself).
func standbyPrimary(primary, read *store.Store) *store.Store {
	if read == primary {
		return nil
	}
	return primary
}

// standbyPrimaryRead is RunnerOptions.ReadStore: the standby, or nil.
func standbyPrimaryRead(primary, read *store.Store) *store.Store {
	if read == primary {
		return nil
	}
	return read
}

// replicaStatus is the --read-db standby's lag behind st (nil without one).
func (g *globals) replicaStatus(ctx context.Context, st *store.Store) (*subscriptions.ReplicaStatus, error) {
	rd, err := g.openReadStore(ctx)
	if err != nil || rd == nil {
		return nil, err
	}
	defer rd.Close()
	s, err := subscriptions.ReplicaLag(ctx, st, rd)
	if err != nil {
		return nil, fmt.Errorf("--read-db: %w", err)
	}
	return &s, nil
}
