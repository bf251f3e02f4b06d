package pgserver

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// connURL is a libpq/pgx URL for a server on a Unix socket. The port is
// spelled out so that a PGPORT in the environment cannot redirect it.
func connURL(socketDir string, port int, db string) string {
	return "postgres://" + superuser + "@/" + uriEscape(db) + "?host=" + uriEscape(socketDir) + "&port=" + strconv.Itoa(port)
}

// uriEscape percent-encodes all but unreserved characters and '/', which
// keeps socket paths readable. (Not url.QueryEscape: libpq does not read
// '+' as a space.)
func uriEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '/':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// passwordKV matches password=... (and sslpassword=...) in a key=value
// connection string, in single quotes (with backslash escapes) or bare.
var passwordKV = regexp.MustCompile(`(?i)(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s]*)`)

// RedactURL removes passwords from a connection string, a URL
// (postgres://user:secret@host/db, ?password=secret) or a key=value DSN
// (host=h password=secret), for showing it in headers and logs. The result
// still says which server, database and user.
func RedactURL(s string) string {
	if lower := strings.ToLower(s); strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://") {
		return redactURI(s)
	}
	return passwordKV.ReplaceAllString(s, "${1}xxxxx")
}

func redactURI(s string) string {
	scheme, rest, _ := strings.Cut(s, "://")
	// Userinfo ends at the last '@' before the path, like libpq reads it
	// up to the first '/'; a password may itself contain '@' or '?'.
	authEnd := strings.IndexByte(rest, '/')
	if authEnd < 0 {
		authEnd = len(rest)
	}
	if at := strings.LastIndexByte(rest[:authEnd], '@'); at >= 0 {
		if user, _, hasPw := strings.Cut(rest[:at], ":"); hasPw {
			rest = user + ":xxxxx" + rest[at:]
		}
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		params := strings.Split(rest[q+1:], "&")
		for i, p := range params {
			k, _, _ := strings.Cut(p, "=")
			if dk, err := url.QueryUnescape(k); err == nil && (strings.EqualFold(dk, "password") || strings.EqualFold(dk, "sslpassword")) {
				params[i] = k + "=xxxxx"
			}
		}
		rest = rest[:q+1] + strings.Join(params, "&")
	}
	return scheme + "://" + rest
}

var (
	dbnameKV    = regexp.MustCompile(`(?i)(^|\s)dbname\s*=\s*('(?:[^'\\]|\\.)*'|\S*)`)
	dbnameParam = regexp.MustCompile(`(?i)^dbname=`)
)

// WithDatabase returns connString (a URL or a key=value DSN) naming database db.
func WithDatabase(connString, db string) string {
	scheme, rest, isURL := strings.Cut(connString, "://")
	if !isURL || (scheme != "postgres" && scheme != "postgresql") {
		s := strings.TrimSpace(dbnameKV.ReplaceAllString(connString, ""))
		if s == "" {
			return "dbname=" + db
		}
		return s + " dbname=" + db
	}
	query := ""
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		rest, query = rest[:q], rest[q+1:]
	}
	if slash := strings.IndexByte(rest, '/'); slash >= 0 {
		rest = rest[:slash]
	}
	out := scheme + "://" + rest + "/" + db
	if query != "" {
		var keep []string
		for _, p := range strings.Split(query, "&") {
			if !dbnameParam.MatchString(p) {
				keep = append(keep, p)
			}
		}
		if len(keep) > 0 {
			out += "?" + strings.Join(keep, "&")
		}
	}
	return out
}

// authURL is connURL with the passfile holding the cluster's password.
func authURL(socketDir string, port int, db, passfile string) string {
	return connURL(socketDir, port, db) + "&passfile=" + uriEscape(passfile)
}
