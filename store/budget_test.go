package store_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"eventscope/store"
)

// TestReadPagesStopAtByteBudget: a page stops at MaxBytes as well as at
// Limit (always at least one event), says More, and a reader that resumes
// from Next reads every event once, for incompressible events (cut by their
// stored size, in SQL) and for ones that compress well (stored small, cut
// by their decoded size) alike; the same for stream reads.
func TestReadPagesStopAtByteBudget(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	const n, size = 24, 100_000
	for i := range n {
		var body string
		if i%2 == 0 {
			b := make([]byte, size/2)
			_, _ = rand.Read(b)
			body = hex.EncodeToString(b) // incompressible
		} else {
			body = strings.Repeat("x", size) // compresses to a few KB
		}
		stream := fmt.Sprintf("big-%d", i%3)
		if i%4 == 3 {
			stream = fmt.Sprintf("other-%d", i)
		}
		mustAppend(t, st, stream, store.Any, ev("Blob", fmt.Sprintf(`{"i":%d,"body":%q}`, i, body)))
	}
	visible(t, st, n)
	const budget = 350_000 // three or four events
	for _, o := range []store.ReadAllOptions{
		{MaxBytes: budget},
		{MaxBytes: budget, Categories: []string{"big"}},
		{MaxBytes: budget, Types: []string{"Blob"}},
		{MaxBytes: 1}, // one event per page
	} {
		t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) {
			seen := map[store.Checkpoint]bool{}
			after := store.Start
			for pages := 0; ; pages++ {
				if pages > 2*n {
					t.Fatal("never caught up")
				}
				p, err := st.ReadAll(ctx, after, o)
				if err != nil {
					t.Fatal(err)
				}
				bytes := 0
				for _, e := range p.Events {
					if seen[e.Checkpoint] {
						t.Fatalf("event %s read twice", e.Checkpoint)
					}
					seen[e.Checkpoint] = true
					bytes += len(e.Data)
				}
				if len(p.Events) == 0 && p.More {
					t.Fatal("an empty page says More")
				}
				if len(p.Events) > 1 && bytes-len(p.Events[len(p.Events)-1].Data) >= o.MaxBytes {
					t.Fatalf("page of %d events, %d bytes, went on past the budget %d", len(p.Events), bytes, o.MaxBytes)
				}
				if p.More != (p.Scanned == 1000) {
					t.Fatalf("More %v but Scanned %d", p.More, p.Scanned)
				}
				after = p.Next
				if !p.More {
					break
				}
			}
			want := n
			if len(o.Categories) > 0 {
				want = n - n/4
			}
			if len(seen) != want {
				t.Fatalf("read %d events, want %d", len(seen), want)
			}
		})
	}
	t.Run("stream", func(t *testing.T) {
		var got []int64
		from := int64(0)
		for {
			p, err := st.ReadStreamPage(ctx, "big-0", store.ReadStreamOptions{From: from, MaxBytes: budget})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Events) > 4 {
				t.Fatalf("stream page of %d events past the budget", len(p.Events))
			}
			for _, e := range p.Events {
				got = append(got, e.Version)
			}
			if !p.More {
				break
			}
			from = p.Events[len(p.Events)-1].Version + 1
		}
		for i, v := range got {
			if v != int64(i) {
				t.Fatalf("versions %v", got)
			}
		}
		if len(got) == 0 {
			t.Fatal("nothing read")
		}
	})
}
