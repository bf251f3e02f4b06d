package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"eventscope/internal/testdb"
)

// TestTraceQueryImport walks the saga through trace, finds it with query,
// exports it and imports it into another database, twice.
func TestTraceQueryImport(t *testing.T) {
	t.Parallel()
	db, other := testdb.URL(t), testdb.URL(t)
	cmd := "7d0c6a8e-0f6b-4d6e-9a43-2b1c0a9e8f71"
	placed := "11111111-1111-4111-8111-111111111111"
	reserved := "22222222-2222-4222-8222-222222222222"
	for _, a := range [][]string{
		{"append", "order-1", "OrderPlaced", `{"total":1500,"customerId":"42"}`, "--id", placed, "--metadata", `{"correlationId":"` + cmd + `","causationId":"` + cmd + `","source":"api"}`},
		{"append", "customer-42", "CreditReserved", `{"amount":1500}`, "--id", reserved, "--metadata", `{"correlationId":"` + cmd + `","causationId":"` + placed + `","source":"customer-service"}`},
		{"append", "order-1", "OrderApproved", `{}`, "--metadata", `{"correlationId":"` + cmd + `","causationId":"` + reserved + `","source":"order-service"}`},
		{"append", "order-2", "OrderPlaced", `{"total":10}`},
	} {
		if code, _, errs := runCLI(t, nil, append(a, "--db", db)...); code != 0 {
			t.Fatalf("%v: %s", a, errs)
		}
	}
	code, out, errs := runCLI(t, nil, "trace", "order-1@1", "--json", "--db", db)
	if code != 0 {
		t.Fatalf("trace: %d %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("trace printed %q", out)
	}
	var steps []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, m)
	}
	for _, k := range []string{"stream_id", "version", "position", "checkpoint", "event_id", "type", "data", "metadata", "recorded_at", "parent", "depth", "after_ms"} {
		if _, ok := steps[1][k]; !ok {
			t.Fatalf("trace line lacks %q: %s", k, lines[1])
		}
	}
	if steps[0]["parent"] != nil || steps[0]["after_ms"] != nil || steps[0]["cause_stored"] != false || steps[0]["cause"] != cmd ||
		steps[1]["parent"] != placed || steps[1]["depth"] != 1.0 || steps[2]["parent"] != reserved || steps[2]["depth"] != 2.0 {
		t.Fatalf("trace %v", steps)
	}
	code, out, _ = runCLI(t, nil, "trace", "order-1@0", "--db", db)
	if code != 0 || !strings.Contains(out, "└─ CreditReserved") || !strings.Contains(out, "no stored event") || !strings.Contains(out, "◀ slowest") {
		t.Fatalf("trace tree: %d\n%s", code, out)
	}
	for args, want := range map[string]int{"trace nope": 2, "trace order-1@x": 2, "trace order-1@9": 4, "trace 00000000-0000-4000-8000-000000000000": 4} {
		if code, _, _ := runCLI(t, nil, append(strings.Fields(args), "--db", db)...); code != want {
			t.Errorf("%s: exit %d, want %d", args, code, want)
		}
	}

	// query: the global log shows the events eventually
	var export string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		code, export, errs = runCLI(t, nil, "query", "cat:order", "data.total > 1000", "--json", "--db", db)
		if code != 0 {
			t.Fatalf("query: %d %s", code, errs)
		}
		if strings.Count(export, "\n") == 1 {
			break
		}
	}
	if !strings.Contains(export, placed) {
		t.Fatalf("query printed %q", export)
	}
	code, _, errs = runCLI(t, nil, "query", "data.total >", "--db", db)
	if code != 2 || !strings.Contains(errs, "column 13") || !strings.Contains(errs, "\n              ^") {
		t.Fatalf("malformed query: %d %q", code, errs)
	}
	// The global log shows an event once no older transaction can still
	// commit below it; on a cluster shared with other tests that can take
	// a moment, so wait for all three events of the saga.
	deadline = time.Now().Add(30 * time.Second)
	for {
		code, out, _ = runCLI(t, nil, "query", "metadata.correlationId = "+cmd, "--db", db)
		if code != 0 || strings.Count(out, "\n") == 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code != 0 || strings.Count(out, "\n") != 4 {
		t.Fatalf("query by correlation: %d %q", code, out)
	}

	// export the saga, import it elsewhere, twice
	code, export, _ = runCLI(t, nil, "query", "metadata.correlationId = "+cmd, "--json", "--db", db)
	if code != 0 {
		t.Fatal("export")
	}
	code, out, errs = runCLI(t, strings.NewReader(export), "import", "-", "--db", other)
	if code != 0 || !strings.Contains(out, "3 events in 2 streams: 3 appended, 0 already present") {
		t.Fatalf("import: %d %q %q", code, out, errs)
	}
	code, out, _ = runCLI(t, strings.NewReader(export), "import", "-", "--json", "--db", other)
	if code != 0 || strings.TrimSpace(out) != `{"events":3,"appended":0,"already_present":3,"streams":2}` {
		t.Fatalf("re-import: %d %q", code, out)
	}
	code, out, _ = runCLI(t, nil, "trace", placed, "--db", other)
	if code != 0 || strings.Count(out, "\n") != 4 {
		t.Fatalf("trace after import: %d\n%s", code, out)
	}
	if code, _, _ := runCLI(t, strings.NewReader("{}\n"), "import", "-", "--db", other); code != 2 {
		t.Fatalf("bad import: exit %d", code)
	}
}
