package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
)

// decodeJSON parses a JSON document keeping numbers exact (json.Number).
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return v, nil
}

// MergePatch applies an RFC 7396 JSON merge patch to target and returns the
// result: an object patch merges member by member (null removes a member),
// anything else replaces the target. An empty target is null.
func MergePatch(target, patch json.RawMessage) (json.RawMessage, error) {
	var t any
	if len(bytes.TrimSpace(target)) > 0 {
		var err error
		if t, err = decodeJSON(target); err != nil {
			return nil, fmt.Errorf("merge patch target: %w", err)
		}
	}
	p, err := decodeJSON(patch)
	if err != nil {
		return nil, fmt.Errorf("merge patch: %w", err)
	}
	return json.Marshal(mergePatch(t, p))
}

// mergePatch is RFC 7396's MergePatch(Target, Patch). It may reuse target's
// maps (the generic fold owns its state).
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

// genericFold is the state of a stream with no registered aggregate: each
// event's data merged in as a JSON merge patch, starting from {}.
type genericFold struct{ state any }

func newGenericFold() *genericFold { return &genericFold{state: map[string]any{}} }

func (g *genericFold) apply(data []byte) error {
	p, err := decodeJSON(data)
	if err != nil {
		return err
	}
	g.state = mergePatch(g.state, p)
	return nil
}

func (g *genericFold) json() (json.RawMessage, error) { return json.Marshal(g.state) }

// ChangeKind is what happened at a path.
type ChangeKind string

// Change kinds.
const (
	Added   ChangeKind = "added"
	Changed ChangeKind = "changed"
	Removed ChangeKind = "removed"
)

// Change is one field-level difference. Path is dotted with [i] for array
// elements ("lines[1].qty"); a key that is not an identifier is quoted
// (`reservations["order 7"]`); the empty path is the whole document. Before
// is absent (nil) for an added value, After for a removed one.
type Change struct {
	Path   string          `json:"path"`
	Kind   ChangeKind      `json:"kind"`
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

// Diff returns the field-level changes from before to after, in path order.
// Objects are compared member by member and arrays element by element; any
// other value that differs is one change. Numbers compare by their exact
// text. Invalid or empty JSON counts as null.
func Diff(before, after json.RawMessage) []Change {
	b, _ := decodeLoose(before)
	a, _ := decodeLoose(after)
	var out []Change
	diffValues("", b, a, &out)
	return out
}

func decodeLoose(b json.RawMessage) (any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	return decodeJSON(b)
}

var identRE = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$-]*$`)

// ChildPath is the path of member key under parent, as Diff reports paths:
// dotted identifiers (a.b), ["quoted"] for other keys. Views that mark
// Diff's changes in a rendered document build their paths with it.
func ChildPath(parent, key string) string {
	if identRE.MatchString(key) {
		if parent == "" {
			return key
		}
		return parent + "." + key
	}
	q, _ := json.Marshal(key)
	return parent + "[" + string(q) + "]"
}

func diffValues(path string, b, a any, out *[]Change) {
	bm, bIsMap := b.(map[string]any)
	am, aIsMap := a.(map[string]any)
	if bIsMap && aIsMap {
		keys := make([]string, 0, len(bm)+len(am))
		for k := range bm {
			keys = append(keys, k)
		}
		for k := range am {
			if _, ok := bm[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			bv, inB := bm[k]
			av, inA := am[k]
			p := ChildPath(path, k)
			switch {
			case !inB:
				*out = append(*out, Change{Path: p, Kind: Added, After: mustJSON(av)})
			case !inA:
				*out = append(*out, Change{Path: p, Kind: Removed, Before: mustJSON(bv)})
			default:
				diffValues(p, bv, av, out)
			}
		}
		return
	}
	bs, bIsArr := b.([]any)
	as, aIsArr := a.([]any)
	if bIsArr && aIsArr {
		for i := 0; i < max(len(bs), len(as)); i++ {
			p := path + "[" + strconv.Itoa(i) + "]"
			switch {
			case i >= len(bs):
				*out = append(*out, Change{Path: p, Kind: Added, After: mustJSON(as[i])})
			case i >= len(as):
				*out = append(*out, Change{Path: p, Kind: Removed, Before: mustJSON(bs[i])})
			default:
				diffValues(p, bs[i], as[i], out)
			}
		}
		return
	}
	if equalJSON(b, a) {
		return
	}
	switch {
	case b == nil && a != nil && path == "":
		*out = append(*out, Change{Path: path, Kind: Added, After: mustJSON(a)})
	case a == nil && b != nil && path == "":
		*out = append(*out, Change{Path: path, Kind: Removed, Before: mustJSON(b)})
	default:
		*out = append(*out, Change{Path: path, Kind: Changed, Before: mustJSON(b), After: mustJSON(a)})
	}
}

func equalJSON(b, a any) bool {
	switch bv := b.(type) {
	case nil:
		return a == nil
	case bool:
		av, ok := a.(bool)
		return ok && av == bv
	case string:
		av, ok := a.(string)
		return ok && av == bv
	case json.Number:
		av, ok := a.(json.Number)
		if !ok {
			return false
		}
		if av == bv {
			return true
		}
		// 1 and 1.0 are the same number
		bf, err1 := bv.Float64()
		af, err2 := av.Float64()
		return err1 == nil && err2 == nil && af == bf
	}
	return false // maps and arrays are walked, never compared here
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`null`)
	}
	return b
}
