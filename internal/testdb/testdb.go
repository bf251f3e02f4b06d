// Package testdb gives each test a fresh, migrated PostgreSQL database.
//
// The server is $TEST_DATABASE_URL, else $DATABASE_URL, else a private
// cluster (internal/pgserver) in ~/.cache/eventscope/test-cluster (else
// $TMPDIR/eventscope-test-<uid>), shared by every test binary of the user
// and left running for the next run (stop it with
// EVENTSCOPE_HOME=~/.cache/eventscope/test-cluster eventscope db stop). On that
// server the schema is migrated once into a template database named
// eventscope_tmpl_<store.SchemaHash()>; each URL(t) clones it with
// CREATE DATABASE es_test_<random> TEMPLATE ..., which takes milliseconds,
// so tests run in parallel, each on a database of its own.
//
// A passing test's database is dropped when the test ends; a failing
// test's database is kept and its URL logged, for a look with psql.
//
// Building the template is safe across processes (go test runs packages in
// parallel): it happens under a Postgres advisory lock, in a database that
// gets the template's name only once it is fully migrated. Templates of
// older schema hashes are left in place; drop them by hand when they pile
// up (DROP DATABASE eventscope_tmpl_...; after ALTER DATABASE ... IS_TEMPLATE false).
//
// The connecting role must be allowed to create databases (a superuser, or
// CREATEDB).
package testdb

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"eventscope/internal/pgserver"
	"eventscope/store"
)

// templateLockKey serialises template builds across processes.
const templateLockKey int64 = 0x65737464625f746d // "estdb_tm"

// DatabasePrefix starts the name of every test database.
const DatabasePrefix = "es_test_"

// TemplateName is the template database for the embedded schema.
func TemplateName() string { return "eventscope_tmpl_" + store.SchemaHash() }

// server is the process's test server and its template.
type server struct {
	base     string        // connection string whose database URL(t) replaces
	admin    string        // the maintenance database, postgres
	pool     *pgxpool.Pool // on admin
	template string
}

var (
	once      sync.Once
	shared    *server
	sharedErr error
)

func get(t testing.TB) *server {
	t.Helper()
	once.Do(func() { shared, sharedErr = setup(t) })
	if sharedErr != nil {
		t.Fatalf("testdb: %v", sharedErr)
	}
	return shared
}

func setup(t testing.TB) (*server, error) {
	// Shared by every test of the process, so not bound to this test's context.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := &server{template: TemplateName()}
	switch {
	case os.Getenv("TEST_DATABASE_URL") != "":
		s.base = os.Getenv("TEST_DATABASE_URL")
	case os.Getenv("DATABASE_URL") != "":
		s.base = os.Getenv("DATABASE_URL")
	}
	if s.base != "" {
		s.admin = pgserver.WithDatabase(s.base, "postgres")
	} else {
		srv, err := pgserver.Ensure(ctx, pgserver.Options{Home: sharedHome(), Logf: t.Logf})
		if err != nil {
			return nil, fmt.Errorf("no TEST_DATABASE_URL or DATABASE_URL, and the private test cluster failed: %w", err)
		}
		s.base, s.admin = srv.URL(), srv.AdminURL()
	}
	cfg, err := pgxpool.ParseConfig(s.admin)
	if err != nil {
		return nil, fmt.Errorf("admin URL %s: %w", pgserver.RedactURL(s.admin), err)
	}
	cfg.MaxConns = 4
	cfg.MinConns = 0
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := s.ensureTemplate(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("template database %s on %s: %w", s.template, pgserver.RedactURL(s.admin), err)
	}
	return s, nil
}

// ensureTemplate builds the template unless it exists. The build happens in
// <template>_build, renamed to the template's name when complete, so an
// interrupted build is never used.
func (s *server) ensureTemplate(ctx context.Context) error {
	if ok, err := s.exists(ctx, s.pool, s.template); err != nil || ok {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, templateLockKey); err != nil {
		return err
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, templateLockKey); err != nil {
			conn.Conn().Close(ctx) // drops the session, and with it the lock
		}
	}()
	if ok, err := s.exists(ctx, conn, s.template); err != nil || ok {
		return err // another process built it while we waited
	}
	build := s.template + "_build"
	if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+build+` WITH (FORCE)`); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+build+` TEMPLATE template0`); err != nil {
		return err
	}
	mconn, err := pgx.Connect(ctx, pgserver.WithDatabase(s.base, build))
	if err != nil {
		return err
	}
	_, err = store.Migrate(ctx, mconn)
	if cerr := mconn.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := retryInUse(ctx, func() error {
		_, err := conn.Exec(ctx, `ALTER DATABASE `+build+` RENAME TO `+s.template)
		return err
	}); err != nil {
		return err
	}
	// Nobody may connect to it (a connection would make CREATE DATABASE
	// ... TEMPLATE fail) and it is protected from DROP. Not every role may
	// set these; the template works without them.
	_, _ = conn.Exec(ctx, `ALTER DATABASE `+s.template+` WITH ALLOW_CONNECTIONS false IS_TEMPLATE true`)
	return nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (s *server) exists(ctx context.Context, q querier, name string) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&ok)
	return ok, err
}

// retryInUse retries fn while Postgres says a database is being accessed
// by other users (55006): a closed connection's backend may linger a moment.
func retryInUse(ctx context.Context, fn func() error) error {
	delay := 20 * time.Millisecond
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := fn()
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(delay*2, time.Second)
	}
}

// sharedHome is the home of the private cluster shared by all test runs of
// the user: in the user's cache directory, since /tmp cleaners (10 days on
// some systems) would delete the files of a long-running cluster; in
// $TMPDIR/eventscope-test-<uid> when there is no cache directory.
func sharedHome() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "eventscope", "test-cluster")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("eventscope-test-%d", os.Geteuid()))
}

// URL creates a fresh database for the test, cloned from the migrated
// template, and returns its URL. The database is dropped when the test
// passes and kept, with its URL logged, when it fails.
func URL(t testing.TB) string {
	t.Helper()
	s := get(t)
	name := DatabasePrefix + randomSuffix()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := retryInUse(ctx, func() error {
		_, err := s.pool.Exec(ctx, `CREATE DATABASE `+name+` TEMPLATE `+s.template)
		return err
	}); err != nil {
		t.Fatalf("testdb: create database %s from %s: %v", name, s.template, err)
	}
	url := pgserver.WithDatabase(s.base, name)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testdb: kept the failed test's database %s: %s", name, pgserver.RedactURL(url))
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// FORCE: a pool the test left open must not keep the database alive.
		if _, err := s.pool.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Logf("testdb: drop database %s: %v", name, err)
		}
	})
	return url
}

// AdminURL is the URL of the test server's maintenance database (postgres),
// for tests that need to act on the server (pg_terminate_backend, ...).
func AdminURL(t testing.TB) string {
	t.Helper()
	return get(t).admin
}

// Private starts a PostgreSQL cluster of the test's own in t.TempDir(),
// for tests that stop or restart the server (pgserver.Restart(ctx, o)). Its
// database "eventscope" (the URL) is empty: migrate it in the test. The
// cluster is stopped and removed when the test ends.
func Private(t testing.TB) (*pgserver.Server, pgserver.Options) {
	t.Helper()
	o := pgserver.Options{Home: t.TempDir(), Logf: t.Logf}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		quiet := o
		quiet.Logf = nil
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := pgserver.Destroy(ctx, quiet); err != nil {
			t.Errorf("testdb: remove the private cluster: %v", err)
		}
	})
	s, err := pgserver.Ensure(ctx, o)
	if err != nil {
		t.Fatalf("testdb: private cluster: %v", err)
	}
	return s, o
}

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

func randomSuffix() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// Store opens a store (migrated, default options) on a fresh database of
// the test's own (URL) and closes it when the test ends.
func Store(t testing.TB) *store.Store {
	t.Helper()
	return Open(t, URL(t), store.Options{})
}

// PrivateStore opens a store on a private cluster of the test's own
// (Private), for tests that hold transactions open (the global log's
// horizon is cluster-wide, so on the shared server they would hold back
// every other test) or stop the server.
func PrivateStore(t testing.TB) *store.Store {
	t.Helper()
	srv, _ := Private(t)
	return Open(t, srv.URL(), store.Options{})
}

// Open opens a store on url with opts (migrating it unless opts.NoMigrate)
// and closes it when the test ends.
func Open(t testing.TB, url string, opts store.Options) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := store.Open(ctx, url, opts)
	if err != nil {
		t.Fatalf("testdb: open a store on %s: %v", pgserver.RedactURL(url), err)
	}
	t.Cleanup(st.Close)
	return st
}
