package pgserver

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

// noPasswordURL is the server's URL without its passfile (and no other).
func noPasswordURL(s *Server) string {
	return connURL(s.SocketDir(), defaultPort, DatabaseName) + "&passfile=" + uriEscape(filepath.Join(os.TempDir(), "eventscope-no-such-passfile"))
}

func mustRefuse(t *testing.T, url, why string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err == nil {
		conn.Close(t.Context())
		t.Fatalf("%s: connected without the password", why)
	}
	if !strings.Contains(err.Error(), "password") && !strings.Contains(err.Error(), "28P01") {
		t.Fatalf("%s: %v; want a password authentication failure", why, err)
	}
}

// TestAuthentication (issue 8 item 16): the embedded cluster asks every
// connection for its password (SCRAM), kept in <home>/pgpass mode 0600;
// the URL names that file, so it works, and nothing else gets in: not a
// connection without the password, not the OS account the server runs as.
func TestAuthentication(t *testing.T) {
	t.Parallel()
	o := Options{Home: t.TempDir()}
	destroyOnCleanup(t, o)
	s, err := Ensure(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.Passfile())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("passfile %s: %v, mode %v; want mode 0600", s.Passfile(), err, fi.Mode())
	}
	secret, ok, err := readSecret(o.Home)
	if !ok || err != nil || len(secret) < 40 {
		t.Fatalf("secret: %q %v %v", secret, ok, err)
	}
	if strings.Contains(s.URL(), secret) {
		t.Fatalf("the URL %s carries the secret", s.URL())
	}
	if got := query(t, s.URL(), "SELECT current_user"); got != superuser {
		t.Fatalf("current_user = %q", got)
	}
	if got := query(t, s.URL(), "SELECT (rolpassword LIKE 'SCRAM-SHA-256$%')::text FROM pg_authid WHERE rolname = current_user"); got != "true" {
		t.Fatalf("stored password is SCRAM: %s", got)
	}
	if trusts, err := hbaTrusts(s.DataDir()); err != nil || trusts {
		t.Fatalf("pg_hba.conf trusts someone: %v %v", trusts, err)
	}
	mustRefuse(t, noPasswordURL(s), "no password")
	if st, err := Status(t.Context(), o); err != nil || st.URL != s.URL() {
		t.Fatalf("status URL %q, want %q (%v)", st.URL, s.URL(), err)
	}

	// The OS account the server runs as (when we are root) cannot get in
	// through the socket it owns.
	if os.Geteuid() != 0 {
		return
	}
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Log("no psql: skipping the server account's attempt")
		return
	}
	acct, err := serverAccount("")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), psql, "-X", "-w", "-h", s.SocketDir(), "-p", strconv.Itoa(defaultPort),
		"-U", superuser, "-d", DatabaseName, "-c", "SELECT 1")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=/", "PGPASSFILE=/dev/null"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: acct.uid, Gid: acct.gid, Groups: acct.groups}}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("psql as %s connected without the password: %s", acct.name, out)
	}
	if !strings.Contains(string(out), "password") {
		t.Fatalf("psql as %s: %v %s; want a password failure", acct.name, err, out)
	}
}

// TestAuthSecuresATrustCluster: a cluster made before authentication
// (trust, no secret) is secured on its next start, keeping its data.
func TestAuthSecuresATrustCluster(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	logs := &logSink{t: t}
	o := Options{Home: t.TempDir(), Logf: logs.logf}
	destroyOnCleanup(t, o)
	s, err := Ensure(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	// Make it what an older eventscope made: trust, no password, no secret.
	conn, err := pgx.Connect(ctx, s.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{pl: placement{DataDir: s.DataDir()}, acct: mustAccount(t)}
	trust := "local all all trust\nlocal replication all trust\n"
	hba := filepath.Join(s.DataDir(), "pg_hba.conf")
	if err := os.WriteFile(hba, []byte(trust), 0o600); err != nil {
		t.Fatal(err)
	}
	if !c.acct.self {
		if err := os.Chown(hba, int(c.acct.uid), int(c.acct.gid)); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{`SELECT pg_reload_conf()`, `ALTER ROLE postgres PASSWORD NULL`, `CREATE TABLE kept (x int)`} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(context.WithoutCancel(ctx))
	if err := os.Remove(s.Passfile()); err != nil {
		t.Fatal(err)
	}
	if got := query(t, noPasswordURL(s), "SELECT 'in'"); got != "in" {
		t.Fatal("the trust cluster refused a connection")
	}
	logs.take()

	s2, err := Ensure(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !containsLine(logs.take(), "securing") {
		t.Error("no progress line about securing the cluster")
	}
	if _, err := os.Stat(s2.Passfile()); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, noPasswordURL(s2), "after securing, no password")
	if got := query(t, s2.AdminURL(), "SELECT count(*)::text FROM pg_class WHERE relname = 'kept'"); got != "1" {
		t.Fatalf("the data is gone: %s", got)
	}
	if trusts, err := hbaTrusts(s2.DataDir()); err != nil || trusts {
		t.Fatalf("pg_hba.conf still trusts: %v %v", trusts, err)
	}
	// And a second start changes nothing.
	if _, err := Ensure(ctx, o); err != nil {
		t.Fatal(err)
	}
	if containsLine(logs.take(), "securing") {
		t.Error("secured again on the next start")
	}
}

func mustAccount(t *testing.T) account {
	t.Helper()
	a, err := serverAccount("")
	if err != nil {
		t.Fatal(err)
	}
	return a
}
