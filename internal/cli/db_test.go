package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"eventscope/internal/pgserver"
)

// runCLI runs eventscope with args and returns the exit code and output.
func runCLI(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	var out, errw bytes.Buffer
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	code := run(t.Context(), args, stdin, &out, &errw)
	return code, out.String(), errw.String()
}

func dbStatusJSON(t *testing.T) dbStatus {
	t.Helper()
	code, out, stderr := runCLI(t, nil, "db", "status", "--json")
	if code != 0 {
		t.Fatalf("db status --json: exit %d: %s", code, stderr)
	}
	var st dbStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("db status --json printed %q: %v", out, err)
	}
	return st
}

// TestDBCommands walks the embedded server through db start, url, status,
// stop and destroy. Not parallel: it sets the environment and isTerminal.
func TestDBCommands(t *testing.T) {
	home := t.TempDir()
	t.Setenv("EVENTSCOPE_HOME", home)
	t.Setenv("DATABASE_URL", "")
	t.Cleanup(func() { _ = pgserver.Destroy(context.Background(), pgserver.Options{Home: home}) })

	st := dbStatusJSON(t)
	if st.Initialised || st.Running || !st.InUse || st.Home != home {
		t.Fatalf("before start: %+v", st)
	}

	code, out, stderr := runCLI(t, nil, "db", "start")
	if code != 0 || !strings.Contains(out, "running (pid") {
		t.Fatalf("db start: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if !strings.Contains(stderr, "initialising") {
		t.Errorf("db start stderr %q: want the initialising progress line", stderr)
	}

	code, out, stderr = runCLI(t, nil, "db", "url")
	url := strings.TrimSpace(out)
	if code != 0 || stderr != "" {
		t.Fatalf("db url on a running server: exit %d, stdout %q, stderr %q (want no progress)", code, out, stderr)
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect to db url %q: %v", url, err)
	}
	var dbname string
	if err := conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&dbname); err != nil || dbname != "eventscope" {
		t.Errorf("db url database = %q, %v", dbname, err)
	}
	conn.Close(t.Context())

	st = dbStatusJSON(t)
	if !st.Initialised || !st.Running || st.PID == 0 || st.URL != url || st.Version == "" {
		t.Errorf("running: %+v", st)
	}
	code, out, _ = runCLI(t, nil, "db", "status")
	if code != 0 || !strings.Contains(out, "running (pid") || !strings.Contains(out, st.DataDir) {
		t.Errorf("db status: exit %d\n%s", code, out)
	}

	code, out, _ = runCLI(t, nil, "db", "stop")
	if code != 0 || strings.TrimSpace(out) != "stopped" {
		t.Errorf("db stop: exit %d, %q", code, out)
	}
	if st := dbStatusJSON(t); st.Running || !st.Initialised {
		t.Errorf("after stop: %+v", st)
	}
	code, out, _ = runCLI(t, nil, "db", "stop")
	if code != 0 || strings.TrimSpace(out) != "not running" {
		t.Errorf("second db stop: exit %d, %q", code, out)
	}

	// Any command that needs the database starts it again; so does db url.
	code, out, stderr = runCLI(t, nil, "db", "url")
	if code != 0 || strings.TrimSpace(out) != url || !strings.Contains(stderr, "starting") {
		t.Errorf("db url on a stopped server: exit %d, stdout %q, stderr %q", code, out, stderr)
	}

	// --db and DATABASE_URL take precedence over the embedded server.
	code, out, _ = runCLI(t, nil, "--db", "postgres://u:pw@elsewhere/db", "db", "url")
	if code != 0 || strings.TrimSpace(out) != "postgres://u:pw@elsewhere/db" {
		t.Errorf("db url with --db: exit %d, %q", code, out)
	}
	code, out, _ = runCLI(t, nil, "--db", "postgres://u:pw@elsewhere/db", "db", "status")
	if code != 0 || !strings.Contains(out, "note: --db is set") || strings.Contains(out, "pw@") {
		t.Errorf("db status with --db: exit %d\n%s", code, out)
	}

	t.Run("destroy", func(t *testing.T) {
		defer func(f func(io.Reader) bool) { isTerminal = f }(isTerminal)
		isTerminal = func(io.Reader) bool { return false }
		code, _, stderr := runCLI(t, nil, "db", "destroy")
		if code != ExitBadInput || !strings.Contains(stderr, "--yes") {
			t.Errorf("db destroy without --yes, no terminal: exit %d, %q; want %d naming --yes", code, stderr, ExitBadInput)
		}
		isTerminal = func(io.Reader) bool { return true }
		code, _, stderr = runCLI(t, strings.NewReader("no\n"), "db", "destroy")
		if code != ExitFailure || !strings.Contains(stderr, "not confirmed") {
			t.Errorf("db destroy answered no: exit %d, %q", code, stderr)
		}
		if st := dbStatusJSON(t); !st.Initialised {
			t.Fatal("the cluster was destroyed without confirmation")
		}
		code, out, stderr := runCLI(t, strings.NewReader("yes\n"), "db", "destroy")
		if code != 0 || !strings.Contains(out, "destroyed") {
			t.Errorf("db destroy answered yes: exit %d, %q, %q", code, out, stderr)
		}
		if st := dbStatusJSON(t); st.Initialised || st.Running {
			t.Errorf("after destroy: %+v", st)
		}
		if _, err := os.Stat(filepath.Join(st.DataDir, "PG_VERSION")); !os.IsNotExist(err) {
			t.Errorf("data dir still there: %v", err)
		}
		isTerminal = func(io.Reader) bool { return false }
		code, out, _ = runCLI(t, nil, "db", "destroy", "--yes")
		if code != 0 || !strings.Contains(out, "no cluster") {
			t.Errorf("db destroy --yes with nothing: exit %d, %q", code, out)
		}
	})

	code, _, stderr = runCLI(t, nil, "db", "status", "extra")
	if code != ExitBadInput {
		t.Errorf("db status extra: exit %d (%s), want %d", code, stderr, ExitBadInput)
	}
}
