package pgserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Options locate a private cluster.
type Options struct {
	// Home is the directory the cluster belongs to (lock file, cluster.json
	// and usually the data directory). Default: $EVENTSCOPE_HOME, else
	// ~/.local/share/eventscope.
	Home string
	// Logf receives progress lines while the cluster is initialised,
	// started, stopped or removed ("initialising cluster in ..."). Reusing a
	// running cluster logs nothing. Default: nil, silent.
	Logf func(format string, args ...any)
	// BinDir is the directory holding initdb, pg_ctl and postgres; only it
	// is searched. Default: $EVENTSCOPE_PG_BIN, else PATH and the usual
	// install locations (see the package doc).
	BinDir string
}

// DatabaseName is the database created in the cluster for eventscope.
const DatabaseName = "eventscope"

// superuser is the cluster's superuser (initdb -U), whatever the OS user.
const superuser = "postgres"

// logName is the server log inside the data directory.
const logName = "postgres.log"

// ErrNotInitialised means the operation needs a cluster that does not exist yet.
var ErrNotInitialised = errors.New("the embedded PostgreSQL cluster is not initialised")

// Server is a running private cluster.
type Server struct {
	home      string
	dataDir   string
	socketDir string
	version   string
	port      int
	pid       int
}

// URL is the eventscope database's URL, for example
// postgres://postgres@/eventscope?host=/home/me/.local/share/eventscope/run&port=5432&passfile=/home/me/.local/share/eventscope/pgpass.
// The password is in the passfile (mode 0600), never in the URL.
func (s *Server) URL() string {
	return authURL(s.socketDir, s.port, DatabaseName, passfilePath(s.home))
}

// AdminURL is the URL of the same server's maintenance database, postgres.
func (s *Server) AdminURL() string {
	return authURL(s.socketDir, s.port, "postgres", passfilePath(s.home))
}

// Passfile is the file holding the cluster's password (pgpass format, mode 0600).
func (s *Server) Passfile() string { return passfilePath(s.home) }

// DataDir is the cluster's data directory.
func (s *Server) DataDir() string { return s.dataDir }

// SocketDir is the directory of the server's Unix socket.
func (s *Server) SocketDir() string { return s.socketDir }

// Version is the server's version, for example "15.20".
func (s *Server) Version() string { return s.version }

// PID is the postmaster's process id.
func (s *Server) PID() int { return s.pid }

// State describes a cluster, running or not (what Status returns; a type
// cannot share the function's name).
type State struct {
	Home        string `json:"home"`
	Initialised bool   `json:"initialised"`
	Running     bool   `json:"running"`
	PID         int    `json:"pid,omitempty"`
	DataDir     string `json:"data_dir"`   // where the data is, or will be
	SocketDir   string `json:"socket_dir"` // where the socket is, or will be
	URL         string `json:"url"`
	Version     string `json:"version,omitempty"` // of the binaries that run it, else the data directory's major version
	User        string `json:"user"`              // the OS user the server runs as
	LogFile     string `json:"log_file"`
}

// Ensure returns the running cluster of o.Home, initialising it (with a
// database "eventscope") if needed and starting it if stopped. Concurrent
// calls, in one process or several, start one server.
func Ensure(ctx context.Context, o Options) (*Server, error) {
	var s *Server
	err := withCluster(ctx, o, func(c *cluster) error {
		var err error
		s, err = c.ensure(ctx)
		return err
	})
	return s, err
}

// Start initialises and starts the cluster unless it is running.
func Start(ctx context.Context, o Options) error {
	_, err := Ensure(ctx, o)
	return err
}

// Stop stops the cluster (fast shutdown: sessions are disconnected). Stopping
// a stopped or missing cluster does nothing.
func Stop(ctx context.Context, o Options) error {
	return withCluster(ctx, o, func(c *cluster) error { return c.stop(ctx) })
}

// Restart stops the cluster and starts it again, as failure tests need ("a
// restarted Postgres"). It returns ErrNotInitialised if there is no cluster.
func Restart(ctx context.Context, o Options) error {
	return withCluster(ctx, o, func(c *cluster) error {
		if !c.initialised() {
			return ErrNotInitialised
		}
		if err := c.stop(ctx); err != nil {
			return err
		}
		if _, err := c.start(ctx); err != nil {
			return err
		}
		_, err := c.ensureDatabase(ctx)
		return err
	})
}

// Destroy stops the cluster and removes its data, its socket directory and
// cluster.json. The home directory and its lock file stay.
func Destroy(ctx context.Context, o Options) error {
	return withCluster(ctx, o, func(c *cluster) error { return c.destroy(ctx) })
}

// Status reports on the cluster of o.Home without changing anything or
// taking the lock.
func Status(ctx context.Context, o Options) (State, error) { return statusOf(ctx, o) }

// ResolveURL picks the database: flagURL if set, else $DATABASE_URL, else
// the embedded cluster in the default home, started if needed. logf sees
// progress only when the cluster is being initialised or started.
func ResolveURL(ctx context.Context, flagURL string, logf func(string, ...any)) (string, error) {
	if flagURL != "" {
		return flagURL, nil
	}
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u, nil
	}
	s, err := Ensure(ctx, Options{Logf: logf})
	if err != nil {
		return "", fmt.Errorf("no --db or DATABASE_URL given, and the embedded PostgreSQL failed: %w", err)
	}
	return s.URL(), nil
}

// cluster is one home's cluster, loaded under the lock.
type cluster struct {
	o     Options
	home  string
	acct  account
	pl    placement
	saved bool // pl is recorded in cluster.json
}

func (c *cluster) logf(format string, args ...any) {
	if c.o.Logf != nil {
		c.o.Logf(format, args...)
	}
}

// withCluster creates the home, locks it, loads the cluster and runs fn.
func withCluster(ctx context.Context, o Options, fn func(*cluster) error) error {
	home, err := resolveHome(o)
	if err != nil {
		return err
	}
	wrap := func(err error) error {
		if err == nil {
			return nil
		}
		return fmt.Errorf("embedded PostgreSQL in %s: %w", home, err)
	}
	if err := makeHome(home); err != nil {
		return wrap(err)
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	unlock, err := lockHome(ctx, home, logf)
	if err != nil {
		return wrap(err)
	}
	defer unlock()
	c, err := load(o, home)
	if err != nil {
		return wrap(err)
	}
	return wrap(fn(c))
}

// makeHome creates the home: mode 0700, except that root makes it 0711 so
// that the server user may pass through it to <home>/data when the
// directories above allow that too (see the package doc).
func makeHome(home string) error {
	if _, err := os.Stat(home); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(home), 0o700); err != nil {
		return err
	}
	mode := os.FileMode(0o700)
	if os.Geteuid() == 0 {
		mode = 0o711
	}
	if err := os.Mkdir(home, mode); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return os.Chmod(home, mode) // not the umask's
}

func load(o Options, home string) (*cluster, error) {
	pl, saved, err := loadPlacement(home)
	if err != nil {
		return nil, err
	}
	acct, err := serverAccount(pl.User)
	if err != nil {
		return nil, err
	}
	if !saved {
		pl = plan(home, acct)
	}
	return &cluster{o: o, home: home, acct: acct, pl: pl, saved: saved}, nil
}

func (c *cluster) logPath() string { return filepath.Join(c.pl.DataDir, logName) }

func (c *cluster) initialised() bool {
	_, err := os.Stat(filepath.Join(c.pl.DataDir, "PG_VERSION"))
	return err == nil
}

// dataMajor is the major version in PG_VERSION, 0 if unknown.
func (c *cluster) dataMajor() int {
	b, err := os.ReadFile(filepath.Join(c.pl.DataDir, "PG_VERSION"))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

func (c *cluster) ensure(ctx context.Context) (*Server, error) {
	if !c.saved {
		if err := savePlacement(c.home, c.pl); err != nil {
			return nil, err
		}
		c.saved = true
	}
	if !c.initialised() {
		if err := c.initdb(ctx); err != nil {
			return nil, err
		}
	}
	pid, running, err := c.running(ctx)
	if err != nil {
		return nil, err
	}
	if !running {
		if pid, err = c.start(ctx); err != nil {
			return nil, err
		}
	}
	if err := c.ensureAuth(ctx); err != nil {
		return nil, err
	}
	version, err := c.ensureDatabase(ctx)
	if err != nil {
		return nil, err
	}
	return &Server{
		home: c.home, dataDir: c.pl.DataDir, socketDir: c.pl.SocketDir,
		version: version, port: c.pl.Port, pid: pid,
	}, nil
}

// initdb creates the data directory: initdb into a scratch directory, add
// our settings, then rename it into place, so a half-made cluster is never
// mistaken for a cluster.
func (c *cluster) initdb(ctx context.Context) error {
	bins, err := findBinaries(ctx, c.o.BinDir, 0)
	if err != nil {
		return err
	}
	if err := c.ensureStateDir(); err != nil {
		return err
	}
	tmp := c.pl.DataDir + ".initdb-tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := ensureOwnedDir(tmp, c.acct); err != nil {
		return err
	}
	who := ""
	if !c.acct.self {
		who = fmt.Sprintf(" (running as user %s, since initdb refuses root)", c.acct.name)
	}
	c.logf("initialising a PostgreSQL %s cluster in %s%s", bins.version, c.pl.DataDir, who)
	secret, err := c.secretForInit()
	if err != nil {
		return fmt.Errorf("the cluster's secret: %w", err)
	}
	verifier, err := scramVerifier(secret)
	if err != nil {
		return err
	}
	pwfile, err := c.writePwfile(verifier)
	if err != nil {
		return fmt.Errorf("initdb password file: %w", err)
	}
	out, err := c.run(ctx, bins.path("initdb"), "-D", tmp, "-U", superuser, "-A", "scram-sha-256", "--pwfile", pwfile, "-E", "UTF8", "--no-locale")
	_ = os.Remove(pwfile)
	if err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, tailLines(out, 20))
	}
	f, err := os.OpenFile(filepath.Join(tmp, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = io.WriteString(f, serverConf(c.pl))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write postgresql.conf: %w", err)
	}
	return os.Rename(tmp, c.pl.DataDir)
}

// ensureStateDir creates /var/lib/eventscope/<hash> for root's unreachable homes.
func (c *cluster) ensureStateDir() error {
	if c.pl.StateDir == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(c.pl.StateDir), 0o755); err != nil {
		return err
	}
	return ensureOwnedDir(c.pl.StateDir, c.acct)
}

// serverConf is appended to postgresql.conf: socket only, dev settings.
func serverConf(p placement) string {
	quote := func(s string) string {
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
	}
	return fmt.Sprintf(`
# --- eventscope: private development cluster (internal/pgserver) ---
listen_addresses = ''
port = %d
unix_socket_directories = %s
unix_socket_permissions = 0700
max_connections = 200
password_encryption = 'scram-sha-256'
shared_buffers = 128MB
fsync = on
synchronous_commit = on
logging_collector = off
log_destination = 'stderr'
log_line_prefix = '%%m [%%p] '
`, p.Port, quote(p.SocketDir))
}

// pidFile is what the postmaster writes in postmaster.pid.
type pidFile struct {
	pid    int
	status string // "starting", "ready", "stopping", "standby"; empty if not yet written
}

func readPIDFile(dataDir string) (pidFile, bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return pidFile{}, false
	}
	lines := strings.Split(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || pid <= 0 {
		return pidFile{}, false
	}
	pf := pidFile{pid: pid}
	if len(lines) >= 8 {
		pf.status = strings.TrimSpace(lines[7])
	}
	return pf, true
}

// postmasterAlive reports whether pid, read from dataDir's postmaster.pid,
// is a live process of that cluster. After a crash or a reboot the pid may
// belong to an unrelated process: where /proc tells, the process must have
// dataDir as its working directory (the postmaster chdirs there before it
// writes postmaster.pid), so that Stop never signals a stranger and a stale
// pid file never passes for a running server.
func postmasterAlive(pid int, dataDir string) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	cwd, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
	if err != nil {
		return true // no /proc, or not allowed to look: trust the pid
	}
	want, err := filepath.EvalSymlinks(dataDir)
	if err != nil {
		want = dataDir
	}
	return cwd == want
}

// running reports whether the postmaster is up and ready, waiting while it
// is starting up or shutting down.
func (c *cluster) running(ctx context.Context) (int, bool, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pf, ok := readPIDFile(c.pl.DataDir)
		if !ok {
			return 0, false, nil
		}
		if !postmasterAlive(pf.pid, c.pl.DataDir) {
			// Stale (a crash or a reboot). Postgres would refuse to start
			// if the pid now belongs to another live process of its user.
			_ = os.Remove(filepath.Join(c.pl.DataDir, "postmaster.pid"))
			return 0, false, nil
		}
		if pf.status == "ready" || pf.status == "standby" {
			return pf.pid, true, nil
		}
		if time.Now().After(deadline) {
			return 0, false, fmt.Errorf("the server (pid %d) stayed %q for 2 minutes; see %s", pf.pid, pf.status, c.logPath())
		}
		select {
		case <-ctx.Done():
			return 0, false, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// start runs pg_ctl start and returns the postmaster's pid.
func (c *cluster) start(ctx context.Context) (int, error) {
	bins, err := findBinaries(ctx, c.o.BinDir, c.dataMajor())
	if err != nil {
		return 0, err
	}
	if err := c.ensureStateDir(); err != nil {
		return 0, err
	}
	if err := ensureOwnedDir(c.pl.SocketDir, c.acct); err != nil {
		return 0, fmt.Errorf("socket directory: %w", err)
	}
	rotateLog(c.logPath())
	c.logf("starting PostgreSQL %s (data %s, socket in %s)", bins.version, c.pl.DataDir, c.pl.SocketDir)
	out, err := c.run(ctx, bins.path("pg_ctl"), "start", "-D", c.pl.DataDir, "-l", c.logPath(), "-w", "-t", "120", "-s")
	if err != nil {
		return 0, fmt.Errorf("start PostgreSQL: pg_ctl: %v: %s\nthe end of %s:\n%s",
			err, strings.TrimSpace(string(out)), c.logPath(), tailFile(c.logPath(), 20))
	}
	pf, ok := readPIDFile(c.pl.DataDir)
	if !ok {
		return 0, fmt.Errorf("start PostgreSQL: no postmaster.pid after pg_ctl start; the end of %s:\n%s", c.logPath(), tailFile(c.logPath(), 20))
	}
	return pf.pid, nil
}

// stop asks the postmaster for a fast shutdown (SIGINT, what pg_ctl stop
// -m fast sends) and waits until it has gone. It needs no binaries.
func (c *cluster) stop(ctx context.Context) error {
	pf, ok := readPIDFile(c.pl.DataDir)
	if !ok || !postmasterAlive(pf.pid, c.pl.DataDir) {
		return nil
	}
	c.logf("stopping PostgreSQL (pid %d, data %s)", pf.pid, c.pl.DataDir)
	if err := syscall.Kill(pf.pid, syscall.SIGINT); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop PostgreSQL (pid %d): %w", pf.pid, err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cur, ok := readPIDFile(c.pl.DataDir)
		if !ok || cur.pid != pf.pid || !postmasterAlive(pf.pid, c.pl.DataDir) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("stop PostgreSQL: pid %d still running after 2 minutes; see %s", pf.pid, c.logPath())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ensureDatabase connects to the running server, creates the eventscope
// database if it is missing and returns the server's version.
func (c *cluster) ensureDatabase(ctx context.Context) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, authURL(c.pl.SocketDir, c.pl.Port, "postgres", passfilePath(c.home)))
	if err != nil {
		return "", fmt.Errorf("connect to the embedded server: %w; the end of %s:\n%s", err, c.logPath(), tailFile(c.logPath(), 10))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var version string
	var exists bool
	err = conn.QueryRow(cctx, `SELECT current_setting('server_version'), EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`,
		DatabaseName).Scan(&version, &exists)
	if err != nil {
		return "", err
	}
	if !exists {
		_, err := conn.Exec(cctx, "CREATE DATABASE "+DatabaseName)
		var pgErr *pgconn.PgError
		if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "42P04") { // duplicate_database
			return "", fmt.Errorf("create database %s: %w", DatabaseName, err)
		}
		c.logf("created database %s", DatabaseName)
	}
	if f := strings.Fields(version); len(f) > 0 {
		version = f[0]
	}
	return version, nil
}

func (c *cluster) destroy(ctx context.Context) error {
	if err := c.stop(ctx); err != nil {
		return err
	}
	if _, err := os.Stat(c.pl.DataDir); err == nil {
		if !c.initialised() {
			return fmt.Errorf("refusing to remove %s: it has no PG_VERSION, so it is not a PostgreSQL data directory", c.pl.DataDir)
		}
		if err := os.RemoveAll(c.pl.DataDir); err != nil {
			return err
		}
		c.logf("removed %s", c.pl.DataDir)
	}
	if err := os.RemoveAll(c.pl.DataDir + ".initdb-tmp"); err != nil {
		return err
	}
	// The socket directory is ours alone, but remove only the server's
	// files in it: never a recursive removal of a recorded path.
	if entries, err := os.ReadDir(c.pl.SocketDir); err == nil {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".s.PGSQL.") {
				_ = os.Remove(filepath.Join(c.pl.SocketDir, e.Name()))
			}
		}
		_ = os.Remove(c.pl.SocketDir)
	}
	if c.pl.StateDir != "" {
		if err := os.Remove(c.pl.StateDir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.Remove(filepath.Join(c.home, placementFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// The secret of a cluster that no longer exists: a new one gets its own.
	if err := os.Remove(passfilePath(c.home)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func statusOf(ctx context.Context, o Options) (State, error) {
	home, err := resolveHome(o)
	if err != nil {
		return State{}, err
	}
	pl, saved, err := loadPlacement(home)
	if err != nil {
		return State{}, err
	}
	if !saved {
		acct, err := serverAccount("")
		if err != nil {
			return State{}, err
		}
		pl = plan(home, acct)
	}
	c := &cluster{o: o, home: home, pl: pl, saved: saved}
	st := State{
		Home:        home,
		Initialised: c.initialised(),
		DataDir:     pl.DataDir,
		SocketDir:   pl.SocketDir,
		URL:         authURL(pl.SocketDir, pl.Port, DatabaseName, passfilePath(home)),
		User:        pl.User,
		LogFile:     c.logPath(),
	}
	if pf, ok := readPIDFile(pl.DataDir); ok && postmasterAlive(pf.pid, pl.DataDir) {
		st.PID = pf.pid
		st.Running = pf.status == "ready" || pf.status == "standby"
	}
	major := c.dataMajor()
	if bins, err := findBinaries(ctx, o.BinDir, major); err == nil {
		st.Version = bins.version
	} else if major > 0 {
		st.Version = strconv.Itoa(major)
	}
	return st, nil
}

// run runs a server binary as the server's user and returns its output.
func (c *cluster) run(ctx context.Context, path string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = childEnv()
	// A directory the server user can enter: root's working directory may
	// be /root, which it cannot.
	cmd.Dir = filepath.Dir(c.pl.DataDir)
	if !c.acct.self {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
			Uid: c.acct.uid, Gid: c.acct.gid, Groups: c.acct.groups,
		}}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// pg_ctl start leaves a postmaster behind; it does not hold our pipe
	// (its output goes to the log), but never wait for it forever.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	return out.Bytes(), err
}

// rotateLog keeps one previous log once the log passes 16 MiB.
func rotateLog(path string) {
	if fi, err := os.Stat(path); err == nil && fi.Size() > 16<<20 {
		_ = os.Rename(path, path+".1")
	}
}

func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	const max = 8 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		_, _ = f.Seek(fi.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return tailLines(b, n)
}

func tailLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n")
}
