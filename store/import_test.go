package store_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"eventscope/store"
)

func TestImport(t *testing.T) {
	t.Parallel()
	src, ctx := setup(t)
	dst, _ := setup(t)
	for i := 0; i < 30; i++ {
		if _, err := src.Append(ctx, fmt.Sprintf("order-%d", i%4), store.Any, store.NewEvent{Type: "T", Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), Metadata: json.RawMessage(`{"correlationId":"c"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	evs := visible(t, src, 30)
	var export bytes.Buffer
	enc := json.NewEncoder(&export)
	for _, e := range evs {
		_ = enc.Encode(e)
	}
	res, err := dst.Import(ctx, bytes.NewReader(export.Bytes()), store.ImportOptions{BatchEvents: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Lines != 30 || res.Appended != 30 || res.Present != 0 || res.Streams != 4 {
		t.Fatalf("first import %+v", res)
	}
	// the same file again: a no-op
	res, err = dst.Import(ctx, bytes.NewReader(export.Bytes()), store.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Appended != 0 || res.Present != 30 {
		t.Fatalf("re-import %+v", res)
	}
	got := visible(t, dst, 30)
	for i, e := range got {
		o := evs[i]
		if e.EventID != o.EventID || e.StreamID != o.StreamID || e.Version != o.Version || string(e.Data) != string(o.Data) || string(e.Metadata) != string(o.Metadata) {
			t.Fatalf("event %d: %+v, exported %+v", i, e, o)
		}
	}
	// half of it imported before (an interrupted import): the rest follows
	third, _ := setup(t)
	lines := strings.SplitAfter(export.String(), "\n")
	if _, err := third.Import(ctx, strings.NewReader(strings.Join(lines[:13], "")), store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err = third.Import(ctx, bytes.NewReader(export.Bytes()), store.ImportOptions{})
	if err != nil || res.Appended != 17 || res.Present != 13 {
		t.Fatalf("resumed import %+v %v", res, err)
	}
	// the same id with other content stops at its line, naming it
	changed := strings.Replace(lines[5], `"i":`, `"i":1`, 1)
	_, err = dst.Import(ctx, strings.NewReader(lines[0]+changed), store.ImportOptions{})
	var le *store.ImportLineError
	if !errors.As(err, &le) || le.Line != 2 || !errors.Is(err, store.ErrDuplicateEvent) {
		t.Fatalf("changed content: %v", err)
	}
	// bad lines
	for in, field := range map[string]string{
		"not json\n": "line",
		`{"event_id":"` + uuid.NewString() + `","type":"T","data":{}}`:                    "stream_id",
		`{"stream_id":"a-1","type":"T","data":{}}`:                                        "event_id",
		`{"stream_id":"a 1","event_id":"` + uuid.NewString() + `","type":"T","data":{}}`:  "stream_id",
		`{"stream_id":"a-1","event_id":"` + uuid.NewString() + `","type":"T"}`:            "data",
		`{"stream_id":"a-1","event_id":"` + uuid.NewString() + `","type":"","data":{}}`:   "type",
		`{"stream_id":"a-1","event_id":"` + uuid.NewString() + `","type":"T","data":[1]}`: "data",
	} {
		_, err := dst.Import(ctx, strings.NewReader(in), store.ImportOptions{})
		var ve *store.ValidationError
		if !errors.As(err, &ve) || ve.Field != field || !errors.As(err, &le) || le.Line != 1 {
			t.Errorf("import %q: %v, want a line-1 error on %s", in, err, field)
		}
	}
	if n := len(visible(t, dst, 30)); n != 30 {
		t.Fatalf("bad input changed the store: %d events", n)
	}
}
