package pgserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The cluster authenticates every connection, local and TCP, with SCRAM-SHA-256
// against a secret generated for it: socket permissions alone do not do,
// since as root the server runs as an OS account (postgres) that other
// software shares, and trust would let anything running as that account in.
// The secret lives in <home>/pgpass, mode 0600, in the pgpass format libpq
// and pgx read; the URLs name that file (passfile=...), so the secret never
// appears in a URL, a process list or a log. The server stores only a SCRAM
// verifier (computed here; the secret is never sent to it).

// passfileName is the secret's file in the home.
const passfileName = "pgpass"

// scramIterations is PostgreSQL's default iteration count.
const scramIterations = 4096

func passfilePath(home string) string { return filepath.Join(home, passfileName) }

// readSecret returns the secret in home's passfile; ok is false when there
// is none.
func readSecret(home string) (secret string, ok bool, err error) {
	path := passfilePath(home)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return "", false, err
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) == 5 && f[3] == superuser && f[4] != "" {
			return f[4], true, nil
		}
	}
	return "", false, fmt.Errorf("%s holds no password for %s", path, superuser)
}

// createSecret writes a new random secret to home's passfile (mode 0600,
// atomically) and returns it.
func createSecret(home string) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	secret := base64.RawURLEncoding.EncodeToString(raw) // no ':' or '\' to escape in pgpass
	content := "# eventscope: the embedded PostgreSQL's password (pgpass format; keep it mode 0600)\n" +
		"*:*:*:" + superuser + ":" + secret + "\n"
	tmp, err := os.CreateTemp(home, ".pgpass-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", err
	}
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), passfilePath(home)); err != nil {
		return "", err
	}
	return secret, nil
}

// scramVerifier is what PostgreSQL stores for a SCRAM-SHA-256 password
// (RFC 5802/7677): SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>.
func scramVerifier(secret string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	salted, err := pbkdf2.Key(sha256.New, secret, salt, scramIterations, sha256.Size)
	if err != nil {
		return "", err
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	clientKey := mac(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	server := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", scramIterations, b64(salt), b64(stored[:]), b64(server)), nil
}

// hbaConf is the pg_hba.conf of an eventscope cluster: password (SCRAM)
// for every connection, local and TCP, replication included.
const hbaConf = `# eventscope (internal/pgserver): every connection authenticates with
# SCRAM-SHA-256; the password is in the eventscope home's pgpass (mode 0600).
# TYPE  DATABASE     USER  ADDRESS       METHOD
local   all          all                 scram-sha-256
host    all          all   127.0.0.1/32  scram-sha-256
host    all          all   ::1/128       scram-sha-256
local   replication  all                 scram-sha-256
host    replication  all   127.0.0.1/32  scram-sha-256
host    replication  all   ::1/128       scram-sha-256
`

// hbaTrusts reports whether the data directory's pg_hba.conf lets anyone
// in without a password (a cluster made before authentication).
func hbaTrusts(dataDir string) (bool, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "pg_hba.conf"))
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) > 0 && (f[len(f)-1] == "trust" || f[len(f)-1] == "peer" || f[len(f)-1] == "ident") {
			return true, nil
		}
	}
	return false, nil
}

// writePwfile writes the verifier for initdb --pwfile beside the data
// directory, readable by the server account only; remove it after.
func (c *cluster) writePwfile(verifier string) (string, error) {
	path := c.pl.DataDir + ".pwfile"
	_ = os.Remove(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.WriteString(verifier + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !c.acct.self {
		err = os.Chown(path, int(c.acct.uid), int(c.acct.gid))
	}
	if err != nil {
		_ = os.Remove(path)
		return "", err
	}
	return path, nil
}

// secretForInit returns the home's secret, creating it for a new cluster.
func (c *cluster) secretForInit() (string, error) {
	secret, ok, err := readSecret(c.home)
	if err != nil || ok {
		return secret, err
	}
	return createSecret(c.home)
}

// ensureAuth secures a running cluster made before authentication (trust
// in pg_hba.conf): it sets the superuser's password from the home's secret
// (creating one) and switches pg_hba.conf to SCRAM, then reloads. A
// cluster already secured needs its secret: without it nobody can connect.
func (c *cluster) ensureAuth(ctx context.Context) error {
	trusts, err := hbaTrusts(c.pl.DataDir)
	if err != nil {
		return fmt.Errorf("read pg_hba.conf: %w", err)
	}
	secret, ok, err := readSecret(c.home)
	if err != nil {
		return err
	}
	if !trusts {
		if !ok {
			return fmt.Errorf("the cluster requires a password, and its secret %s is missing: restore that file, "+
				"or remove the cluster with eventscope db destroy (its data is lost)", passfilePath(c.home))
		}
		return nil
	}
	c.logf("securing the embedded PostgreSQL: password authentication, secret in %s", passfilePath(c.home))
	if !ok {
		if secret, err = createSecret(c.home); err != nil {
			return fmt.Errorf("create the secret: %w", err)
		}
	}
	verifier, err := scramVerifier(secret)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, authURL(c.pl.SocketDir, c.pl.Port, "postgres", passfilePath(c.home)))
	if err != nil {
		return fmt.Errorf("connect to secure the embedded server: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// A verifier, not the secret: ALTER ROLE takes no parameters, and the
	// statement may be logged. %L quotes it.
	var stmt string
	if err := conn.QueryRow(cctx, `SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)`, superuser, verifier).Scan(&stmt); err != nil {
		return err
	}
	if _, err := conn.Exec(cctx, stmt); err != nil {
		return fmt.Errorf("set the password: %w", err)
	}
	if err := c.writeHBA(); err != nil {
		return fmt.Errorf("write pg_hba.conf: %w", err)
	}
	if _, err := conn.Exec(cctx, `SELECT pg_reload_conf()`); err != nil {
		return fmt.Errorf("reload the configuration: %w", err)
	}
	return nil
}

// writeHBA replaces pg_hba.conf with hbaConf, owned by the server account.
func (c *cluster) writeHBA() error {
	path := filepath.Join(c.pl.DataDir, "pg_hba.conf")
	tmp := path + ".eventscope-tmp"
	if err := os.WriteFile(tmp, []byte(hbaConf), 0o600); err != nil {
		return err
	}
	if !c.acct.self {
		if err := os.Chown(tmp, int(c.acct.uid), int(c.acct.gid)); err != nil {
			_ = os.Remove(tmp)
			return err
		}
	}
	return os.Rename(tmp, path)
}
