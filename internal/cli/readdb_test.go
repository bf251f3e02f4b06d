package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"eventscope/internal/testdb"
	"eventscope/store"
)

// TestReadDB: with --read-db (or EVENTSCOPE_READ_DB) naming a real hot
// standby, read and tail read the log there, subscribe keeps its
// checkpoint on the primary, and stats and subs list show the replica's
// lag; tail on the standby never tries LISTEN there.
func TestReadDB(t *testing.T) {
	t.Parallel()
	primary, standby := testdb.Replica(t)
	st, err := store.Open(t.Context(), primary, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ids := appendEvents(t, st, "order", 3, 12)

	// subscribe --count reads from the standby, checkpoints on the primary.
	code, out, errs := runCLI(t, nil, "subscribe", "via-standby", "--json", "--count", "12", "--db", primary, "--read-db", standby)
	if code != 0 || strings.Count(out, "\n") != 12 {
		t.Fatalf("subscribe --read-db: exit %d, %d lines\n%s", code, strings.Count(out, "\n"), errs)
	}
	if strings.Contains(errs, "LISTEN") {
		t.Fatalf("LISTEN tried on the standby:\n%s", errs)
	}

	code, out, errs = runCLI(t, nil, "read", "--all", "--json", "--db", primary, "--read-db", standby)
	if code != 0 || strings.Count(out, "\n") != 12 {
		t.Fatalf("read --all --read-db: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runCLI(t, nil, "tail", "--from", "start", "--count", "12", "--json", "--db", primary, "--read-db", standby)
	if code != 0 || strings.Count(out, "\n") != 12 || strings.Contains(errs, "LISTEN") {
		t.Fatalf("tail --read-db: exit %d\n%s%s", code, out, errs)
	}
	var last store.Event
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.EventID != ids[len(ids)-1] {
		t.Fatalf("tail's last line %q (%v), want event %s", lines[len(lines)-1], err, ids[len(ids)-1])
	}

	code, out, errs = runCLI(t, nil, "stats", "--db", primary, "--read-db", standby)
	if code != 0 || !strings.Contains(out, "read db ") {
		t.Fatalf("stats --read-db: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runCLI(t, nil, "stats", "--json", "--db", primary, "--read-db", standby)
	var js struct {
		Events  int64 `json:"events"`
		Replica struct {
			InRecovery bool `json:"in_recovery"`
		} `json:"replica"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &js) != nil || !js.Replica.InRecovery {
		t.Fatalf("stats --json --read-db: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runCLI(t, nil, "subs", "list", "--db", primary, "--read-db", standby)
	if code != 0 || !strings.Contains(out, "via-standby") || !strings.Contains(out, "read db: ") {
		t.Fatalf("subs list --read-db: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("%s", out)

	// A --read-db that cannot be reached is an error naming it.
	code, _, errs = runCLI(t, nil, "read", "--all", "--db", primary, "--read-db", "postgres://nobody@127.0.0.1:1/x?connect_timeout=2")
	if code == 0 || !strings.Contains(errs, "--read-db") {
		t.Fatalf("unreachable --read-db: exit %d, %q", code, errs)
	}
}

// TestReadDBEnv: EVENTSCOPE_READ_DB is --read-db's default. (Not parallel:
// it sets the environment.)
func TestReadDBEnv(t *testing.T) {
	db := testdb.URL(t)
	t.Setenv("EVENTSCOPE_READ_DB", "postgres://nobody@127.0.0.1:1/x?connect_timeout=2")
	code, _, errs := runCLI(t, nil, "read", "--all", "--db", db)
	if code == 0 || !strings.Contains(errs, "--read-db") || !strings.Contains(errs, "127.0.0.1:1") {
		t.Fatalf("EVENTSCOPE_READ_DB ignored: exit %d, %q", code, errs)
	}
}
