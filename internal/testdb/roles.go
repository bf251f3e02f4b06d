package testdb

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// LoginRole creates a login role of the test's own on the test server's
// cluster, a member of groups (e.g. store.RoleReader), and returns url (a
// database of that cluster, from URL) changed to connect as it. Roles are
// cluster-wide, so the name is unique (es_role_<random>); the role has a
// random password, which the URL carries, so it authenticates on a server
// that trusts 127.0.0.1 as on one that asks for SCRAM (the private
// cluster). The role is dropped when the test ends.
func LoginRole(t testing.TB, url string, groups ...string) string {
	t.Helper()
	return LoginRoleOn(t, AdminURL(t), url, groups...)
}

// LoginRoleOn is LoginRole on the cluster whose maintenance database is
// adminURL (a superuser's, e.g. a Private cluster's AdminURL()).
func LoginRoleOn(t testing.TB, adminURL, url string, groups ...string) string {
	t.Helper()
	name, pass := "es_role_"+randomSuffix(), randomSuffix()+randomSuffix()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatalf("testdb: connect to create a role: %v", err)
	}
	defer conn.Close(ctx)
	sql := `CREATE ROLE ` + name + ` LOGIN PASSWORD '` + pass + `'`
	if len(groups) > 0 {
		sql += ` IN ROLE ` + strings.Join(groups, ", ")
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("testdb: create role %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			t.Logf("testdb: drop role %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		// Its sessions first (a pool the test left open), then what it was
		// granted on shared objects (a database's CREATE), then the role.
		_, _ = c.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, name)
		_, _ = c.Exec(ctx, `DROP OWNED BY `+name)
		if _, err := c.Exec(ctx, `DROP ROLE IF EXISTS `+name); err != nil {
			t.Logf("testdb: drop role %s: %v", name, err)
		}
	})
	return AsUser(url, name, pass)
}

// AsUser is url (a URL or a key=value connection string) changed to
// connect as user with password. Later settings win in both forms, and a
// password given stops the passfile from being read.
func AsUser(url, user, password string) string {
	if scheme, _, ok := strings.Cut(url, "://"); ok && (scheme == "postgres" || scheme == "postgresql") {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		return url + sep + "user=" + user + "&password=" + password
	}
	return url + " user=" + user + " password=" + password
}
