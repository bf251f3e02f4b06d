package bench

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The plain-SQL workloads are driven by pgbench, PostgreSQL's own C
// client: what a service in any language calling the SQL API gets, without
// Go on the client side.
//
//go:embed pgbench/*.sql
var pgbenchScripts embed.FS

// Pgbench scripts (internal/bench/pgbench/).
const (
	PgbenchAppend         = "append.sql"
	PgbenchAppendMulti    = "append_multi.sql"
	PgbenchRawInsert      = "raw_insert.sql"
	PgbenchRawInsertMulti = "raw_insert_multi.sql"
)

// ErrNoPgbench: pgbench is not on PATH, so the plain-SQL rows are skipped.
var ErrNoPgbench = errors.New("pgbench is not on PATH (install PostgreSQL's client tools, e.g. Debian's postgresql-client): the plain-SQL rows are skipped")

// PgbenchPath finds pgbench on PATH.
func PgbenchPath() (string, error) {
	p, err := exec.LookPath("pgbench")
	if err != nil {
		return "", ErrNoPgbench
	}
	return p, nil
}

// PgbenchConfig is one pgbench run.
type PgbenchConfig struct {
	Script   string        // one of the Pgbench* scripts
	Clients  int           // -c
	Duration time.Duration // -T, rounded up to whole seconds
	Events   int           // events one transaction of the script appends (for events/s)
	// Options is PGOPTIONS for the clients' sessions, e.g.
	// "-c eventscope.notify=off". Default none: the server's defaults.
	Options string
}

var tpsRe = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)
var txRe = regexp.MustCompile(`(?m)^number of transactions actually processed: ([0-9]+)`)

// RunPgbench runs a pgbench script against the scratch database
// (`pgbench -n -M prepared -c N -j 2 -T S -f script`) and returns its
// transactions and events per second.
func RunPgbench(ctx context.Context, env *Env, c PgbenchConfig) (Result, error) {
	bin, err := PgbenchPath()
	if err != nil {
		return Result{}, err
	}
	script, err := pgbenchScripts.ReadFile("pgbench/" + c.Script)
	if err != nil {
		return Result{}, fmt.Errorf("bench: pgbench script %s: %w", c.Script, err)
	}
	dir, err := os.MkdirTemp("", "eventscope-pgbench-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, c.Script)
	if err := os.WriteFile(file, script, 0o644); err != nil {
		return Result{}, err
	}
	env.closeIdle() // pgbench brings connections of its own
	secs := max(1, int((c.Duration+time.Second-1)/time.Second))
	event := `{"type":"OrderPlaced","data":` + string(payload) + `,"metadata":` + string(metadata) + `}`
	args := []string{"-n", "-M", "prepared", "-c", strconv.Itoa(c.Clients), "-j", strconv.Itoa(min(2, c.Clients)),
		"-T", strconv.Itoa(secs), "-f", file,
		"-D", "data=" + string(payload), "-D", "metadata=" + string(metadata),
		"-D", "event=" + event, "-D", "events=[" + event + "]",
		libpqURL(env.URL)}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = os.Environ()
	if c.Options != "" {
		cmd.Env = append(cmd.Env, "PGOPTIONS="+c.Options)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("bench: pgbench %s: %w: %s", c.Script, err, strings.TrimSpace(errb.String()))
	}
	tm, xm := tpsRe.FindSubmatch(out.Bytes()), txRe.FindSubmatch(out.Bytes())
	if tm == nil || xm == nil {
		return Result{}, fmt.Errorf("bench: pgbench %s: no tps in its output: %s", c.Script, strings.TrimSpace(out.String()+errb.String()))
	}
	if strings.Contains(errb.String(), "aborted") {
		return Result{}, fmt.Errorf("bench: pgbench %s: clients aborted: %s", c.Script, strings.TrimSpace(errb.String()))
	}
	tps, _ := strconv.ParseFloat(string(tm[1]), 64)
	n, _ := strconv.ParseInt(string(xm[1]), 10, 64)
	if tps <= 0 || n <= 0 {
		return Result{}, fmt.Errorf("bench: pgbench %s processed nothing: %s", c.Script, strings.TrimSpace(out.String()))
	}
	events := max(1, c.Events)
	return Result{Name: "pgbench " + c.Script, Ops: n, Events: n * int64(events),
		Elapsed: time.Duration(float64(n) / tps * float64(time.Second))}, nil
}

// libpqURL drops the parameters only pgx understands (pool sizes, statement
// caches), which libpq would refuse.
func libpqURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") || strings.HasPrefix(k, "statement_cache") || strings.HasPrefix(k, "description_cache") || k == "default_query_exec_mode" {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}
