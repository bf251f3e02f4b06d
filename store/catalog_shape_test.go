package store

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// refShape computes the paths of doc with encoding/json, as walkShape
// should (for documents within its bounds).
func refShape(v any, path string, root bool, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		if !root {
			out[path+" object"] = true
		}
		for k, c := range x {
			p := pathKey(k)
			if !root {
				p = path + "." + p
			}
			refShape(c, p, false, out)
		}
	case []any:
		out[path+" array"] = true
		for _, c := range x {
			refShape(c, path+"[]", false, out)
		}
	case string:
		out[path+" string"] = true
	case json.Number:
		out[path+" number"] = true
	case bool:
		out[path+" boolean"] = true
	case nil:
		out[path+" null"] = true
	}
}

func FuzzWalkShape(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"lines":[{"sku":"A","qty":2},{"sku":null}],"t":true}`, `{"a b":{"c.d":[[1],[]]}}`, `{"\u00e9\"x":"\\"}`, `{}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var v any
		if d.Decode(&v) != nil || d.More() {
			return
		}
		if _, ok := v.(map[string]any); !ok {
			return
		}
		// PostgreSQL prints jsonb re-encoded: walk what json.Marshal gives
		doc, err := json.Marshal(v)
		if err != nil {
			return
		}
		if strings.Count(string(doc), "[") > 20 || strings.Count(string(doc), "{") > 20 || len(doc) > 2000 {
			return // within the walk's bounds only
		}
		want := map[string]bool{}
		refShape(v, "", true, want)
		got := map[string]bool{}
		if !walkShape(doc, func(path, typ string, _ []byte) { got[path+" "+typ] = true }) {
			t.Fatalf("walkShape refused %s", doc)
		}
		if len(want) > shapeMaxPaths {
			return
		}
		g, w := keys(got), keys(want)
		if !slices.Equal(g, w) {
			t.Fatalf("%s:\n got %q\nwant %q", doc, g, w)
		}
	})
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestWalkShapeBounds(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000)
	n := 0
	if !walkShape([]byte(deep), func(string, string, []byte) { n++ }) || n != shapeMaxDepth {
		t.Fatalf("deep document: ok? %d paths", n)
	}
	wide := `{"a":[` + strings.Repeat(`{"x":1},`, 10000) + `{"y":2}]}`
	var paths []string
	if !walkShape([]byte(wide), func(p, _ string, _ []byte) { paths = append(paths, p) }) {
		t.Fatal("wide array refused")
	}
	if len(paths) != 1+2*shapeMaxElements || slices.Contains(paths, "a[].y") {
		t.Fatalf("wide array: %d paths", len(paths))
	}
	for _, bad := range []string{`[1]`, `{"a":}`, `{"a":1`, `{"a" 1}`, `{"a":tru}`, ``} {
		if walkShape([]byte(bad), func(string, string, []byte) {}) {
			t.Errorf("walkShape accepted %q", bad)
		}
	}
}
