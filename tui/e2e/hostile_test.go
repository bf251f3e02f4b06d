package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"eventscope/internal/pgserver"
	"eventscope/internal/testdb"
	"eventscope/internal/textsafe"
	"eventscope/store/storetest"
)

// TestHostileTextInTmux (issue 8 item 4, console side): a type and stream
// id stored, before the store refused them, with an OSC title sequence, a
// clear-screen CSI, a C1 CSI, a bidi override and a zero-width space reach
// the real terminal escaped: the overview (read-only, too) shows them as
// text, the pane's title is not rewritten, and no such character is on the
// screen.
func TestHostileTextInTmux(t *testing.T) {
	t.Parallel()
	bin := consoleBinary(t)
	admin := testdb.AdminURL(t)
	name := fmt.Sprintf("es_test_e2e_hostile_%d", time.Now().UnixNano())
	run(t, "psql", admin, "-qc", "CREATE DATABASE "+name)
	t.Cleanup(func() { _ = exec.Command("psql", admin, "-qc", "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)").Run() })
	db := pgserver.WithDatabase(admin, name)
	run(t, bin, "migrate", "--db", db)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	typ := "Evil\x1b]0;owned\x07\x1b[2J\u009b31m\u202e"
	if err := storetest.RawAppend(ctx, conn, "evil-1\u202e\u200b", storetest.RawEvent{Type: typ}); err != nil {
		t.Fatal(err)
	}

	tm := &term{t: t, sock: fmt.Sprintf("es-e2e-hostile-%d", os.Getpid()), session: "hostile", dir: os.Getenv("E2E_CAPTURES")}
	shell := fmt.Sprintf("%s tui --read-only --db '%s'; sleep 30", bin, db)
	if _, err := tm.tmux("new-session", "-d", "-s", tm.session, "-x", "120", "-y", "30", shell); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = tm.tmux("kill-server") })
	if _, err := tm.tmux("set-option", "-t", tm.session, "allow-rename", "on"); err != nil {
		t.Fatal(err)
	}
	screen := tm.waitFor("overview-hostile", "Top event types", `Evil\x1b]0;owned\x07\x1b[2J`)
	for _, r := range screen {
		if r != '\n' && r != '\t' && textsafe.Unsafe(r) {
			t.Fatalf("%U reached the screen:\n%s", r, screen)
		}
	}
	title, err := tm.tmux("display-message", "-p", "-t", tm.session, "#{pane_title}")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(title, "owned") {
		t.Fatalf("the stored OSC sequence retitled the terminal: %q", title)
	}
	tm.send("2")
	tm.waitFor("streams-hostile", `evil-1\u202e\u200b`)
	tm.send("q")
}
