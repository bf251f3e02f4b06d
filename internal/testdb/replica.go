package testdb

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"eventscope/internal/pgserver"
	"eventscope/store"
)

// Replica starts a private cluster of the test's own (as Private does),
// migrates its eventscope database, and starts a hot standby of it: a
// streaming replica made with pg_basebackup -R -c fast, on the same socket
// directory and the next port. It returns the primary's and the standby's
// URLs of the eventscope database. Both are stopped and removed when the
// test ends.
func Replica(t testing.TB) (primaryURL, standbyURL string) {
	t.Helper()
	srv, _ := Private(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := store.Open(ctx, srv.URL(), store.Options{})
	if err != nil {
		t.Fatalf("testdb: migrate the primary: %v", err)
	}
	st.Close()

	port, err := urlPort(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	bin, err := serverBinDir(srv.PID())
	if err != nil {
		t.Fatalf("testdb: the primary's binaries: %v", err)
	}
	fi, err := os.Stat(srv.DataDir())
	if err != nil {
		t.Fatal(err)
	}
	owner := fi.Sys().(*syscall.Stat_t)
	dir := filepath.Join(filepath.Dir(srv.DataDir()), "standby")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, int(owner.Uid), int(owner.Gid)); err != nil {
		t.Fatal(err)
	}
	// As the server's OS user (initdb and postgres refuse root).
	run := func(name string, args ...string) {
		t.Helper()
		c := exec.CommandContext(ctx, filepath.Join(bin, name), args...)
		if uint32(os.Getuid()) != owner.Uid {
			c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: owner.Uid, Gid: owner.Gid}}
		}
		c.Dir = dir
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("testdb: %s %v: %v\n%s", name, args, err, out)
		}
	}
	// The cluster authenticates with its secret: the server's OS user gets
	// a copy of the passfile of its own (the original is the caller's, 0600),
	// which -R also writes into the standby's primary_conninfo.
	secret, err := os.ReadFile(srv.Passfile())
	if err != nil {
		t.Fatal(err)
	}
	passfile := filepath.Join(filepath.Dir(srv.DataDir()), "standby.pgpass")
	if err := os.WriteFile(passfile, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(passfile, int(owner.Uid), int(owner.Gid)); err != nil {
		t.Fatal(err)
	}
	run("pg_basebackup", "-d", fmt.Sprintf("host=%s port=%d user=postgres passfile=%s", srv.SocketDir(), port, passfile),
		"-D", dir, "-R", "-c", "fast", "-X", "stream")
	standbyPort := port + 1
	conf := fmt.Sprintf("\n# testdb: the standby\nport = %d\nhot_standby = on\n", standbyPort)
	f, err := os.OpenFile(filepath.Join(dir, "postgresql.auto.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(conf); err != nil {
		t.Fatal(err)
	}
	f.Close()
	logFile := filepath.Join(dir, "standby.log")
	run("pg_ctl", "-D", dir, "-l", logFile, "-w", "-t", "60", "start")
	t.Cleanup(func() {
		c := exec.Command(filepath.Join(bin, "pg_ctl"), "-D", dir, "-m", "immediate", "-w", "stop")
		if uint32(os.Getuid()) != owner.Uid {
			c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: owner.Uid, Gid: owner.Gid}}
		}
		if out, err := c.CombinedOutput(); err != nil {
			t.Logf("testdb: stop the standby: %v\n%s", err, out)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("testdb: remove the standby: %v", err)
		}
		os.Remove(passfile)
	})
	standby := fmt.Sprintf("postgres://postgres@/%s?host=%s&port=%d&passfile=%s", pgserver.DatabaseName,
		url.QueryEscape(srv.SocketDir()), standbyPort, url.QueryEscape(srv.Passfile()))
	// Wait until it accepts connections and is in recovery.
	deadline := time.Now().Add(time.Minute)
	for {
		conn, err := pgx.Connect(ctx, standby)
		if err == nil {
			var rec bool
			err = conn.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&rec)
			conn.Close(ctx)
			if err == nil && rec {
				break
			}
			if err == nil {
				err = fmt.Errorf("not in recovery")
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logFile)
			t.Fatalf("testdb: the standby did not come up: %v\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return srv.URL(), standby
}

func urlPort(u string) (int, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(pu.Query().Get("port"))
}

// serverBinDir is the directory of the running postmaster's binary.
func serverBinDir(pid int) (string, error) {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return "", err
	}
	return filepath.Dir(exe), nil
}
