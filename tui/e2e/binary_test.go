package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The eventscope binary the end-to-end tests drive, built once per run
// (each test used to build its own copy: seven parallel builds on a
// 2-core machine) and removed when the run ends.
var build struct {
	once sync.Once
	dir  string
	bin  string
	out  []byte
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// needTmux skips the test where the console cannot be driven: no tmux, or
// -short.
func needTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed: the end-to-end console test needs it (CI installs it)")
	}
	if testing.Short() {
		t.Skip("-short: skipping the tmux end-to-end test")
	}
}

// consoleBinary skips the test without tmux or under -short, and returns
// the path of the eventscope binary built from this module.
func consoleBinary(t *testing.T) string {
	t.Helper()
	needTmux(t)
	return eventscopeBinary(t)
}

// eventscopeBinary is the path of the eventscope binary built from this
// module, built by the first test that asks.
func eventscopeBinary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "eventscope-e2e-")
		if build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "eventscope")
		cmd := exec.Command("go", "build", "-o", build.bin, ".")
		cmd.Dir = moduleRoot(t)
		build.out, build.err = cmd.CombinedOutput()
	})
	if build.err != nil {
		t.Fatalf("go build: %v\n%s", build.err, build.out)
	}
	return build.bin
}
