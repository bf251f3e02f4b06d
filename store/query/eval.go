package query

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strconv"
	"strings"

	"eventscope/store"
)

// Match reports whether the event satisfies every term, evaluated in Go
// (the tail's filter over events it already holds). It agrees with the
// server's evaluation of the same query (Run) on the documented semantics.
func (q *Query) Match(e store.Event) bool {
	var data, md any
	var haveData, haveMD bool
	for i := range q.Terms {
		t := &q.Terms[i]
		var ok bool
		switch t.Kind {
		case Type:
			ok = contains(t.Values, e.Type)
		case Category:
			ok = contains(t.Values, store.Category(e.StreamID))
		case Stream:
			for _, g := range t.Values {
				if glob(g, e.StreamID) {
					ok = true
					break
				}
			}
		case After:
			ok = !e.RecordedAt.Before(t.Time)
		case Before:
			ok = e.RecordedAt.Before(t.Time)
		case Data:
			if !haveData {
				data, haveData = decode(e.Data), true
			}
			ok = t.holds(data)
		case Metadata:
			if !haveMD {
				md, haveMD = decode(e.Metadata), true
			}
			ok = t.holds(md)
		}
		if ok == t.Negate {
			return false
		}
	}
	return true
}

func contains(vs []string, s string) bool {
	for _, v := range vs {
		if v == s {
			return true
		}
	}
	return false
}

func decode(b []byte) any {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return nil
	}
	return v
}

// holds evaluates a predicate: != is the negation of =.
func (t *Term) holds(doc any) bool {
	if doc == nil {
		return t.Op == Ne
	}
	vals := walk([]any{doc}, t.Path)
	if t.indexed() {
		// an indexed key compares its value's text, as ->> does (sql.go)
		m, _ := doc.(map[string]any)
		var text string
		switch v := m[t.Path[0].Key].(type) {
		case string:
			text = v
		case json.Number:
			text = string(v)
		case bool:
			text = strconv.FormatBool(v)
		default:
			return t.Op == Ne
		}
		return (text == t.Value.Text) != (t.Op == Ne)
	}
	if t.Op == Ne {
		return !anyCompare(vals, t, Eq)
	}
	return anyCompare(vals, t, t.Op)
}

// walk follows a path with lax jsonpath semantics: a key applied to an
// array applies to its elements (one level), [] takes every element, [N]
// one element ([0] of a non-array is the value itself).
func walk(cur []any, path []Step) []any {
	for _, s := range path {
		var next []any
		for _, v := range cur {
			switch {
			case s.IsKey:
				switch x := v.(type) {
				case map[string]any:
					if c, ok := x[s.Key]; ok {
						next = append(next, c)
					}
				case []any:
					for _, el := range x {
						if m, ok := el.(map[string]any); ok {
							if c, ok := m[s.Key]; ok {
								next = append(next, c)
							}
						}
					}
				}
			case s.Index < 0:
				if a, ok := v.([]any); ok {
					next = append(next, a...)
				} else {
					next = append(next, v)
				}
			default:
				if a, ok := v.([]any); ok {
					if s.Index < len(a) {
						next = append(next, a[s.Index])
					}
				} else if s.Index == 0 {
					next = append(next, v)
				}
			}
		}
		cur = next
	}
	return cur
}

// anyCompare: some value satisfies op. As in lax jsonpath, a filter on an
// array applies to its elements and a comparison with an array compares
// with its elements: two levels of arrays are unwrapped.
func anyCompare(vals []any, t *Term, op Op) bool {
	for _, v := range vals {
		a, ok := v.([]any)
		if !ok {
			if compare(v, t, op) {
				return true
			}
			continue
		}
		for _, el := range a {
			inner, ok := el.([]any)
			if !ok {
				if compare(el, t, op) {
					return true
				}
				continue
			}
			for _, x := range inner {
				if compare(x, t, op) {
					return true
				}
			}
		}
	}
	return false
}

func compare(v any, t *Term, op Op) bool {
	val := t.Value
	switch x := v.(type) {
	case json.Number:
		if val.Kind != "number" || op == Match {
			return false
		}
		a, ok1 := new(big.Float).SetPrec(200).SetString(string(x))
		b, ok2 := new(big.Float).SetPrec(200).SetString(val.Text)
		if !ok1 || !ok2 {
			return false
		}
		return ordered(a.Cmp(b), op)
	case string:
		switch {
		case op == Match:
			return t.re != nil && t.re.MatchString(x)
		case val.Kind == "string":
			return ordered(strings.Compare(x, val.Text), op)
		case val.Kind == "number" && val.Bare && op == Eq:
			return x == val.Text
		}
		return false
	case bool:
		return op == Eq && val.Kind == "boolean" && x == val.Bool
	case nil:
		return op == Eq && val.Kind == "null"
	}
	return false
}

func ordered(c int, op Op) bool {
	switch op {
	case Eq:
		return c == 0
	case Gt:
		return c > 0
	case Ge:
		return c >= 0
	case Lt:
		return c < 0
	case Le:
		return c <= 0
	}
	return false
}

// glob matches * (any run) and ? (one character) against s.
func glob(pattern, s string) bool {
	p, r := []rune(pattern), []rune(s)
	var pi, si, star, mark = 0, 0, -1, 0
	for si < len(r) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == r[si]) && p[pi] != '*':
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
