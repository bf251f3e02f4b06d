package common

import (
	"strings"
	"testing"
)

func TestParseListFilter(t *testing.T) {
	t.Parallel()
	f, err := ParseListFilter("  ! state:paused  notif  x ", "state")
	if err != nil || !f.Invert || f.Text != "notif x" || f.Terms["state"] != "paused" {
		t.Fatalf("%+v %v", f, err)
	}
	if f, _ := ParseListFilter("a:b:c x-1", "a"); f.Terms["a"] != "b:c" || f.Text != "x-1" {
		t.Fatalf("%+v", f)
	}
	_, err = ParseListFilter("kind:x", "state", "cat")
	if err == nil || !strings.Contains(err.Error(), `unknown key "kind"`) || !strings.Contains(err.Error(), "cat:, state:") {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := ParseListFilter("state:", "state"); err == nil || !strings.Contains(err.Error(), "needs a value") {
		t.Fatalf("empty value: %v", err)
	}
	if f, _ := ParseListFilter("!", "state"); !f.Empty() {
		t.Fatal("a lone ! keeps everything")
	}
}
