package common

import (
	"net/url"
	"regexp"
	"strings"
)

// Redacted replaces a password in a URL or DSN.
const Redacted = "xxxxx"

var (
	// key=value DSN parameters that hold secrets, quoted or bare.
	dsnSecret = regexp.MustCompile(`(?i)\b(password|sslpassword|passfile)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)
	// userinfo in a URL-ish string that url.Parse rejected.
	userinfoRE = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*):[^@\s]*@`)
)

// RedactURL hides every password in a PostgreSQL connection string, in URL
// form (postgres://user:secret@host/db?password=secret) or key=value form
// (host=h password=secret). The console shows the result, never the input.
func RedactURL(s string) string {
	if s == "" {
		return s
	}
	if strings.Contains(s, "://") {
		if u, err := url.Parse(s); err == nil {
			if u.User != nil {
				if _, has := u.User.Password(); has {
					u.User = url.UserPassword(u.User.Username(), Redacted)
				}
			}
			q := u.Query()
			changed := false
			for k := range q {
				switch strings.ToLower(k) {
				case "password", "sslpassword":
					q.Set(k, Redacted)
					changed = true
				}
			}
			if changed {
				u.RawQuery = q.Encode()
			}
			out := u.String()
			// url.String escapes the placeholder's characters in userinfo
			// not at all ("xxxxx"), so this stays readable.
			return out
		}
		// Unparseable URL: cut out anything that looks like a password.
		s = userinfoRE.ReplaceAllString(s, "${1}:"+Redacted+"@")
		return dsnSecret.ReplaceAllString(s, "${1}="+Redacted)
	}
	return dsnSecret.ReplaceAllString(s, "${1}="+Redacted)
}
