package store

import (
	"strings"
	"testing"
)

func TestRedactQuery(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`INSERT INTO users (name, password) VALUES ('ann', 'hunter2')`:   `INSERT INTO users (name, password) VALUES (?, ?)`,
		`SELECT * FROM t WHERE id = 42 AND x > 3.5e-3 AND y = -7`:        `SELECT * FROM t WHERE id = ? AND x > ? AND y = -?`,
		`SELECT 'it''s', E'a\'b\\', $1, t1.col2 FROM t1`:                 `SELECT ?, ?, $1, t1.col2 FROM t1`,
		`SELECT $$dollar 'secret'$$, $tag$x$$y$tag$ FROM "Weird""Name"`:  `SELECT ?, ? FROM "Weird""Name"`,
		`UPDATE a SET k = X'1F', b = B'101', u = U&'d\0061t' /* keep */`: `UPDATE a SET k = ?, b = ?, u = ? /* keep */`,
		`SELECT pg_current_xact_id() /* the-slow-one */`:                 `SELECT pg_current_xact_id() /* the-slow-one */`,
		`SELECT 0x1F, 1_000, .5, ex'1'`:                                  `SELECT ?, ?, ?, ex?`,
		`INSERT INTO s VALUES ('cut short by track_activity_query_si`:    `INSERT INTO s VALUES (?`,
		`SELECT 'a' -- trailing 'comment'` + "\n" + `, 'b'`:              `SELECT ? -- trailing 'comment'` + "\n" + `, ?`,
		`SELECT $1::text, x$y FROM t`:                                    `SELECT $1::text, x$y FROM t`,
		``:                                                               ``,
	} {
		if got := RedactQuery(in); got != want {
			t.Errorf("RedactQuery(%q)\n = %q\nwant %q", in, got, want)
		}
	}
}

func FuzzRedactQuery(f *testing.F) {
	for _, s := range []string{`SELECT 'x'`, `E'\''`, `$a$ $a$`, `/* /* */`, `"a""`, `1e+5`, `$$`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		out := RedactQuery(q)
		if len(out) > len(q)+1 {
			t.Fatalf("RedactQuery(%q) = %q grew", q, out)
		}
		// A plain quoted literal with a marker in it never survives.
		probe := "SELECT '" + strings.ReplaceAll(q, "'", "''") + "SECRET'"
		if strings.Contains(RedactQuery(probe), "SECRET") {
			t.Fatalf("RedactQuery(%q) kept the literal", probe)
		}
	})
}
