package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// shadowSQL builds, as the owner, a schema "hostile" that shadows what a
// caller's search_path could reach from eventscope.append and the SQL
// functions it inlines: every pg_catalog function whose name appears in
// their bodies, every pg_catalog operator on the types they use, and the
// types jsonb, text and timestamptz. Each shadow function raises, naming
// itself. Functions with pseudo-type arguments or OUT parameters are not
// recreated as they are; pg_column_size("any"), the one the bodies name, is
// shadowed for jsonb and text, which an exact match would prefer.
// (The writer's own session adds temporary types of those names, pg_temp
// being searched first for types.)
const shadowSQL = `
CREATE SCHEMA hostile;
CREATE FUNCTION hostile.reached(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'hostile shadow reached: %', what; END $$;
DO $$
DECLARE
    src text;
    f   record;
    o   record;
    kinds regtype[] := ARRAY['text', 'jsonb', 'bigint', 'integer', 'xid8', 'timestamptz', 'boolean', 'text[]', 'jsonpath', 'uuid']::regtype[];
BEGIN
    SELECT string_agg(pg_get_functiondef(p.oid), ' ') INTO src FROM pg_proc p
     WHERE p.pronamespace = 'eventscope'::regnamespace
       AND p.proname IN ('append', 'event_screen', 'category', 'stream_id_refused_chars', 'type_refused_chars', 'max_json_depth', 'max_event_bytes');
    FOR f IN SELECT p.oid, p.proname, pg_get_function_identity_arguments(p.oid) AS args, p.prorettype::regtype AS res
               FROM pg_proc p
              WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.prokind = 'f' AND NOT p.proretset
                AND p.proallargtypes IS NULL
                AND src ~ ('\m' || p.proname || '\M')
                AND (p.prorettype = 'void'::regtype OR (SELECT t.typtype FROM pg_type t WHERE t.oid = p.prorettype) <> 'p')
                AND NOT EXISTS (SELECT 1 FROM unnest(p.proargtypes::oid[]) AS a(t) JOIN pg_type t ON t.oid = a.t WHERE t.typtype = 'p') LOOP
        EXECUTE format('CREATE FUNCTION hostile.%I(%s) RETURNS %s LANGUAGE plpgsql AS $b$ BEGIN PERFORM hostile.reached(%L); %s END $b$',
                       f.proname, f.args, f.res, 'function ' || f.proname || '(' || f.args || ')',
                       CASE WHEN f.res = 'void'::regtype THEN '' ELSE 'RETURN NULL;' END);
    END LOOP;
    CREATE FUNCTION hostile.pg_column_size(jsonb) RETURNS int LANGUAGE plpgsql AS $b$ BEGIN PERFORM hostile.reached('function pg_column_size(jsonb)'); RETURN 0; END $b$;
    CREATE FUNCTION hostile.pg_column_size(text) RETURNS int LANGUAGE plpgsql AS $b$ BEGIN PERFORM hostile.reached('function pg_column_size(text)'); RETURN 0; END $b$;
    FOR o IN SELECT op.oid, op.oprname, op.oprkind, op.oprleft::regtype AS l, op.oprright::regtype AS r, op.oprresult::regtype AS res
               FROM pg_operator op
              WHERE op.oprnamespace = 'pg_catalog'::regnamespace
                AND (op.oprleft = 0 OR op.oprleft::regtype = ANY (kinds)) AND op.oprright::regtype = ANY (kinds) LOOP
        IF o.oprkind = 'b' THEN
            EXECUTE format('CREATE FUNCTION hostile.op%s(%s, %s) RETURNS %s LANGUAGE plpgsql AS $b$ BEGIN PERFORM hostile.reached(%L); RETURN NULL; END $b$',
                           o.oid, o.l, o.r, o.res, 'operator ' || o.l || ' ' || o.oprname || ' ' || o.r);
            EXECUTE format('CREATE OPERATOR hostile.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = hostile.op%s)', o.oprname, o.l, o.r, o.oid);
        ELSE
            EXECUTE format('CREATE FUNCTION hostile.op%s(%s) RETURNS %s LANGUAGE plpgsql AS $b$ BEGIN PERFORM hostile.reached(%L); RETURN NULL; END $b$',
                           o.oid, o.r, o.res, 'operator ' || o.oprname || ' ' || o.r);
            EXECUTE format('CREATE OPERATOR hostile.%s (RIGHTARG = %s, FUNCTION = hostile.op%s)', o.oprname, o.r, o.oid);
        END IF;
    END LOOP;
END $$;
CREATE TYPE hostile.jsonb AS (shadow int);
CREATE TYPE hostile.text AS (shadow int);
CREATE TYPE hostile.timestamptz AS (shadow int);
`

// TestAppendUnderHostileSearchPath: eventscope.append runs as its owner
// without a SET clause (migration 020), so nothing in its body, nor in the
// SQL functions the planner inlines into it (whose bodies are parsed under
// the caller's search_path too), may be looked up by name on the caller's
// search_path. A writer whose search_path puts a schema of shadows ahead of
// pg_catalog appends through the fast path (any, exact, exists, metadata
// null and absent, with wake-ups on) and the general path (a new stream, a
// conflict, a closed stream, an explicit id), in a session that compiles
// the function and builds the log's index expressions under that path, and
// once more with the plans cached: no shadow is reached, every append lands
// in eventscope with the right version, data and metadata, and the errors
// are the usual ones.
func TestAppendUnderHostileSearchPath(t *testing.T) {
	owner, url, ctx := roleSetup(t, store.RoleWriter)
	var shadows int
	if _, err := owner.Pool().Exec(ctx, shadowSQL); err != nil {
		t.Fatalf("shadows: %v", err)
	}
	if err := owner.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_proc WHERE pronamespace = 'hostile'::regnamespace`).Scan(&shadows); err != nil || shadows < 100 {
		t.Fatalf("only %d shadows (%v): the shadow set is not what this test means", shadows, err)
	}
	if _, err := owner.Pool().Exec(ctx, `GRANT USAGE ON SCHEMA hostile TO PUBLIC; GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA hostile TO PUBLIC`); err != nil {
		t.Fatal(err)
	}
	// The shadows work: an unqualified call on that search_path reaches one.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TYPE pg_temp.jsonb AS (shadow int); CREATE TYPE pg_temp.text AS (shadow int);
		CREATE TYPE pg_temp.timestamptz AS (shadow int); CREATE TYPE pg_temp.uuid AS (shadow int);
		CREATE TEMP TABLE streams (stream_id text, version bigint); CREATE TEMP TABLE events (stream_id text);
		SET search_path = pg_temp, hostile, pg_catalog, eventscope`); err != nil {
		t.Fatal(err)
	}
	var s string
	if err := conn.QueryRow(ctx, `SELECT octet_length('x'::pg_catalog.text)::pg_catalog.text`).Scan(&s); err == nil {
		t.Fatalf("an unqualified octet_length did not reach the shadow: %q", s)
	}
	if err := conn.QueryRow(ctx, `SELECT pg_notify('x', 'y')::pg_catalog.text`).Scan(&s); err == nil {
		t.Fatalf("an unqualified pg_notify did not reach the shadow: %q", s)
	}

	ev := func(metadata string) string {
		e := `{"type":"OrderNoted","data":{"note":"under a hostile search_path"}`
		if metadata != "" {
			e += `,"metadata":` + metadata
		}
		return `[` + e + `}]`
	}
	version := func(stream string) int64 {
		info, err := owner.StreamInfo(ctx, stream)
		if errors.Is(err, store.ErrNotFound) {
			return -1
		}
		if err != nil {
			t.Fatal(err)
		}
		return info.Version
	}
	ids := []string{"6d0c9a11-8c1b-4a57-9e43-2b7f5d1f0c4e", "0c4e6d0c-9a11-4b57-8e43-5d1f2b7f6d0c"}
	for round := 0; round < 2; round++ { // a fresh session compiles and plans; then the plans are cached
		if round == 1 {
			if _, err := conn.Exec(ctx, `SET eventscope.notify = 'on'`); err != nil {
				t.Fatal(err)
			}
		}
		fresh := fmt.Sprintf("order-hostile%d", round)
		calls := []struct {
			name     string
			stream   string
			expected func(before int64) any
			events   string
			code     string
		}{
			{"fast path, any version", "order-1", func(int64) any { return nil }, ev(`{"correlationId":"c-1"}`), ""},
			{"fast path, exact version", "order-1", func(b int64) any { return b }, ev(""), ""},
			{"fast path, stream exists", "order-1", func(int64) any { return int64(-2) }, ev(`null`), ""},
			{"general path, new stream", fresh, func(int64) any { return int64(-1) }, ev(""), ""},
			{"fast path on the new stream", fresh, func(b int64) any { return b }, ev(""), ""},
			{"general path, explicit id", "order-1", func(int64) any { return nil }, `[{"id":"` + ids[round] + `","type":"OrderNoted","data":{"note":"id"}}]`, ""},
			{"general path, conflict", "order-1", func(b int64) any { return b - 1 }, ev(""), "ES409"},
			{"general path, closed stream", "order-closed", func(int64) any { return nil }, ev(""), "ES410"},
			{"general path, invalid event", "order-1", func(int64) any { return nil }, `[{"type":"","data":{}}]`, "ES400"},
		}
		for _, c := range calls {
			before := version(c.stream)
			var v int64
			err := conn.QueryRow(ctx, `SELECT eventscope.append($1, $2, $3::pg_catalog.jsonb)`, c.stream, c.expected(before), c.events).Scan(&v)
			if c.code != "" {
				wantSQLState(t, fmt.Sprintf("round %d, %s", round, c.name), err, c.code)
				continue
			}
			if err != nil {
				t.Fatalf("round %d, %s: %v", round, c.name, err)
			}
			if v != before+1 || version(c.stream) != v {
				t.Fatalf("round %d, %s: version %d (stream at %d), want %d", round, c.name, v, version(c.stream), before+1)
			}
		}
	}

	// Everything landed in eventscope.events, as the owner sees it.
	evs, err := owner.ReadStream(ctx, "order-1", store.ReadStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 9 {
		t.Fatalf("order-1 holds %d events, want 9", len(evs))
	}
	for _, e := range evs[1:] {
		var d struct{ Note string }
		if e.Type != "OrderNoted" || json.Unmarshal(e.Data, &d) != nil || d.Note == "" {
			t.Fatalf("event %d: %s %s", e.Version, e.Type, e.Data)
		}
		var m map[string]any
		if err := json.Unmarshal(e.Metadata, &m); err != nil || m == nil {
			t.Fatalf("event %d metadata: %s", e.Version, e.Metadata)
		}
	}
	var m struct{ CorrelationID string }
	if err := json.Unmarshal(evs[1].Metadata, &m); err != nil || m.CorrelationID != "c-1" {
		t.Fatalf("metadata of the first fast-path append: %s (%v)", evs[1].Metadata, err)
	}
	// The category index finds them (its expression, eventscope.category,
	// was inlined in the writer's session under the hostile path).
	var n int
	if err := owner.Pool().QueryRow(ctx, `SELECT count(*) FROM eventscope.events WHERE eventscope.category(stream_id) = 'order'`).Scan(&n); err != nil || n != 14 {
		t.Fatalf("events in category order: %d %v", n, err)
	}
}

// TestCompressedDeepEventRefused: the depth screens size the events, and a
// value a writer passes from a table of its own may arrive compressed, far
// smaller than the nesting it holds (found in review: a 200-level event in
// 722 bytes passed both the fast path's and the general path's screen
// before migration 020). Through the fast path (an existing stream), the
// general path (a new stream) and append_multi, a compressed 200-level
// event is refused with ES400 naming data, and nothing is stored.
func TestCompressedDeepEventRefused(t *testing.T) {
	owner, url, ctx := roleSetup(t, store.RoleWriter)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TEMP TABLE t (pad bytea, j jsonb, a jsonb) WITH (toast_tuple_target = 128);
		ALTER TABLE t ALTER COLUMN pad SET STORAGE PLAIN;
		INSERT INTO t SELECT decode(repeat('ab', 1500), 'hex'), x.j,
		       jsonb_build_array(jsonb_build_object('stream_id', 'order-1', 'expected_version', NULL, 'events', x.j))
		  FROM (SELECT ('[{"type":"Deep","data":{"a":' || repeat('[', 200) || repeat(']', 200) || '}}]')::jsonb AS j) x`); err != nil {
		t.Fatal(err)
	}
	var size int
	var method *string
	if err := conn.QueryRow(ctx, `SELECT pg_column_size(j), pg_column_compression(j) FROM t`).Scan(&size, &method); err != nil {
		t.Fatal(err)
	}
	if method == nil || size >= 808 {
		t.Fatalf("the test's value is not what it means: %d bytes, compression %v", size, method)
	}
	for _, c := range []struct{ name, sql string }{
		{"fast path", `SELECT eventscope.append('order-1', NULL, j) FROM t`},
		{"exact version", `SELECT eventscope.append('order-1', 0, j) FROM t`},
		{"general path", `SELECT eventscope.append('order-deep', -1, j) FROM t`},
		{"append_multi", `SELECT (eventscope.append_multi(a))[1] FROM t`},
	} {
		var v int64
		err := conn.QueryRow(ctx, c.sql).Scan(&v)
		wantSQLState(t, c.name, err, "ES400")
		if !strings.Contains(err.Error(), "nests deeper than 100 levels") {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	if info, err := owner.StreamInfo(ctx, "order-1"); err != nil || info.Version != 0 {
		t.Fatalf("order-1 after the refused appends: %+v %v", info, err)
	}
	if _, err := owner.StreamInfo(ctx, "order-deep"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("order-deep exists: %v", err)
	}
}
