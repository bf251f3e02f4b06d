package pgserver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

const (
	homeEnv       = "EVENTSCOPE_HOME"
	serverUserEnv = "EVENTSCOPE_PG_USER"
	placementFile = "cluster.json"
	lockFile      = "lock"
	defaultPort   = 5432
	// maxSocketPath keeps "<socket dir>/.s.PGSQL.5432" under the 108-byte
	// sun_path limit (107 characters and the terminating NUL), with room.
	maxSocketPath = 107
	// rootStateBase holds the clusters of root's homes that the server user
	// cannot reach.
	rootStateBase = "/var/lib/eventscope"
	// shortSocketBase holds socket directories when the home is too long.
	shortSocketBase = "/tmp"
)

// resolveHome returns the absolute home directory for o.
func resolveHome(o Options) (string, error) {
	home := o.Home
	if home == "" {
		home = os.Getenv(homeEnv)
	}
	if home == "" {
		uh, err := os.UserHomeDir()
		if err != nil || uh == "" {
			return "", fmt.Errorf("cannot find the home directory for the embedded PostgreSQL (set %s): %v", homeEnv, err)
		}
		home = filepath.Join(uh, ".local", "share", "eventscope")
	}
	abs, err := filepath.Abs(home)
	if err != nil {
		return "", fmt.Errorf("embedded PostgreSQL home %q: %w", home, err)
	}
	return abs, nil
}

// homeHash names per-home directories outside the home.
func homeHash(home string) string {
	h := sha256.Sum256([]byte(home))
	return hex.EncodeToString(h[:])[:12]
}

// account is the OS user the server processes run as.
type account struct {
	name   string
	uid    uint32
	gid    uint32
	groups []uint32
	self   bool // the current user: no credential switch
}

func currentAccount() account {
	a := account{uid: uint32(os.Geteuid()), gid: uint32(os.Getegid()), self: true}
	if u, err := user.Current(); err == nil {
		a.name = u.Username
	} else {
		a.name = strconv.Itoa(int(a.uid))
	}
	if gs, err := os.Getgroups(); err == nil {
		for _, g := range gs {
			a.groups = append(a.groups, uint32(g))
		}
	}
	return a
}

func lookupAccount(name string) (account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return account{}, err
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return account{}, fmt.Errorf("user %s has a non-numeric uid or gid", name)
	}
	if uid == 0 {
		return account{}, fmt.Errorf("user %s is root; PostgreSQL refuses to run as root", name)
	}
	a := account{name: u.Username, uid: uint32(uid), gid: uint32(gid)}
	if ids, err := u.GroupIds(); err == nil {
		for _, s := range ids {
			if g, err := strconv.ParseUint(s, 10, 32); err == nil {
				a.groups = append(a.groups, uint32(g))
			}
		}
	}
	if !containsGroup(a.groups, a.gid) {
		a.groups = append(a.groups, a.gid)
	}
	return a, nil
}

func containsGroup(gs []uint32, g uint32) bool {
	for _, x := range gs {
		if x == g {
			return true
		}
	}
	return false
}

// serverAccount picks who runs the server: ourselves, unless we are root,
// then the recorded user of an existing cluster, else $EVENTSCOPE_PG_USER,
// else postgres, else nobody.
func serverAccount(recorded string) (account, error) {
	if os.Geteuid() != 0 {
		a := currentAccount()
		if recorded != "" && recorded != a.name && recorded != strconv.Itoa(int(a.uid)) {
			return account{}, fmt.Errorf("the cluster belongs to user %s: run eventscope as %s (or root), or use another %s", recorded, recorded, homeEnv)
		}
		return a, nil
	}
	names := []string{"postgres", "nobody"}
	if recorded != "" {
		names = []string{recorded}
	} else if env := os.Getenv(serverUserEnv); env != "" {
		names = []string{env}
	}
	var errs []error
	for _, n := range names {
		a, err := lookupAccount(n)
		if err == nil {
			return a, nil
		}
		errs = append(errs, err)
	}
	return account{}, fmt.Errorf("running as root, and no unprivileged user to run PostgreSQL as (tried %v; set %s): %w",
		names, serverUserEnv, errors.Join(errs...))
}

// placement says where a cluster lives; it is saved as cluster.json in the home.
type placement struct {
	User      string `json:"user"`                // OS user the server runs as
	DataDir   string `json:"data_dir"`            // PGDATA
	SocketDir string `json:"socket_dir"`          // unix_socket_directories
	StateDir  string `json:"state_dir,omitempty"` // a directory outside the home holding data and run, removed by Destroy
	Port      int    `json:"port"`
}

// plan decides where a new cluster of home goes (see the package doc).
func plan(home string, acct account) placement {
	p := placement{User: acct.name, Port: defaultPort}
	base := home
	if !acct.self && !homeReachable(home, acct) {
		p.StateDir = filepath.Join(rootStateBase, homeHash(home))
		base = p.StateDir
	}
	p.DataDir = filepath.Join(base, "data")
	p.SocketDir = filepath.Join(base, "run")
	if len(socketPath(p.SocketDir, p.Port)) >= maxSocketPath {
		p.SocketDir = filepath.Join(shortSocketBase, "eventscope-"+homeHash(home))
	}
	return p
}

func socketPath(dir string, port int) string {
	return filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(port))
}

// homeReachable is reachable for an existing home; for one still to be
// made, it predicts what makeHome will make of it: a home of mode 0711 in an
// existing parent (missing parents are made 0700, which nobody else passes).
func homeReachable(home string, acct account) bool {
	if _, err := os.Stat(home); err == nil {
		return reachable(home, acct)
	}
	parent := filepath.Dir(home)
	if _, err := os.Stat(parent); err != nil {
		return false
	}
	return reachable(parent, acct)
}

// reachable reports whether acct may search (traverse) dir and every
// directory above it, judging by the permission bits.
func reachable(dir string, acct account) bool {
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return false
		}
		if !canSearch(fi, acct) {
			return false
		}
		if p == filepath.Dir(p) {
			return true
		}
	}
}

func canSearch(fi fs.FileInfo, acct account) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	m := fi.Mode().Perm()
	switch {
	case st.Uid == acct.uid:
		return m&0o100 != 0
	case st.Gid == acct.gid || containsGroup(acct.groups, st.Gid):
		return m&0o010 != 0
	default:
		return m&0o001 != 0
	}
}

func loadPlacement(home string) (placement, bool, error) {
	b, err := os.ReadFile(filepath.Join(home, placementFile))
	if errors.Is(err, fs.ErrNotExist) {
		return placement{}, false, nil
	}
	if err != nil {
		return placement{}, false, err
	}
	var p placement
	if err := json.Unmarshal(b, &p); err != nil {
		return placement{}, false, fmt.Errorf("%s: %w", filepath.Join(home, placementFile), err)
	}
	if p.DataDir == "" || p.SocketDir == "" || !filepath.IsAbs(p.DataDir) || !filepath.IsAbs(p.SocketDir) {
		return placement{}, false, fmt.Errorf("%s: data_dir and socket_dir must be absolute paths", filepath.Join(home, placementFile))
	}
	if p.Port == 0 {
		p.Port = defaultPort
	}
	return p, true, nil
}

func savePlacement(home string, p placement) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(home, placementFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(home, placementFile))
}

// ensureOwnedDir creates dir (mode 0700) for acct, or checks that an
// existing one is a real directory owned by acct that no one else can use.
func ensureOwnedDir(dir string, acct account) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return err
		}
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if !acct.self {
			if err := os.Chown(dir, int(acct.uid), int(acct.gid)); err != nil {
				return err
			}
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if st.Uid != acct.uid {
		return fmt.Errorf("%s belongs to uid %d, not to %s (uid %d), who runs the server: remove it", dir, st.Uid, acct.name, acct.uid)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return err
		}
	}
	return nil
}
