package pgserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrNoBinaries means no usable PostgreSQL server binaries were found.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries found")

// minMajor is the oldest PostgreSQL major version the embedded server uses
// (DROP DATABASE ... WITH (FORCE) needs 13).
const minMajor = 13

// binaries is one directory holding initdb, pg_ctl and postgres.
type binaries struct {
	dir     string
	version string // "15.20"
	major   int
}

func (b binaries) path(name string) string { return filepath.Join(b.dir, name) }

var serverBinaries = []string{"initdb", "pg_ctl", "postgres"}

// binDirEnv names the environment variable that pins the binary directory.
const binDirEnv = "EVENTSCOPE_PG_BIN"

// findBinaries returns the first usable binary directory. wantMajor > 0
// restricts the search to that major version (an existing cluster's).
func findBinaries(ctx context.Context, binDir string, wantMajor int) (binaries, error) {
	pinnedBy := "Options.BinDir"
	if binDir == "" {
		binDir = os.Getenv(binDirEnv)
		pinnedBy = binDirEnv
	}
	var candidates []string
	var where string
	if binDir != "" {
		candidates = []string{binDir}
		where = binDir + " (set by " + pinnedBy + ")"
	} else {
		candidates = searchDirs()
		where = "PATH or /usr/lib/postgresql/*/bin"
	}
	var skipped []string
	for _, dir := range candidates {
		b, err := probe(ctx, dir)
		if err != nil {
			if !errors.Is(err, errMissing) {
				skipped = append(skipped, err.Error())
			}
			continue
		}
		if b.major < minMajor {
			skipped = append(skipped, fmt.Sprintf("%s: PostgreSQL %s is older than %d", dir, b.version, minMajor))
			continue
		}
		if wantMajor > 0 && b.major != wantMajor {
			skipped = append(skipped, fmt.Sprintf("%s: PostgreSQL %s, but the cluster needs major version %d", dir, b.version, wantMajor))
			continue
		}
		return b, nil
	}
	if err := ctx.Err(); err != nil {
		return binaries{}, err
	}
	what := fmt.Sprintf("initdb, pg_ctl and postgres, version %d or newer", minMajor)
	if wantMajor > 0 {
		what = fmt.Sprintf("initdb, pg_ctl and postgres of PostgreSQL %d, which created the existing cluster", wantMajor)
	}
	msg := fmt.Sprintf("%v (%s) in %s.\n", ErrNoBinaries, what, where)
	if len(skipped) > 0 {
		msg += "Skipped: " + strings.Join(skipped, "; ") + ".\n"
	}
	msg += "Install them (Debian/Ubuntu: apt-get install postgresql; Fedora: dnf install postgresql-server;\n" +
		"macOS: brew install postgresql), or add their bin directory to PATH"
	if binDir != "" {
		msg += " and unset " + pinnedBy + " (or point it at that directory)"
	} else {
		msg += " (or set " + binDirEnv + " to it)"
	}
	msg += ",\nor use a server you already have: --db URL or DATABASE_URL=postgres://user@host:5432/dbname"
	return binaries{}, &binariesError{msg: msg}
}

// binariesError carries the long, helpful message and matches ErrNoBinaries.
type binariesError struct{ msg string }

func (e *binariesError) Error() string        { return e.msg }
func (e *binariesError) Is(target error) bool { return target == ErrNoBinaries }

var errMissing = errors.New("missing binaries")

// searchDirs lists candidate directories: PATH's first, then the usual
// install locations, newest major version first.
func searchDirs() []string {
	var dirs []string
	add := func(d string) {
		if d != "" && !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	for _, name := range serverBinaries {
		p, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		add(filepath.Dir(p))
	}
	var globbed []string
	for _, pattern := range []string{
		"/usr/lib/postgresql/*/bin",
		"/usr/pgsql-*/bin",
		"/usr/local/pgsql/bin",
		"/opt/homebrew/opt/postgresql@*/bin",
		"/usr/local/opt/postgresql@*/bin",
	} {
		m, _ := filepath.Glob(pattern)
		globbed = append(globbed, m...)
	}
	// Newest first by the version number in the path (".../17/bin",
	// "postgresql@16"); the probe checks the real version.
	slices.SortStableFunc(globbed, func(a, b string) int { return pathMajor(b) - pathMajor(a) })
	for _, d := range globbed {
		add(d)
	}
	return dirs
}

var pathMajorRE = regexp.MustCompile(`(?:/|@|-)(\d+)(?:\.\d+)?/bin$`)

func pathMajor(dir string) int {
	m := pathMajorRE.FindStringSubmatch(dir)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)(\.\d+)?`)

// probe checks that dir holds the three binaries and asks postgres its version.
func probe(ctx context.Context, dir string) (binaries, error) {
	for _, name := range serverBinaries {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return binaries{}, errMissing
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "postgres"), "--version")
	cmd.Env = childEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return binaries{}, fmt.Errorf("%s/postgres --version: %v", dir, err)
	}
	m := versionRE.FindStringSubmatch(out.String())
	if m == nil {
		return binaries{}, fmt.Errorf("%s/postgres --version: unexpected output %q", dir, strings.TrimSpace(out.String()))
	}
	major, _ := strconv.Atoi(m[1])
	return binaries{dir: dir, version: m[1] + m[2], major: major}, nil
}

// childEnv is the environment for server processes: ours without PG*
// variables, which would otherwise change the port, the data directory or
// the connection target of pg_ctl and postgres.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_MESSAGES=C")
}
