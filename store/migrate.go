package store

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

//go:embed migrations/*.up.sql
var migrationFS embed.FS

// rolesSQL creates the cluster-wide group roles; privilegesSQL is the
// privilege model (the list of who may do what, the grants). See the files.
var (
	//go:embed migrations/roles.sql
	rolesSQL string
	//go:embed migrations/privileges.sql
	privilegesSQL string
)

// privilegesFrom is the first migration the privilege model applies to
// (011 creates eventscope.privileges).
const privilegesFrom = 11

// Migration is one numbered, embedded schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// migrateLockKey is the advisory lock that serialises concurrent migrations
// (two processes starting at once apply each migration exactly once).
const migrateLockKey int64 = 0x6576656e7473 // "events"

// Migrations returns the embedded migrations in version order.
func Migrations() []Migration {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		panic(err) // embedded at build time; cannot fail
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			panic(fmt.Sprintf("store: migration %q is not named NNN_name.up.sql", name))
		}
		b, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			panic(err)
		}
		ms = append(ms, Migration{Version: v, Name: strings.TrimSuffix(name, ".up.sql"), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms
}

// SchemaHash identifies the embedded schema; test harnesses key template
// databases by it.
func SchemaHash() string {
	h := sha256.New()
	for _, m := range Migrations() {
		fmt.Fprintf(h, "%d\x00%s\x00", m.Version, m.SQL)
	}
	fmt.Fprintf(h, "roles\x00%s\x00privileges\x00%s\x00", rolesSQL, privilegesSQL)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Executor is what migrations and reads need: a *pgx.Conn, a *pgxpool.Pool or a pgx.Tx.
type Executor interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Beginner starts a transaction: *pgx.Conn and *pgxpool.Pool both are.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Migrate applies every embedded migration not yet recorded in
// eventscope.schema_migrations, each in its own transaction, under a
// transaction-scoped advisory lock. It must run as the schema's owner. It
// first makes the cluster-wide group roles (migrations/roles.sql), and
// applies the privilege model (migrations/privileges.sql) inside each
// migration's transaction from 011 on, and once more at the end, so that
// what a migration adds or replaces commits with its privileges, and a
// change of the model alone reaches an up-to-date schema. It returns the
// versions it applied.
func Migrate(ctx context.Context, db Beginner) ([]int, error) {
	if err := ensureRoles(ctx, db); err != nil {
		// (a role that may not create roles: the server's hint says how)
		return nil, AsPermission(fmt.Errorf("migrate roles: %w", err), "create the eventscope roles", "")
	}
	var applied []int
	for _, m := range Migrations() {
		did, err := applyOne(ctx, db, m)
		if err != nil {
			// A role that is not the owner (a reader whose binary is newer
			// than the schema) is told who must migrate.
			return applied, AsPermission(fmt.Errorf("migrate %s: %w", m.Name, err), "migrate "+m.Name, RoleOwner)
		}
		if did {
			applied = append(applied, m.Version)
		}
	}
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, privilegesSQL)
		return err
	})
	if err != nil {
		return applied, AsPermission(fmt.Errorf("migrate privileges: %w", err), "migrate privileges", RoleOwner)
	}
	return applied, nil
}

// ensureRoles runs roles.sql. The roles are cluster-wide, so other
// databases of the cluster may be creating them or granting their
// memberships at the same moment (the migration lock is per database): the
// SQL tolerates a role or membership created meanwhile, and a catalog race
// it cannot catch (a concurrent update of the same catalog row, a
// deadlock) is retried here, a few times, from the start.
func ensureRoles(ctx context.Context, db Beginner) error {
	const attempts = 8
	for i := 1; ; i++ {
		err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, rolesSQL)
			return err
		})
		if err == nil || i == attempts || !catalogRace(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(i*i) * 10 * time.Millisecond):
		}
	}
}

// catalogRace: an error two sessions get when they change the same shared
// catalog row (pg_authid, pg_auth_members) at once.
func catalogRace(err error) bool {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return false
	}
	switch pg.Code {
	case "23505", "42710", "40001", "40P01":
		return true
	case "XX000":
		return strings.Contains(pg.Message, "tuple concurrently updated")
	}
	return false
}

func applyOne(ctx context.Context, db Beginner, m Migration) (bool, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS eventscope;
		CREATE TABLE IF NOT EXISTS eventscope.schema_migrations (
			version    int PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return false, err
	}
	var done bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM eventscope.schema_migrations WHERE version = $1)`, m.Version).Scan(&done); err != nil {
		return false, err
	}
	if done {
		return false, nil
	}
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return false, err
	}
	if m.Version >= privilegesFrom {
		if _, err := tx.Exec(ctx, privilegesSQL); err != nil {
			return false, fmt.Errorf("privileges: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO eventscope.schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
		return false, err
	}
	return true, tx.Commit(ctx)
}

// SchemaVersion is the newest applied migration, 0 when none is.
func SchemaVersion(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) (int, error) {
	var v int
	err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM eventscope.schema_migrations`).Scan(&v)
	if err != nil {
		if isUndefinedTable(err) {
			return 0, nil
		}
		return 0, err
	}
	return v, nil
}

// Latest is the newest embedded migration version.
func Latest() int { ms := Migrations(); return ms[len(ms)-1].Version }

// ErrRestoredLog means the global log's transaction ids are ahead of the
// server's: the database was restored from another cluster (pg_dump) or
// copied by logical replication. Readers then see none of the restored
// events and new appends would sort before them. RepairLog (eventscope
// migrate) fixes it.
var ErrRestoredLog = errors.New("the global log is ahead of this server's transaction ids")

// RestoredLogError is ErrRestoredLog with the figures.
type RestoredLogError struct {
	MaxTx   uint64 // the largest transaction id recorded in the log
	NextXid uint64 // the next transaction id this server will assign
}

func (e *RestoredLogError) Error() string {
	return fmt.Sprintf("the global log records transaction ids up to %d, but this server is only at %d: "+
		"the database was restored from another cluster (pg_dump) or copied by logical replication, "+
		"so readers would see none of those events and new appends would sort before them; "+
		"run `eventscope migrate` to renumber the log (its order is kept exactly)", e.MaxTx, e.NextXid)
}

// Is makes errors.Is(err, ErrRestoredLog) true.
func (e *RestoredLogError) Is(target error) bool { return target == ErrRestoredLog }

// CheckLogOrder returns a *RestoredLogError when the log's transaction ids
// are ahead of the server's (see ErrRestoredLog), nil when they are not or
// there is no log. One index probe: cheap enough for every command.
func CheckLogOrder(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) error {
	var maxTx *uint64
	var next uint64
	err := q.QueryRow(ctx, `SELECT (SELECT max(tx_id) FROM eventscope.events), pg_snapshot_xmax(pg_current_snapshot())`).Scan(&maxTx, &next)
	if err != nil {
		if isUndefinedTable(err) {
			return nil
		}
		return fmt.Errorf("check the global log's order: %w", err)
	}
	if maxTx != nil && *maxTx >= next {
		return &RestoredLogError{MaxTx: *maxTx, NextXid: next}
	}
	return nil
}

// RepairLog renumbers a log restored from another cluster (ErrRestoredLog)
// so that it is readable again and new appends sort after it, keeping its
// order exactly and remapping subscriptions' checkpoints and parked events;
// see migration 008 for how. It is atomic (one transaction) and idempotent:
// on a log that needs no repair it changes nothing and returns 0, else the
// number of events renumbered.
func RepairLog(ctx context.Context, db Beginner) (int64, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	var n int64
	if err := tx.QueryRow(ctx, `SELECT eventscope.repair_restored_log()`).Scan(&n); err != nil {
		return 0, fmt.Errorf("repair the restored log: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("repair the restored log: %w", err)
	}
	return n, nil
}

// ErrSchemaBehind means the database lacks some of the embedded migrations
// (or the whole schema) and the caller may not apply them (read-only use).
var ErrSchemaBehind = errors.New("the eventscope schema is missing or behind")

// SchemaBehindError is ErrSchemaBehind with what is missing.
type SchemaBehindError struct {
	Missing []int // embedded migration versions not applied, in order
	None    bool  // no eventscope schema at all
}

func (e *SchemaBehindError) Error() string {
	if e.None {
		return "the database has no eventscope schema (read-only use changes nothing, so it is not created): run `eventscope migrate` with a role that may create it"
	}
	vs := make([]string, len(e.Missing))
	for i, v := range e.Missing {
		vs[i] = fmt.Sprintf("%03d", v)
	}
	return fmt.Sprintf("the eventscope schema is behind this binary: migrations %s are not applied (read-only use changes nothing, so they are not): run `eventscope migrate`", strings.Join(vs, ", "))
}

// Is makes errors.Is(err, ErrSchemaBehind) true.
func (e *SchemaBehindError) Is(target error) bool { return target == ErrSchemaBehind }

// CheckSchema returns a *SchemaBehindError when any embedded migration is
// not applied, without changing anything (for read-only use; Open migrates).
func CheckSchema(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) error {
	applied, err := appliedVersions(ctx, q)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	var missing []int
	for _, m := range Migrations() {
		if !applied[m.Version] {
			missing = append(missing, m.Version)
		}
	}
	if len(missing) > 0 {
		return &SchemaBehindError{Missing: missing, None: len(applied) == 0}
	}
	return nil
}
