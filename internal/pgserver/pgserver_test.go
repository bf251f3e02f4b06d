package pgserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// logSink collects Logf lines.
type logSink struct {
	t     testing.TB
	mu    sync.Mutex
	lines []string
}

func (l *logSink) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := fmt.Sprintf(format, args...)
	l.lines = append(l.lines, line)
	l.t.Log(line)
}

func (l *logSink) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

func containsLine(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func query(t *testing.T, url, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

// destroyOnCleanup removes the cluster even if the test failed half-way.
func destroyOnCleanup(t *testing.T, o Options) {
	t.Cleanup(func() {
		o.Logf = nil
		if err := Destroy(context.Background(), o); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
}

// TestLifecycle runs one cluster through init, reuse, stop, start, restart,
// a failed start and destroy. Subtests share it and run in order.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	logs := &logSink{t: t}
	o := Options{Home: t.TempDir(), Logf: logs.logf}
	destroyOnCleanup(t, o)

	var first *Server
	t.Run("init and start", func(t *testing.T) {
		s, err := Ensure(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		first = s
		lines := logs.take()
		if !containsLine(lines, "initialising") || !containsLine(lines, "starting") {
			t.Errorf("logs %q: want initialising and starting lines", lines)
		}
		if got := query(t, s.URL(), "SELECT current_database()"); got != "eventscope" {
			t.Errorf("URL database = %q, want eventscope", got)
		}
		if got := query(t, s.AdminURL(), "SELECT current_database()"); got != "postgres" {
			t.Errorf("AdminURL database = %q, want postgres", got)
		}
		if got := query(t, s.URL(), "SHOW listen_addresses"); got != "" {
			t.Errorf("listen_addresses = %q, want empty (socket only)", got)
		}
		if got := query(t, s.URL(), "SHOW max_connections"); got != "200" {
			t.Errorf("max_connections = %q, want 200", got)
		}
		if got := query(t, s.URL(), "SHOW fsync"); got != "on" {
			t.Errorf("fsync = %q, want on", got)
		}
		if n := len(socketPath(s.SocketDir(), defaultPort)); n >= maxSocketPath {
			t.Errorf("socket path is %d bytes, want < %d", n, maxSocketPath)
		}
		if major, _ := strconv.Atoi(strings.Split(s.Version(), ".")[0]); major < minMajor {
			t.Errorf("Version() = %q", s.Version())
		}
		if _, err := os.Stat(filepath.Join(s.DataDir(), logName)); err != nil {
			t.Errorf("no server log: %v", err)
		}
		if os.Geteuid() == 0 {
			// t.TempDir is mode 0700: the server user cannot reach it.
			if want := filepath.Join(rootStateBase, homeHash(o.Home), "data"); s.DataDir() != want {
				t.Errorf("as root with an unreachable home, DataDir = %s, want %s", s.DataDir(), want)
			}
			if got := query(t, s.URL(), "SELECT current_setting('data_directory')"); got != s.DataDir() {
				t.Errorf("server's data_directory = %s", got)
			}
		}
	})
	if first == nil {
		t.FailNow()
	}

	t.Run("other sessions", func(t *testing.T) {
		// What the demo asks before it stops the server it started.
		waitSessions := func(want int) {
			t.Helper()
			deadline := time.Now().Add(30 * time.Second)
			for {
				n, err := OtherSessions(ctx, first.AdminURL())
				if err != nil {
					t.Fatal(err)
				}
				if n == want {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("OtherSessions = %d, want %d", n, want)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		waitSessions(0)
		conn, err := pgx.Connect(ctx, first.URL())
		if err != nil {
			t.Fatal(err)
		}
		waitSessions(1)
		conn.Close(ctx)
		waitSessions(0)
		if _, err := OtherSessions(ctx, WithDatabase(first.AdminURL(), "no_such_database")); err == nil {
			t.Error("OtherSessions on a missing database: no error")
		}
	})

	t.Run("reuse", func(t *testing.T) {
		s, err := Ensure(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if s.PID() != first.PID() || s.URL() != first.URL() {
			t.Errorf("second Ensure: pid %d url %s, want pid %d url %s", s.PID(), s.URL(), first.PID(), first.URL())
		}
		if lines := logs.take(); len(lines) != 0 {
			t.Errorf("reusing a running server logged %q, want nothing", lines)
		}
	})

	t.Run("status", func(t *testing.T) {
		st, err := Status(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Initialised || !st.Running || st.PID != first.PID() || st.URL != first.URL() || st.DataDir != first.DataDir() {
			t.Errorf("Status = %+v, want running pid %d", st, first.PID())
		}
		if st.Version == "" || st.User == "" {
			t.Errorf("Status = %+v, want version and user", st)
		}
	})

	t.Run("database is recreated if dropped", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, first.AdminURL())
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.Exec(ctx, "DROP DATABASE eventscope WITH (FORCE)")
		conn.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Ensure(ctx, o); err != nil {
			t.Fatal(err)
		}
		query(t, first.URL(), "SELECT 'ok'")
		logs.take()
	})

	t.Run("stop and start", func(t *testing.T) {
		if err := Stop(ctx, o); err != nil {
			t.Fatal(err)
		}
		st, err := Status(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if st.Running || !st.Initialised {
			t.Fatalf("after Stop: %+v", st)
		}
		if err := Stop(ctx, o); err != nil {
			t.Fatalf("second Stop: %v", err)
		}
		if err := Start(ctx, o); err != nil {
			t.Fatal(err)
		}
		st, err = Status(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Running || st.PID == first.PID() {
			t.Errorf("after Start: %+v (old pid %d)", st, first.PID())
		}
		query(t, first.URL(), "SELECT 'ok'")
		if lines := logs.take(); containsLine(lines, "initialising") {
			t.Errorf("Start of an existing cluster re-initialised it: %q", lines)
		}
	})

	t.Run("restart breaks connections", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, first.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		before, _ := Status(ctx, o)
		if err := Restart(ctx, o); err != nil {
			t.Fatal(err)
		}
		after, _ := Status(ctx, o)
		if !after.Running || after.PID == before.PID {
			t.Errorf("Restart: pid %d -> %d, running %v", before.PID, after.PID, after.Running)
		}
		if err := conn.Ping(ctx); err == nil {
			t.Error("a connection from before the restart still works")
		}
		query(t, first.URL(), "SELECT 'ok'")
	})

	t.Run("a failed start quotes the log", func(t *testing.T) {
		if err := Stop(ctx, o); err != nil {
			t.Fatal(err)
		}
		conf := filepath.Join(first.DataDir(), "postgresql.conf")
		orig, err := os.ReadFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(conf, append(bytes.Clone(orig), "shared_buffers = banana\n"...), 0o600); err != nil {
			t.Fatal(err)
		}
		err = Start(ctx, o)
		if err == nil || !strings.Contains(err.Error(), "banana") || !strings.Contains(err.Error(), logName) {
			t.Errorf("Start with a bad setting: err = %v, want the log's complaint about banana", err)
		}
		if err := os.WriteFile(conf, orig, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := Start(ctx, o); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("stale pid file of a live stranger", func(t *testing.T) {
		// After a crash and a reboot, postmaster.pid may name a pid that
		// now belongs to another process.
		pidPath := filepath.Join(first.DataDir(), "postmaster.pid")
		orig, err := os.ReadFile(pidPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := Stop(ctx, o); err != nil {
			t.Fatal(err)
		}
		stranger := exec.Command("sleep", "60")
		if err := stranger.Start(); err != nil {
			t.Skip("no sleep command:", err)
		}
		defer func() { stranger.Process.Kill(); stranger.Wait() }()
		_, rest, _ := strings.Cut(string(orig), "\n")
		if err := os.WriteFile(pidPath, []byte(strconv.Itoa(stranger.Process.Pid)+"\n"+rest), 0o600); err != nil {
			t.Fatal(err)
		}
		if st, err := Status(ctx, o); err != nil || st.Running {
			t.Errorf("Status with a stale pid file: %+v, %v; want not running", st, err)
		}
		if err := Stop(ctx, o); err != nil {
			t.Errorf("Stop with a stale pid file: %v", err)
		}
		if err := stranger.Process.Signal(syscall.Signal(0)); err != nil {
			t.Fatalf("Stop signalled the stranger: %v", err)
		}
		s, err := Ensure(ctx, o)
		if err != nil {
			t.Fatalf("Ensure with a stale pid file: %v", err)
		}
		if s.PID() == stranger.Process.Pid {
			t.Errorf("Ensure took the stranger for the server")
		}
		query(t, s.URL(), "SELECT 'ok'")
	})

	t.Run("destroy", func(t *testing.T) {
		if err := Destroy(ctx, o); err != nil {
			t.Fatal(err)
		}
		st, err := Status(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if st.Initialised || st.Running {
			t.Errorf("after Destroy: %+v", st)
		}
		for _, p := range []string{first.DataDir(), first.SocketDir(), filepath.Join(o.Home, placementFile)} {
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s still exists after Destroy (%v)", p, err)
			}
		}
		if err := Destroy(ctx, o); err != nil {
			t.Errorf("second Destroy: %v", err)
		}
		if err := Restart(ctx, o); !errors.Is(err, ErrNotInitialised) {
			t.Errorf("Restart after Destroy: %v, want ErrNotInitialised", err)
		}
	})
}

// helperHomeEnv makes TestHelperEnsure run Ensure in a child process.
const helperHomeEnv = "PGSERVER_TEST_HELPER_HOME"

// TestHelperEnsure is not a test: TestConcurrentEnsure and TestUnprivileged
// run the test binary with it to call Ensure from another process.
func TestHelperEnsure(t *testing.T) {
	home := os.Getenv(helperHomeEnv)
	if home == "" {
		t.Skip("helper process only")
	}
	o := Options{Home: home, Logf: func(f string, a ...any) { fmt.Printf("LOG "+f+"\n", a...) }}
	s, err := Ensure(context.Background(), o)
	if err != nil {
		fmt.Printf("ERR %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("PID %d\nURL %s\nDATADIR %s\n", s.PID(), s.URL(), s.DataDir())
	if os.Getenv("PGSERVER_TEST_HELPER_DESTROY") != "" {
		if err := Destroy(context.Background(), o); err != nil {
			fmt.Printf("ERR destroy: %v\n", err)
			os.Exit(1)
		}
	}
}

type helperResult struct {
	pid           int
	url, dataDir  string
	logs          []string
	output, error string
}

func parseHelper(out []byte) helperResult {
	var r helperResult
	r.output = string(out)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		switch k {
		case "PID":
			r.pid, _ = strconv.Atoi(v)
		case "URL":
			r.url = v
		case "DATADIR":
			r.dataDir = v
		case "LOG":
			r.logs = append(r.logs, v)
		case "ERR":
			r.error = v
		}
	}
	return r
}

func helperCmd(ctx context.Context, home string, extraEnv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperEnsure$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperHomeEnv+"="+home)
	cmd.Env = append(cmd.Env, extraEnv...)
	return cmd
}

// TestConcurrentEnsure starts one cluster from two goroutines and two
// processes at once: one initdb, one server, all four get the same.
func TestConcurrentEnsure(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	// A home the server user can reach even as root (the test's temp dir
	// is 0700), so that as root this also covers data inside the home.
	home := filepath.Join(openTempDir(t), "home")
	rootReachable := os.Geteuid() == 0 && reachable(filepath.Dir(home), mustServerAccount(t))
	logs := &logSink{t: t}
	o := Options{Home: home, Logf: logs.logf}
	destroyOnCleanup(t, o)

	var wg sync.WaitGroup
	results := make([]helperResult, 4)
	for i := range 2 {
		wg.Go(func() {
			s, err := Ensure(ctx, o)
			if err != nil {
				results[i].error = err.Error()
				return
			}
			results[i].pid, results[i].url, results[i].dataDir = s.PID(), s.URL(), s.DataDir()
		})
	}
	for i := 2; i < 4; i++ {
		wg.Go(func() {
			out, err := helperCmd(ctx, home).CombinedOutput()
			results[i] = parseHelper(out)
			if err != nil && results[i].error == "" {
				results[i].error = fmt.Sprintf("%v: %s", err, out)
			}
		})
	}
	wg.Wait()
	inits := 0
	for _, l := range logs.take() {
		if strings.Contains(l, "initialising") {
			inits++
		}
	}
	for i, r := range results {
		if r.error != "" {
			t.Fatalf("Ensure %d: %s", i, r.error)
		}
		for _, l := range r.logs {
			if strings.Contains(l, "initialising") {
				inits++
			}
		}
		if r.pid != results[0].pid || r.url != results[0].url || r.pid == 0 {
			t.Errorf("Ensure %d: pid %d url %s; Ensure 0: pid %d url %s", i, r.pid, r.url, results[0].pid, results[0].url)
		}
	}
	if inits != 1 {
		t.Errorf("%d initialisations, want 1", inits)
	}
	if rootReachable {
		if want := filepath.Join(home, "data"); results[0].dataDir != want {
			t.Errorf("as root with a reachable home, DataDir = %s, want %s", results[0].dataDir, want)
		}
	}
}

// openTempDir is a t.TempDir that other users can traverse (t.TempDir
// makes /tmp/<TestName><n>/<nnn>, both 0700).
func openTempDir(t *testing.T) string {
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustServerAccount(t *testing.T) account {
	a, err := serverAccount("")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestUnprivileged runs Ensure as an ordinary user (nobody), with a home so
// long that the socket must move to /tmp. It needs root to switch users.
func TestUnprivileged(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a process as another user; as non-root every test here is unprivileged")
	}
	nobody, err := lookupAccount("nobody")
	if err != nil {
		t.Skip("no user nobody:", err)
	}
	base, err := os.MkdirTemp("", "pgserver-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	// The test binary, where nobody can run it.
	bin := filepath.Join(base, "pgserver.test")
	if err := copyFile(os.Args[0], bin, 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(base, strings.Repeat("long-home-", 10))
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, int(nobody.uid), int(nobody.gid)); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	// A parallel test that forks while copyFile had the binary open for
	// writing hands the child that descriptor until it execs; exec of the
	// copy then fails with ETXTBSY for a moment. Retry that, and only that.
	var out []byte
	for attempt := 0; ; attempt++ {
		cmd := exec.CommandContext(ctx, bin, "-test.run=^TestHelperEnsure$", "-test.count=1")
		cmd.Dir = base
		cmd.Env = append(childEnv(), helperHomeEnv+"="+home, "PGSERVER_TEST_HELPER_DESTROY=1", "HOME=/nonexistent")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody.uid, Gid: nobody.gid}}
		out, err = cmd.CombinedOutput()
		if !errors.Is(err, syscall.ETXTBSY) || attempt == 20 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := parseHelper(out)
	if err != nil || r.error != "" {
		t.Fatalf("Ensure as nobody: %v %s\n%s", err, r.error, out)
	}
	if want := filepath.Join(home, "data"); r.dataDir != want {
		t.Errorf("DataDir = %s, want %s", r.dataDir, want)
	}
	cfg, err := pgconn.ParseConfig(r.url)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cfg.Host, shortSocketBase+"/eventscope-") || len(socketPath(cfg.Host, int(cfg.Port))) >= maxSocketPath {
		t.Errorf("socket dir for a long home = %s, want a short one in %s", cfg.Host, shortSocketBase)
	}
	if _, err := os.Stat(cfg.Host); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket dir %s survived Destroy (%v)", cfg.Host, err)
	}
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func TestMissingBinaries(t *testing.T) {
	check := func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, ErrNoBinaries) {
			t.Fatalf("err = %v, want ErrNoBinaries", err)
		}
		for _, want := range []string{"apt-get install postgresql", "PATH", "DATABASE_URL"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not mention %q:\n%v", want, err)
			}
		}
	}
	t.Run("option", func(t *testing.T) {
		_, err := Ensure(t.Context(), Options{Home: t.TempDir(), BinDir: t.TempDir()})
		check(t, err)
	})
	t.Run("env", func(t *testing.T) {
		t.Setenv(binDirEnv, t.TempDir())
		home := t.TempDir()
		_, err := Ensure(t.Context(), Options{Home: home})
		check(t, err)
		// Nothing half-made is left behind.
		if _, err := os.Stat(filepath.Join(home, "data")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("data dir exists after a failed init: %v", err)
		}
	})
	t.Run("ResolveURL", func(t *testing.T) {
		t.Setenv(binDirEnv, t.TempDir())
		t.Setenv(homeEnv, t.TempDir())
		t.Setenv("DATABASE_URL", "")
		_, err := ResolveURL(t.Context(), "", nil)
		check(t, err)
		if !strings.Contains(err.Error(), "unset "+binDirEnv) {
			t.Errorf("error does not say to unset %s:\n%v", binDirEnv, err)
		}
	})
}

func TestResolveURLPrecedence(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://env@h/db")
	t.Setenv(binDirEnv, t.TempDir()) // were the embedded server tried, it would fail
	got, err := ResolveURL(t.Context(), "postgres://flag@h/db", nil)
	if err != nil || got != "postgres://flag@h/db" {
		t.Errorf("with --db: %q, %v", got, err)
	}
	got, err = ResolveURL(t.Context(), "", nil)
	if err != nil || got != "postgres://env@h/db" {
		t.Errorf("with DATABASE_URL: %q, %v", got, err)
	}
}

func TestPlan(t *testing.T) {
	t.Parallel()
	self := account{name: "me", uid: uint32(os.Geteuid()), gid: uint32(os.Getegid()), self: true}
	t.Run("short home", func(t *testing.T) {
		p := plan("/home/me/.local/share/eventscope", self)
		if p.DataDir != "/home/me/.local/share/eventscope/data" || p.SocketDir != "/home/me/.local/share/eventscope/run" || p.StateDir != "" {
			t.Errorf("plan = %+v", p)
		}
	})
	t.Run("long home", func(t *testing.T) {
		home := "/home/me/" + strings.Repeat("x", 100)
		p := plan(home, self)
		if p.DataDir != home+"/data" {
			t.Errorf("DataDir = %s", p.DataDir)
		}
		if want := "/tmp/eventscope-" + homeHash(home); p.SocketDir != want {
			t.Errorf("SocketDir = %s, want %s", p.SocketDir, want)
		}
		if n := len(socketPath(p.SocketDir, p.Port)); n >= maxSocketPath {
			t.Errorf("socket path %d bytes", n)
		}
	})
	t.Run("reachability", func(t *testing.T) {
		other := account{name: "other", uid: 54321, gid: 54321}
		dir := t.TempDir() // 0700, ours
		if os.Geteuid() == 54321 {
			t.Skip("uid clash")
		}
		if reachable(dir, other) {
			t.Errorf("%s (0700) reachable by another user", dir)
		}
		if p := plan(dir, other); p.StateDir != filepath.Join(rootStateBase, homeHash(dir)) || p.DataDir != p.StateDir+"/data" {
			t.Errorf("plan for an unreachable home = %+v", p)
		}
		open := filepath.Join(dir, "open")
		if err := os.Mkdir(open, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{dir, filepath.Dir(dir)} { // t.TempDir makes two levels
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatal(err)
			}
		}
		if !reachable(open, other) {
			t.Errorf("%s reachable through 0711 and 0755, but reachable says no", open)
		}
		if p := plan(open, other); p.StateDir != "" || p.DataDir != open+"/data" {
			t.Errorf("plan for a reachable home = %+v", p)
		}
		// A home still to be made (mode 0711) in a reachable parent is
		// reachable; one whose parent is missing too (made 0700) is not.
		if !homeReachable(filepath.Join(open, "new"), other) {
			t.Error("a new home in a reachable parent: homeReachable says no")
		}
		if homeReachable(filepath.Join(open, "new", "deeper"), other) {
			t.Error("a new home in a missing parent: homeReachable says yes")
		}
	})
}

func TestConnURL(t *testing.T) {
	t.Parallel()
	u := connURL("/tmp/a dir+x/run", 5432, "eventscope")
	cfg, err := pgconn.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "/tmp/a dir+x/run" || cfg.Port != 5432 || cfg.Database != "eventscope" || cfg.User != "postgres" {
		t.Errorf("%s parsed as host %q port %d db %q user %q", u, cfg.Host, cfg.Port, cfg.Database, cfg.User)
	}
	if got := connURL("/x/run", 5432, "eventscope"); got != "postgres://postgres@/eventscope?host=/x/run&port=5432" {
		t.Errorf("connURL = %s", got)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:secret@h:5432/db?sslmode=disable", "postgres://u:xxxxx@h:5432/db?sslmode=disable"},
		{"postgresql://u:p%40ss@h/db", "postgresql://u:xxxxx@h/db"},
		{"postgres://u:p@ss@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"postgres://h/db?user=u&password=secret&sslmode=require", "postgres://h/db?user=u&password=xxxxx&sslmode=require"},
		{"postgres://h/db?PASSWORD=secret", "postgres://h/db?PASSWORD=xxxxx"},
		{"postgres://postgres@/eventscope?host=/tmp/run&port=5432", "postgres://postgres@/eventscope?host=/tmp/run&port=5432"},
		{"host=h user=u password=secret dbname=db", "host=h user=u password=xxxxx dbname=db"},
		{"host=h password = 'it\\'s a secret' dbname=db", "host=h password = xxxxx dbname=db"},
		{"password=secret", "password=xxxxx"},
		{"host=h sslpassword=secret", "host=h sslpassword=xxxxx"},
		{"postgres://h/db?sslpassword=secret", "postgres://h/db?sslpassword=xxxxx"},
		{"postgres://u:p?x@h/db", "postgres://u:xxxxx@h/db"},
		{"POSTGRES://u:secret@h/db", "POSTGRES://u:xxxxx@h/db"},
		{"host=h dbname=db", "host=h dbname=db"},
		{"", ""},
	} {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
