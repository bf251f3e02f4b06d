package testdb

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"eventscope/internal/pgserver"
	"eventscope/store"
)

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect %s: %v", pgserver.RedactURL(url), err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	conn := connect(t, AdminURL(t))
	var ok bool
	if err := conn.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestURL: parallel tests get distinct, migrated databases, dropped when
// they pass.
func TestURL(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var names []string
	t.Run("group", func(t *testing.T) {
		for i := range 2 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				conn := connect(t, URL(t))
				var name string
				if err := conn.QueryRow(t.Context(), `SELECT current_database()`).Scan(&name); err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(name, DatabasePrefix) {
					t.Errorf("database %q does not start with %s", name, DatabasePrefix)
				}
				v, err := store.SchemaVersion(t.Context(), conn)
				if err != nil {
					t.Fatal(err)
				}
				if v != store.Latest() {
					t.Errorf("schema version %d, want %d (migrated)", v, store.Latest())
				}
				// Writes stay in this test's database.
				if _, err := conn.Exec(t.Context(), `CREATE TABLE mine (x int)`); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				names = append(names, name)
				mu.Unlock()
			})
		}
	})
	if len(names) != 2 || names[0] == names[1] {
		t.Fatalf("databases %q, want two distinct", names)
	}
	for _, n := range names {
		if databaseExists(t, n) {
			t.Errorf("database %s of a passed test still exists", n)
		}
	}
	if !databaseExists(t, TemplateName()) {
		t.Errorf("template %s does not exist", TemplateName())
	}
}

// TestHelperFail is not a test: TestFailedTestKeepsDatabase runs it in a
// child process, where it fails on purpose.
func TestHelperFail(t *testing.T) {
	if os.Getenv("TESTDB_HELPER_FAIL") == "" {
		t.Skip("helper process only")
	}
	URL(t)
	t.Error("failing on purpose")
}

var keptRE = regexp.MustCompile(`kept the failed test's database (` + DatabasePrefix + `[a-z0-9]+): (\S+)`)

func TestFailedTestKeepsDatabase(t *testing.T) {
	t.Parallel()
	admin := AdminURL(t) // the child uses the same server: the env, or the shared cluster
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperFail$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "TESTDB_HELPER_FAIL=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the failing helper passed:\n%s", out)
	}
	m := keptRE.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no 'kept ... database' line in:\n%s", out)
	}
	name, url := m[1], m[2]
	if !strings.Contains(url, name) {
		t.Errorf("logged URL %s does not name %s", url, name)
	}
	conn := connect(t, admin)
	if !databaseExists(t, name) {
		t.Fatalf("database %s of the failed test was dropped", name)
	}
	if _, err := conn.Exec(t.Context(), `DROP DATABASE `+name+` WITH (FORCE)`); err != nil {
		t.Fatal(err)
	}
}

func TestPrivate(t *testing.T) {
	t.Parallel()
	s, o := Private(t)
	conn := connect(t, s.URL())
	if err := conn.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := pgserver.Restart(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if err := conn.Ping(t.Context()); err == nil {
		t.Error("connection survived a restart")
	}
	connect(t, s.URL())
}

func TestWithDatabase(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "postgres://postgres@127.0.0.1:5432/x?sslmode=disable"},
		{"postgres://u:p@h", "postgres://u:p@h/x"},
		{"postgresql://u@h:1,h2:2/db", "postgresql://u@h:1,h2:2/x"},
		{"postgres://postgres@/eventscope?host=/tmp/a/run&port=5432", "postgres://postgres@/x?host=/tmp/a/run&port=5432"},
		{"postgres://h?dbname=db&sslmode=disable", "postgres://h/x?sslmode=disable"},
		{"host=h user=u dbname=db sslmode=disable", "host=h user=u sslmode=disable dbname=x"},
		{"host=h dbname='my db'", "host=h dbname=x"},
		{"host=h", "host=h dbname=x"},
		{"", "dbname=x"},
	} {
		if got := pgserver.WithDatabase(tc.in, "x"); got != tc.want {
			t.Errorf("withDatabase(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
