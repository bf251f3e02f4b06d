package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"eventscope/internal/testdb"
	"eventscope/store"
	"eventscope/store/query"
)

// The personal values the erasure tests write; none may be stored in plain text.
var secrets = []string{"Ann Example", "ann@example.org", "Main Street 1", "Bob Sample", "Cy Bulk"}

func noPlaintext(t *testing.T, st *store.Store, where string) {
	t.Helper()
	ctx := context.Background()
	var dump string
	if err := st.Pool().QueryRow(ctx, `SELECT coalesce(string_agg(data::text || ' ' || coalesce(personal::text, ''), E'\n'), '') FROM eventscope.events`).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(dump, s) {
			t.Fatalf("%s: %q is stored in plain text in eventscope.events", where, s)
		}
	}
}

// readPaths reads every event of the store through each read path there is
// and returns them by path name, keyed by event id.
func readPaths(t *testing.T, st *store.Store, n int) map[string]map[uuid.UUID]store.Event {
	t.Helper()
	ctx := context.Background()
	out := map[string]map[uuid.UUID]store.Event{}
	put := func(path string, evs ...store.Event) {
		if out[path] == nil {
			out[path] = map[uuid.UUID]store.Event{}
		}
		for _, e := range evs {
			out[path][e.EventID] = e
		}
	}
	all := visible(t, st, n)
	put("ReadAll", all...)
	var ids []uuid.UUID
	streams := map[string]bool{}
	for _, e := range all {
		ids = append(ids, e.EventID)
		streams[e.StreamID] = true
	}
	for s := range streams {
		evs, err := st.ReadStream(ctx, s, store.ReadStreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		put("ReadStream", evs...)
		back, err := st.ReadStream(ctx, s, store.ReadStreamOptions{Backward: true, FromEnd: true})
		if err != nil {
			t.Fatal(err)
		}
		put("ReadStream backward", back...)
		cat, err := st.ReadCategory(ctx, store.Category(s), store.Start, 1000)
		if err != nil {
			t.Fatal(err)
		}
		put("ReadCategory", cat.Events...)
	}
	byID, err := st.EventsByID(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range byID {
		put("EventsByID", e)
	}
	for _, id := range ids {
		e, err := st.EventByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		put("EventByID", e)
		tr, err := st.Trace(ctx, store.EventRef{ID: id}, store.TraceOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, te := range tr.Steps {
			put("Trace", te.Event)
		}
	}
	cor, err := st.Correlated(ctx, "c-1", 100)
	if err != nil {
		t.Fatal(err)
	}
	put("Correlated", cor...)
	q, err := query.Parse("", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := query.Run(ctx, st, q, query.RunOptions{Limit: 1000}, func(e store.Event) error { put("query", e); return nil }); err != nil {
		t.Fatal(err)
	}
	// the SQL API, as a service in another language reads it
	for _, sql := range []string{
		`SELECT r.event_id, r.type, r.data, r.metadata FROM eventscope.read_all() r`,
		`SELECT r.event_id, r.type, r.data, r.metadata FROM eventscope.events s, eventscope.read_stream(s.stream_id, s.version, 1) r WHERE s.version >= 0`,
		`SELECT r.event_id, r.type, r.data, r.metadata FROM (SELECT DISTINCT eventscope.category(stream_id) c FROM eventscope.events) s, eventscope.read_category(s.c) r`,
		`SELECT r.event_id, r.type, r.data, r.metadata FROM (SELECT DISTINCT type FROM eventscope.events) s, eventscope.read_type(s.type) r`,
	} {
		rows, err := st.Pool().Query(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var e store.Event
			if err := rows.Scan(&e.EventID, &e.Type, (*[]byte)(&e.Data), (*[]byte)(&e.Metadata)); err != nil {
				t.Fatal(err)
			}
			put("SQL "+strings.Fields(sql[strings.Index(sql, "eventscope.read_"):])[0], e)
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
	}
	for path, m := range out {
		if path != "Trace" && path != "Correlated" && len(m) != n {
			t.Fatalf("%s read %d events, want %d", path, len(m), n)
		}
	}
	return out
}

func field(t *testing.T, e store.Event, path ...string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(e.Data, &v); err != nil {
		t.Fatal(err)
	}
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: data %s has no %v", e.EventID, e.Data, path)
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("%s: data %s has no %v", e.EventID, e.Data, path)
		}
	}
	return v
}

// TestErasureEveryReadPath: personal values go in through every write path
// (Append, group commit, AppendMulti, plain SQL with a nested path,
// append_batch, the bulk load), are never stored in plain text, read back plain through every
// read path while the key exists, and as null (marked erased, positions
// unchanged) after Forget; other subjects and other fields stay.
func TestErasureEveryReadPath(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	meta := json.RawMessage(`{"correlationId":"c-1","causationId":"c-1"}`)
	mustAppend(t, st, "note-1", store.Any, store.NewEvent{Type: "Plain", Data: json.RawMessage(`{"text":"hello"}`), Metadata: meta})
	ann := store.NewEvent{Type: "CustomerRegistered", Data: json.RawMessage(`{"name":"Ann Example","email":"ann@example.org","limit":500}`),
		Metadata: meta, Personal: store.PersonalFields("person-ann", "name", "email")}
	mustAppend(t, st, "customer-ann", store.NoStream, ann)
	// group commit: two appends in flight at once
	errc := make(chan error, 2)
	for i := range 2 {
		go func() {
			_, err := st.Append(ctx, fmt.Sprintf("customer-gc%d", i), store.Any, store.NewEvent{Type: "Renamed",
				Data: json.RawMessage(`{"name":"Ann Example"}`), Personal: store.PersonalFields("person-ann", "name")})
			errc <- err
		}()
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.AppendMulti(ctx, []store.StreamAppend{
		{Stream: "customer-bob", Expected: store.NoStream, Events: []store.NewEvent{{Type: "CustomerRegistered",
			Data: json.RawMessage(`{"name":"Bob Sample","limit":100}`), Personal: store.PersonalFields("person-bob", "name")}}},
		{Stream: "customer-ann", Expected: store.Exact(0), Events: []store.NewEvent{{Type: "Moved",
			Data:     json.RawMessage(`{"address":{"street":"Main Street 1","city":"Springfield"}}`),
			Personal: &store.Personal{Subject: "person-ann", Fields: [][]string{{"address", "street"}}}}}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlAppend(ctx, st.Pool(), "customer-ann", nil, `[{"type":"Emailed","data":{"to":{"email":"ann@example.org"},"n":1},
		"metadata":{"correlationId":"c-1","causationId":"c-1"},"personal":{"subject":"person-ann","fields":[["to","email"]]}}]`); err != nil {
		t.Fatal(err)
	}
	var batched int64
	if err := st.Pool().QueryRow(ctx, `SELECT version FROM eventscope.append_batch('[{"stream_id":"customer-bob","expected_version":0,
		"events":[{"type":"Renamed","data":{"name":"Bob Sample"},"personal":{"subject":"person-bob","fields":["name"]}}]}]')`).Scan(&batched); err != nil || batched != 1 {
		t.Fatalf("append_batch: %d %v", batched, err)
	}
	if _, err := st.BulkLoad(ctx, []store.BulkStream{{StreamID: "customer-cy", Events: []store.BulkEvent{
		{Type: "Plain", Data: json.RawMessage(`{"x":1}`)},
		{Type: "CustomerRegistered", Data: json.RawMessage(`{"name":"Cy Bulk"}`), Personal: store.PersonalFields("person-cy", "name")},
		{Type: "Plain", Data: json.RawMessage(`{"x":2}`)},
	}}}, store.BulkOptions{}); err != nil {
		t.Fatal(err)
	}
	const n = 11
	noPlaintext(t, st, "after the appends")

	want := map[string]string{"Ann Example": "person-ann", "ann@example.org": "person-ann", "Main Street 1": "person-ann", "Bob Sample": "person-bob", "Cy Bulk": "person-cy"}
	before := readPaths(t, st, n)
	check := func(paths map[string]map[uuid.UUID]store.Event, forgotten string) {
		t.Helper()
		for path, evs := range paths {
			seen := map[string]int{}
			for _, e := range evs {
				text := string(e.Data)
				for s, subj := range want {
					if strings.Contains(text, s) {
						if subj == forgotten {
							t.Fatalf("%s: %q of forgotten %s still reads: %s", path, s, subj, text)
						}
						seen[s]++
					}
				}
				p, ok := e.Personal()
				if ok != strings.HasPrefix(e.Type, "Customer") && e.Type != "Renamed" && e.Type != "Moved" && e.Type != "Emailed" {
					t.Fatalf("%s: %s %s: personal marker %v", path, e.Type, e.Metadata, ok)
				}
				if ok && p.Erased != (p.Subject == forgotten) {
					t.Fatalf("%s: %s marker %+v, forgotten %q", path, e.EventID, p, forgotten)
				}
				if ok && p.Erased {
					for _, f := range p.Fields {
						if v := field(t, e, f...); v != nil {
							t.Fatalf("%s: erased %v reads %v", path, f, v)
						}
					}
				}
				if b, ok := before[path][e.EventID]; ok && path != "SQL" && (b.Position != e.Position || b.Version != e.Version || b.StreamID != e.StreamID) {
					t.Fatalf("%s: %s moved: %+v, was %+v", path, e.EventID, e, b)
				}
			}
			for s, subj := range want {
				if subj != forgotten && seen[s] == 0 && path != "Correlated" && path != "Trace" {
					t.Fatalf("%s: %q (%s) does not read back", path, s, subj)
				}
			}
		}
	}
	check(before, "")
	// the limit and the plain event are untouched
	for _, e := range before["ReadAll"] {
		if e.StreamID == "customer-ann" && e.Version == 0 && field(t, e, "limit") != 500.0 {
			t.Fatalf("limit %v", field(t, e, "limit"))
		}
	}

	res, err := st.Forget(ctx, "person-ann")
	if err != nil {
		t.Fatal(err)
	}
	if !res.HadKey || res.Events != 5 || strings.Join(res.Streams, ",") != "customer-ann,customer-gc0,customer-gc1" || res.AuditVersion != 0 {
		t.Fatalf("forget: %+v", res)
	}
	after := readPaths(t, st, n+1)
	for _, m := range after {
		for id, e := range m {
			if e.StreamID == store.ErasureStream {
				if e.Type != store.SubjectForgottenType || !strings.Contains(string(e.Data), `"person-ann"`) {
					t.Fatalf("audit event %s %s", e.Type, e.Data)
				}
				delete(m, id)
			}
		}
	}
	check(after, "person-ann")
	noPlaintext(t, st, "after forget")

	// forgetting again: nothing to erase, nothing recorded
	res, err = st.Forget(ctx, "person-ann")
	if err != nil || res.HadKey || res.AuditVersion != -1 || res.Events != 5 {
		t.Fatalf("second forget: %+v %v", res, err)
	}
	if _, err := st.Forget(ctx, "a b"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("forget of a bad subject: %v", err)
	}
	// A new event for the subject gets a new key: readable again, the old ones stay erased.
	mustAppend(t, st, "customer-ann", store.Any, store.NewEvent{Type: "Renamed", Data: json.RawMessage(`{"name":"Ann Again"}`), Personal: store.PersonalFields("person-ann", "name")})
	evs, err := st.ReadStream(ctx, "customer-ann", store.ReadStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if last := evs[len(evs)-1]; field(t, last, "name") != "Ann Again" || field(t, evs[0], "name") != nil {
		t.Fatalf("after a new key: first %s, last %s", evs[0].Data, last.Data)
	}
}

// TestPersonalExportImport: an export holds the values as readers see them
// and the marker; importing it seals them again under the target's key, a
// re-import is a no-op; an export taken after a forget imports as erased,
// and an old export cannot bring erased values back into the store it came
// from.
func TestPersonalExportImport(t *testing.T) {
	t.Parallel()
	src, ctx := setup(t)
	dst, _ := setup(t)
	mustAppend(t, src, "customer-1", store.Any, store.NewEvent{Type: "CustomerRegistered", Data: json.RawMessage(`{"name":"Ann Example","limit":5}`), Personal: store.PersonalFields("customer-1", "name")})
	mustAppend(t, src, "customer-2", store.Any, store.NewEvent{Type: "CustomerRegistered", Data: json.RawMessage(`{"name":"Bob Sample","limit":6}`), Personal: store.PersonalFields("customer-2", "name")})
	export := func(st *store.Store, n int) []byte {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		for _, e := range visible(t, st, n) {
			_ = enc.Encode(e)
		}
		return b.Bytes()
	}
	before := export(src, 2)
	if _, err := dst.Import(ctx, bytes.NewReader(before), store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	noPlaintext(t, dst, "import")
	res, err := dst.Import(ctx, bytes.NewReader(before), store.ImportOptions{})
	if err != nil || res.Present != 2 {
		t.Fatalf("re-import %+v %v", res, err)
	}
	got := visible(t, dst, 2)
	if !strings.Contains(string(got[0].Data), "Ann Example") {
		t.Fatalf("imported %s", got[0].Data)
	}
	if _, err := src.Forget(ctx, "customer-1"); err != nil {
		t.Fatal(err)
	}
	// the old export would resurrect the erased name: refused
	if _, err := src.Import(ctx, bytes.NewReader(before), store.ImportOptions{}); !errors.Is(err, store.ErrDuplicateEvent) {
		t.Fatalf("re-import of erased values: %v", err)
	}
	third, _ := setup(t)
	after := export(src, 3)
	if _, err := third.Import(ctx, bytes.NewReader(after), store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, e := range visible(t, third, 3) {
		p, ok := e.Personal()
		switch e.StreamID {
		case "customer-1":
			if !ok || !p.Erased || field(t, e, "name") != nil {
				t.Fatalf("erased on import: %s %s", e.Data, e.Metadata)
			}
		case "customer-2":
			if !ok || p.Erased || field(t, e, "name") != "Bob Sample" {
				t.Fatalf("kept on import: %s %s", e.Data, e.Metadata)
			}
		}
	}
}

// TestPersonalRefused: bad markings are refused with the field named, the
// same way from Go and from plain SQL, and nothing is stored.
func TestPersonalRefused(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	cases := []struct {
		name, data, personal, field, reason string
	}{
		{"not an object", `{"a":1}`, `"x"`, "personal", "must be a JSON object"},
		{"unknown key", `{"a":1}`, `{"subject":"s","fields":["a"],"extra":1}`, "personal", `holds "extra"`},
		{"no subject", `{"a":1}`, `{"fields":["a"]}`, "personal.subject", "must be a non-empty string"},
		{"empty subject", `{"a":1}`, `{"subject":"","fields":["a"]}`, "personal.subject", "must be a non-empty string"},
		{"long subject", `{"a":1}`, `{"subject":"` + strings.Repeat("s", 201) + `","fields":["a"]}`, "personal.subject", "at most 200"},
		{"control in subject", `{"a":1}`, `{"subject":"s\u0007","fields":["a"]}`, "personal.subject", "U+0007"},
		{"bidi in subject", `{"a":1}`, `{"subject":"s\u202e","fields":["a"]}`, "personal.subject", "U+202E"},
		{"no fields", `{"a":1}`, `{"subject":"s","fields":[]}`, "personal.fields", "non-empty array"},
		{"fields not array", `{"a":1}`, `{"subject":"s","fields":"a"}`, "personal.fields", "non-empty array"},
		{"field not in data", `{"a":1}`, `{"subject":"s","fields":["b"]}`, "personal.fields[0]", `"b" is not in data`},
		{"path through a value", `{"a":1}`, `{"subject":"s","fields":[["a","b"]]}`, "personal.fields[0]", `"a" is not an object`},
		{"overlap", `{"a":{"b":1}}`, `{"subject":"s","fields":["a",["a","b"]]}`, "personal.fields[1]", "overlaps"},
		{"duplicate", `{"a":1}`, `{"subject":"s","fields":["a","a"]}`, "personal.fields[1]", "overlaps"},
		{"empty name", `{"a":1}`, `{"subject":"s","fields":[""]}`, "personal.fields[0]", "must not be empty"},
		{"number field", `{"a":1}`, `{"subject":"s","fields":[1]}`, "personal.fields[0]", "a field name or a path"},
		{"erased with value", `{"a":1}`, `{"subject":"s","fields":["a"],"erased":true}`, "personal.fields[0]", "holds a value"},
	}
	for _, c := range cases {
		_, err := sqlAppend(ctx, st.Pool(), "customer-x", nil, `[{"type":"T","data":`+c.data+`,"personal":`+c.personal+`}]`)
		field, idx, reason := es400(t, err)
		if field != c.field || idx != 0 || !strings.Contains(reason, c.reason) {
			t.Errorf("%s (SQL): %s[%d]: %s; want %s: ...%s...", c.name, field, idx, reason, c.field, c.reason)
		}
		var p store.Personal
		if c.name == "unknown key" || json.Unmarshal([]byte(c.personal), &p) != nil {
			continue // not a marking Go can even hold
		}
		_, err = st.Append(ctx, "customer-x", store.Any, store.NewEvent{Type: "T", Data: json.RawMessage(c.data), Personal: &p})
		var ve *store.ValidationError
		if !errors.As(err, &ve) || ve.Field != c.field || !strings.Contains(ve.Reason, c.reason) {
			t.Errorf("%s (Go): %v; want %s: ...%s...", c.name, err, c.field, c.reason)
		}
	}
	_, err := sqlAppend(ctx, st.Pool(), "customer-x", nil, `[{"type":"T","data":{},"metadata":{"$personal":{"subject":"s","fields":["a"],"erased":true}}}]`)
	if field, _, _ := es400(t, err); field != "metadata" {
		t.Fatalf("reserved metadata key: %s", field)
	}
	if _, err := st.Append(ctx, "customer-x", store.Any, store.NewEvent{Type: "T", Data: json.RawMessage(`{}`), Metadata: json.RawMessage(`{"$personal":1}`)}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Go: reserved metadata key: %v", err)
	}
	var keys, events int
	if err := st.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM eventscope.personal_keys), (SELECT count(*) FROM eventscope.events)`).Scan(&keys, &events); err != nil {
		t.Fatal(err)
	}
	if keys != 0 || events != 0 {
		t.Fatalf("refused appends left %d keys, %d events", keys, events)
	}
}

// TestPersonalKeysReadableByOwnerOnly: a role that may read the events
// table cannot read the keys (nobody but the owner has a right on them).
func TestPersonalKeysReadableByOwnerOnly(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	mustAppend(t, st, "customer-1", store.Any, store.NewEvent{Type: "T", Data: json.RawMessage(`{"name":"Ann Example"}`), Personal: store.PersonalFields("customer-1", "name")})
	role := "es_erase_probe_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	for _, sql := range []string{
		`CREATE ROLE ` + role + ` NOLOGIN`,
		`GRANT USAGE ON SCHEMA eventscope TO ` + role,
		`GRANT SELECT ON eventscope.events TO ` + role,
	} {
		if _, err := st.Pool().Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), testdb.URL(t))
		if err == nil {
			_, _ = c.Exec(context.Background(), `DROP OWNED BY `+role+`; DROP ROLE `+role)
			c.Close(context.Background())
		}
	})
	tx, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `SET LOCAL ROLE `+role); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(ctx, `SELECT * FROM eventscope.personal_keys`)
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || pg.Code != "42501" {
		t.Fatalf("reading the keys as a reader: %v", err)
	}
}

// FuzzSQLPersonal: whatever marking a plain SQL caller sends, the append
// either refuses it (ES400 naming the field, or class 22 for text that is
// not JSON) or stores an event that reads back exactly as sent, with the
// marker, whose stored data holds none of the marked fields; and the Go
// client accepts every marking the server accepted.
func FuzzSQLPersonal(f *testing.F) {
	f.Add("person-1", `["name"]`, `{"name":"A","x":1}`)
	f.Add("", `[]`, `{}`)
	f.Add("p\u202e", `[["a","b"]]`, `{"a":{"b":2}}`)
	f.Add("p", `["a",["a","b"]]`, `{"a":{"b":2}}`)
	f.Add("p", `[["a","0"]]`, `{"a":[1,2]}`)
	f.Add("p", `"a"`, `{"a":1}`)
	f.Add("p", `[["a","b"],"c"]`, `{"a":{"b":{"deep":[1,{"x":null}]}},"c":null}`)
	f.Add("p", `["a\u0000"]`, `{"a":1}`)
	f.Add("p", `[{"a":1}]`, `{"a":1}`)
	f.Add(strings.Repeat("p", 201), `["a"]`, `{"a":1}`)
	st, err := store.Open(context.Background(), testdb.URL(f), store.Options{NoNotify: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(st.Close)
	f.Fuzz(func(t *testing.T, subject, fields, data string) {
		ctx := context.Background()
		sj, _ := json.Marshal(subject)
		mark := `{"subject":` + string(sj) + `,"fields":` + fields + `}`
		events := `[{"type":"T","data":` + data + `,"personal":` + mark + `}]`
		stream := "fuzz-" + uuid.NewString()
		_, err := sqlAppend(ctx, st.Pool(), stream, nil, events)
		if err != nil {
			var pg *pgconn.PgError
			if !errors.As(err, &pg) {
				t.Fatalf("not a server error: %v", err)
			}
			switch {
			case pg.Code == "ES400":
				if field, _, reason := es400(t, err); field == "" || reason == "" {
					t.Fatalf("ES400 without a field and reason: %s", pg.Detail)
				}
			case strings.HasPrefix(pg.Code, "22"):
			default:
				t.Fatalf("append(%s): unexpected %s %s", events, pg.Code, pg.Message)
			}
			return
		}
		var same, stripped bool
		if err := st.Pool().QueryRow(ctx, `SELECT (SELECT r.data = $1::text::jsonb FROM eventscope.read_stream($2) r),
			(SELECT bool_and((e.data #> eventscope.personal_path(f)) IS NULL)
			   FROM eventscope.events e, jsonb_array_elements(e.personal -> 'fields') f WHERE e.stream_id = $2)`,
			data, stream).Scan(&same, &stripped); err != nil {
			t.Fatal(err)
		}
		if !same || !stripped {
			t.Fatalf("%s: reads back the same %v, stored without the fields %v", events, same, stripped)
		}
		evs, err := st.ReadStream(ctx, stream, store.ReadStreamOptions{})
		if err != nil || len(evs) != 1 {
			t.Fatalf("read: %v", err)
		}
		p, ok := evs[0].Personal()
		if !ok || p.Erased {
			t.Fatalf("marker %s", evs[0].Metadata)
		}
		var gp store.Personal
		if err := json.Unmarshal([]byte(mark), &gp); err != nil {
			t.Fatalf("Go cannot hold the marking %s the server took: %v", mark, err)
		}
		if _, err := st.Append(ctx, stream+"-go", store.Any, store.NewEvent{Type: "T", Data: json.RawMessage(data), Personal: &gp}); err != nil {
			var ve *store.ValidationError
			if errors.As(err, &ve) && strings.HasPrefix(ve.Field, "personal") {
				t.Fatalf("Go refused the marking %s the server took: %v", mark, err)
			}
		}
	})
}

// TestCatalogKeepsNoPersonalExamples: the types catalog profiles personal
// fields (their path and JSON type) but keeps none of their values.
func TestCatalogKeepsNoPersonalExamples(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	mustAppend(t, st, "customer-1", store.Any, store.NewEvent{Type: "CustomerRegistered",
		Data:     json.RawMessage(`{"name":"Ann Example","address":{"street":"Main Street 1","city":"Springfield"},"limit":5}`),
		Personal: &store.Personal{Subject: "customer-1", Fields: [][]string{{"name"}, {"address", "street"}}}})
	types := catalogSees(t, st, 1)
	ti := typeInfo(t, types, "CustomerRegistered")
	got := map[string]int{}
	for _, f := range ti.Fields {
		got[f.Path] = len(f.Examples)
	}
	if n, ok := got["name"]; !ok || n != 0 {
		t.Fatalf("name: present %v, %d examples", ok, n)
	}
	if n, ok := got["address.street"]; !ok || n != 0 {
		t.Fatalf("address.street: present %v, %d examples", ok, n)
	}
	if got["limit"] != 1 || got["address.city"] != 1 {
		t.Fatalf("other fields' examples: %v", got)
	}
	var dump string
	if err := st.Pool().QueryRow(context.Background(), `SELECT coalesce(string_agg(profile::text, ' '), '') FROM eventscope.catalog_types`).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(dump, "Ann Example") || strings.Contains(dump, "Main Street 1") {
		t.Fatal("the catalog stores a personal value")
	}
}
