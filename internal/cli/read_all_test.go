package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"eventscope/internal/testdb"
	"eventscope/store"
)

// TestReadAllFiltersAndStreams: read --all --category/--type (repeatable)
// returns the matching events in global order, and a --limit beyond one
// page streams page after page.
func TestReadAllFiltersAndStreams(t *testing.T) {
	t.Parallel()
	db := testdb.URL(t)
	st := testdb.Open(t, db, store.Options{})
	ctx := context.Background()
	b := st.NewBulkLoader(ctx, store.BulkOptions{})
	for i := range 2500 {
		if _, err := b.Add(store.BulkEvent{StreamID: fmt.Sprintf("order-%d", i/5), Type: "OrderPlaced", Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct{ stream, typ string }{{"acct-1", "Opened"}, {"acct", "Opened"}, {"acct-b-1", "Moved"}, {"bank-1", "Opened"}, {"acct-1", "Closed"}} {
		if _, err := st.Append(ctx, a.stream, store.Any, store.NewEvent{Type: a.typ, Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	// Another test's open transaction holds the global log back a moment:
	// wait until the last append is deliverable.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		p, err := st.ReadAll(ctx, store.Start, store.ReadAllOptions{Categories: []string{"acct"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Events) == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the appends are still held back: %d of 4 visible", len(p.Events))
		}
	}
	lines := func(out string) []store.Event {
		t.Helper()
		var evs []store.Event
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if l == "" {
				continue
			}
			var e store.Event
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			evs = append(evs, e)
		}
		return evs
	}
	for _, c := range []struct {
		args []string
		want []string // stream@type
	}{
		{[]string{"--category", "acct"}, []string{"acct-1@Opened", "acct@Opened", "acct-b-1@Moved", "acct-1@Closed"}},
		{[]string{"--category", "acct", "--type", "Opened"}, []string{"acct-1@Opened", "acct@Opened"}},
		{[]string{"--category", "acct", "--category", "bank", "--type", "Opened", "--type", "Closed"}, []string{"acct-1@Opened", "acct@Opened", "bank-1@Opened", "acct-1@Closed"}},
		{[]string{"--type", "Moved"}, []string{"acct-b-1@Moved"}},
		{[]string{"--category", "nothing"}, nil},
	} {
		code, out, errs := runCLI(t, nil, append([]string{"read", "--all", "--json", "--limit", "10000", "--db", db}, c.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d, %s", c.args, code, errs)
		}
		var got []string
		for _, e := range lines(out) {
			got = append(got, e.StreamID+"@"+e.Type)
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%v: got %v, want %v", c.args, got, c.want)
		}
	}
	// 2,400 of 2,505 events: three pages, in order, each once.
	code, out, errs := runCLI(t, nil, "read", "--all", "--json", "--limit", "2400", "--db", db)
	evs := lines(out)
	if code != 0 || len(evs) != 2400 {
		t.Fatalf("read --all --limit 2400: exit %d, %d events, %s", code, len(evs), errs)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Checkpoint.Compare(evs[i-1].Checkpoint) <= 0 {
			t.Fatalf("event %d at %s after %s", i, evs[i].Checkpoint, evs[i-1].Checkpoint)
		}
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"read", "--all", "--category", "acct-b"}, `before the first "-"`},
		{[]string{"read", "--all", "--category", ""}, "--category must not be empty"},
		{[]string{"read", "--all", "--type", ""}, "--type must not be empty"},
		{[]string{"read", "acct-1", "--category", "acct"}, "go with --all"},
	} {
		code, out, errs := runCLI(t, nil, append(c.args, "--db", db)...)
		if code != ExitBadInput || !strings.Contains(errs, c.msg) || out != "" {
			t.Errorf("%v: exit %d, out %q, err %q (want exit 2 naming %q)", c.args, code, out, errs, c.msg)
		}
	}
}
