package cli

import "testing"

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"url password", "postgres://app:s3cret@db.example:5432/events?sslmode=require", "postgres://app:xxxxx@db.example:5432/events?sslmode=require"},
		{"postgresql scheme", "postgresql://app:s3cret@db/events", "postgresql://app:xxxxx@db/events"},
		{"escaped password", "postgres://app:p%40ss%2Fw@db/events", "postgres://app:xxxxx@db/events"},
		{"raw @ in password", "postgres://app:p@ss@db/events", "postgres://app:xxxxx@db/events"},
		{"password query parameter", "postgres://db/events?user=app&password=s3cret", "postgres://db/events?user=app&password=xxxxx"},
		{"no password", "postgres://app@db/events", "postgres://app@db/events"},
		{"empty password", "postgres://app:@db/events", "postgres://app:xxxxx@db/events"},
		{"socket url", "postgres://postgres@/eventscope?host=/tmp/es/run&port=5432", "postgres://postgres@/eventscope?host=/tmp/es/run&port=5432"},
		{"dsn", "host=db user=app password=s3cret dbname=events", "host=db user=app password=xxxxx dbname=events"},
		{"dsn quoted", "host=db password='a b\\'c' dbname=events", "host=db password=xxxxx dbname=events"},
		{"dsn spaced", "host=db password = s3cret", "host=db password = xxxxx"},
		{"dsn no password", "host=db dbname=events", "host=db dbname=events"},
		{"empty", "", ""},
	} {
		if got := redactURL(tc.in); got != tc.want {
			t.Errorf("%s: redactURL(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}
