package store_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"eventscope/store"
)

func TestAppendMulti(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	mustAppend(t, st, "order-1", store.Any, ev("Placed", `{}`))
	mustAppend(t, st, "noise-1", store.Any, ev("Noise", `{}`))

	vs, err := st.AppendMulti(ctx, []store.StreamAppend{
		{Stream: "order-1", Expected: store.Exact(0), Events: []store.NewEvent{ev("Approved", `{}`)}},
		{Stream: "customer-1", Expected: store.NoStream, Events: []store.NewEvent{ev("Reserved", `{}`), ev("Noted", `{}`)}},
		{Stream: "order-1", Expected: store.Exact(1), Events: []store.NewEvent{ev("Shipped", `{}`)}}, // same stream again, in order
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{1, 1, 2}; len(vs) != 3 || vs[0] != want[0] || vs[1] != want[1] || vs[2] != want[2] {
		t.Fatalf("versions %v, want %v", vs, want)
	}
	mustAppend(t, st, "noise-1", store.Any, ev("Noise", `{}`))
	all := visible(t, st, 7)
	// the call's four events sit together in the global log, in input order
	var types []string
	for _, e := range all[2:6] {
		types = append(types, e.StreamID+"/"+e.Type)
	}
	if got := strings.Join(types, " "); got != "order-1/Approved customer-1/Reserved customer-1/Noted order-1/Shipped" {
		t.Fatalf("global log %s", got)
	}

	t.Run("all or nothing", func(t *testing.T) {
		_, err := st.AppendMulti(ctx, []store.StreamAppend{
			{Stream: "order-2", Expected: store.NoStream, Events: []store.NewEvent{ev("Placed", `{}`)}},
			{Stream: "order-1", Expected: store.Exact(0), Events: []store.NewEvent{ev("Late", `{}`)}},
		})
		var me *store.MultiError
		var ce *store.ConflictError
		if !errors.As(err, &me) || me.Index != 1 || !errors.As(err, &ce) || ce.Stream != "order-1" || ce.Actual != 2 || !errors.Is(err, store.ErrConflict) {
			t.Fatalf("err %v, want a conflict of appends[1] at 2", err)
		}
		if _, err := st.StreamInfo(ctx, "order-2"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("order-2 was stored: %v", err)
		}
	})
	t.Run("validated in Go, indexed", func(t *testing.T) {
		_, err := st.AppendMulti(ctx, []store.StreamAppend{
			{Stream: "order-3", Events: []store.NewEvent{ev("Placed", `{}`)}},
			{Stream: "order-4", Events: []store.NewEvent{{Type: "", Data: json.RawMessage(`{}`)}}},
		})
		var me *store.MultiError
		var ve *store.ValidationError
		if !errors.As(err, &me) || me.Index != 1 || !errors.As(err, &ve) || ve.Field != "type" {
			t.Fatalf("err %v", err)
		}
		if _, err := st.AppendMulti(ctx, nil); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("empty call: %v", err)
		}
	})
	t.Run("SQL", func(t *testing.T) {
		var vs []int64
		err := st.Pool().QueryRow(ctx, `SELECT eventscope.append_multi($1)`,
			`[{"stream_id":"sql-1","expected_version":-1,"events":[{"type":"A","data":{}}]},
			  {"stream_id":"sql-1","expected_version":0,"events":[{"type":"B","data":{}}]},
			  {"stream_id":"sql-2","events":[{"type":"C","data":{}}]}]`).Scan(&vs)
		if err != nil || len(vs) != 3 || vs[1] != 1 || vs[2] != 0 {
			t.Fatalf("%v %v", vs, err)
		}
		for _, c := range []struct{ arg, code, field, msg string }{
			{`{}`, "ES400", "appends", "must be a JSON array"},
			{`[]`, "ES400", "appends", "at least one append"},
			{`[{"stream_id":"x-1","events":[{"type":"A","data":{}}]}, 5]`, "ES400", "append", "appends[1].append"},
			{`[{"events":[{"type":"A","data":{}}]}]`, "ES400", "stream_id", "appends[0].stream_id"},
			{`[{"stream_id":"x-1","expected_version":"3","events":[]}]`, "ES400", "expected_version", "appends[0].expected_version"},
			{`[{"stream_id":"x-1","expected_version":1.5,"events":[]}]`, "ES400", "expected_version", "integer"},
			{`[{"stream_id":"x-1","events":[{"type":"A","data":{}}]}, {"stream_id":"x-2","events":[{"type":"A","data":7}]}]`, "ES400", "data", "events[0].data"},
			{`[{"stream_id":"x-1","events":[{"type":"A","data":{}}]}, {"stream_id":"sql-1","expected_version":0,"events":[{"type":"A","data":{}}]}]`, "ES409", "", "expected version 0"},
		} {
			_, err := st.Pool().Exec(ctx, `SELECT eventscope.append_multi($1)`, c.arg)
			var pg *pgconn.PgError
			if !errors.As(err, &pg) || pg.Code != c.code || !strings.Contains(pg.Message, c.msg) {
				t.Fatalf("%s: %v, want %s %q", c.arg, err, c.code, c.msg)
			}
			var d map[string]any
			if err := json.Unmarshal([]byte(pg.Detail), &d); err != nil {
				t.Fatalf("%s: detail %q is not JSON", c.arg, pg.Detail)
			}
			if _, ok := d["append_index"]; !ok && c.field != "appends" {
				t.Fatalf("%s: detail %s has no append_index", c.arg, pg.Detail)
			}
			if c.field != "" && d["field"] != c.field {
				t.Fatalf("%s: detail %s, want field %s", c.arg, pg.Detail, c.field)
			}
		}
		if _, err := st.StreamInfo(ctx, "x-1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a failed call stored x-1: %v", err)
		}
	})
	t.Run("JSON form", func(t *testing.T) {
		var a store.StreamAppend
		for in, want := range map[string]store.ExpectedVersion{
			`{"stream_id":"a-1","events":[]}`:                             store.Any,
			`{"stream_id":"a-1","expected_version":null,"events":[]}`:     store.Any,
			`{"stream_id":"a-1","expected_version":-1,"events":[]}`:       store.NoStream,
			`{"stream_id":"a-1","expected_version":"exists","events":[]}`: store.StreamExists,
			`{"stream_id":"a-1","expected_version":12,"events":[]}`:       store.Exact(12),
		} {
			if err := json.Unmarshal([]byte(in), &a); err != nil || a.Expected != want {
				t.Fatalf("%s: %v %v", in, a.Expected, err)
			}
			b, _ := json.Marshal(a)
			var back store.StreamAppend
			if err := json.Unmarshal(b, &back); err != nil || back.Expected != want {
				t.Fatalf("round trip %s: %v", b, err)
			}
		}
		for _, in := range []string{`{"events":[]}`, `{"stream_id":"a-1","expected_version":-3}`, `{"stream_id":"a-1","expected_version":"soon"}`, `{"stream_id":"a-1","extra":1}`} {
			if err := json.Unmarshal([]byte(in), &a); err == nil {
				t.Fatalf("%s accepted", in)
			}
		}
	})
}
