package common

import "eventscope/internal/pgserver"

// RedactURL hides every password in a PostgreSQL connection string, in URL
// form (postgres://user:secret@host/db?password=secret) or key=value form
// (host=h password=secret). The console shows the result, never the input.
// It is pgserver.RedactURL, the one redaction the CLI and logs use too.
func RedactURL(s string) string { return pgserver.RedactURL(s) }
