package domain

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The examples of RFC 7396, appendix A.
func TestMergePatchRFC7396(t *testing.T) {
	t.Parallel()
	cases := []struct{ target, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`["a","b"]`, `["c","d"]`, `["c","d"]`},
		{`{"a":"b"}`, `["c"]`, `["c"]`},
		{`{"a":"foo"}`, `null`, `null`},
		{`{"a":"foo"}`, `"bar"`, `"bar"`},
		{`{"e":null}`, `{"a":1}`, `{"a":1,"e":null}`},
		{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
		// numbers keep their exact text
		{`{"n":1}`, `{"m":12345678901234567890}`, `{"m":12345678901234567890,"n":1}`},
		{``, `{"a":1}`, `{"a":1}`},
	}
	for _, c := range cases {
		got, err := MergePatch(json.RawMessage(c.target), json.RawMessage(c.patch))
		if err != nil {
			t.Fatalf("MergePatch(%s, %s): %v", c.target, c.patch, err)
		}
		if string(got) != c.want {
			t.Errorf("MergePatch(%s, %s) = %s, want %s", c.target, c.patch, got, c.want)
		}
	}
	if _, err := MergePatch(json.RawMessage(`{}`), json.RawMessage(`{`)); err == nil {
		t.Error("invalid patch must fail")
	}
}

func TestGenericFold(t *testing.T) {
	t.Parallel()
	g := newGenericFold()
	for _, d := range []string{`{"name":"x","tags":["a"],"addr":{"city":"Oslo","zip":"0150"}}`, `{"addr":{"zip":null},"n":2}`, `{"tags":null}`} {
		if err := g.apply([]byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := g.json()
	if want := `{"addr":{"city":"Oslo"},"n":2,"name":"x"}`; string(got) != want {
		t.Fatalf("fold = %s, want %s", got, want)
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	cases := []struct {
		name          string
		before, after string
		want          []Change
	}{
		{"equal", `{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, nil},
		{"changed scalar", `{"status":"pending"}`, `{"status":"approved"}`,
			[]Change{{Path: "status", Kind: Changed, Before: raw(`"pending"`), After: raw(`"approved"`)}}},
		{"added and removed", `{"a":1,"b":2}`, `{"b":2,"c":3}`,
			[]Change{{Path: "a", Kind: Removed, Before: raw(`1`)}, {Path: "c", Kind: Added, After: raw(`3`)}}},
		{"nested", `{"x":{"y":{"z":1}}}`, `{"x":{"y":{"z":2}}}`,
			[]Change{{Path: "x.y.z", Kind: Changed, Before: raw(`1`), After: raw(`2`)}}},
		{"array elements", `{"lines":[{"qty":1},{"qty":2}]}`, `{"lines":[{"qty":1},{"qty":3},{"qty":4}]}`,
			[]Change{{Path: "lines[1].qty", Kind: Changed, Before: raw(`2`), After: raw(`3`)},
				{Path: "lines[2]", Kind: Added, After: raw(`{"qty":4}`)}}},
		{"array shrinks", `[1,2,3]`, `[1]`,
			[]Change{{Path: "[1]", Kind: Removed, Before: raw(`2`)}, {Path: "[2]", Kind: Removed, Before: raw(`3`)}}},
		{"type change", `{"a":{"b":1}}`, `{"a":[1]}`,
			[]Change{{Path: "a", Kind: Changed, Before: raw(`{"b":1}`), After: raw(`[1]`)}}},
		{"odd keys are quoted", `{}`, `{"reservations":{"o 1":5}}`,
			[]Change{{Path: "reservations", Kind: Added, After: raw(`{"o 1":5}`)}}},
		{"odd nested key", `{"r":{}}`, `{"r":{"o 1":5}}`,
			[]Change{{Path: `r["o 1"]`, Kind: Added, After: raw(`5`)}}},
		{"numbers by value", `{"n":1}`, `{"n":1.0}`, nil},
		{"null to value", `{"a":null}`, `{"a":1}`,
			[]Change{{Path: "a", Kind: Changed, Before: raw(`null`), After: raw(`1`)}}},
		{"whole document added", ``, `{"a":1}`,
			[]Change{{Path: "", Kind: Added, After: raw(`{"a":1}`)}}},
		{"root scalar", `1`, `2`, []Change{{Path: "", Kind: Changed, Before: raw(`1`), After: raw(`2`)}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := Diff(raw(c.before), raw(c.after))
			if !reflect.DeepEqual(got, c.want) {
				gj, _ := json.Marshal(got)
				wj, _ := json.Marshal(c.want)
				t.Fatalf("Diff(%s, %s)\n got %s\nwant %s", c.before, c.after, gj, wj)
			}
		})
	}
}

func FuzzMergePatchDiff(f *testing.F) {
	f.Add(`{"a":1}`, `{"a":null,"b":[1]}`)
	f.Add(`[1]`, `{"x":{"y":2}}`)
	f.Fuzz(func(t *testing.T, target, patch string) {
		if !json.Valid([]byte(target)) || !json.Valid([]byte(patch)) {
			return
		}
		out, err := MergePatch(json.RawMessage(target), json.RawMessage(patch))
		if err != nil {
			return
		}
		// applying the same patch again changes nothing (merge patches are idempotent)
		again, err := MergePatch(out, json.RawMessage(patch))
		if err != nil || len(Diff(out, again)) != 0 {
			t.Fatalf("patch %s not idempotent on %s: %s then %s", patch, target, out, again)
		}
		if len(Diff(out, out)) != 0 {
			t.Fatalf("Diff of a document with itself is not empty: %s", out)
		}
	})
}
