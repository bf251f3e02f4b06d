package common

import (
	"fmt"
	"sort"
	"strings"
)

// ListFilter is what "/" types over a list other than events (streams,
// subscriptions, types): free text, terms of the form key:value with the
// list's own keys, and a leading "!" that inverts the whole filter. A
// key:value whose key the list does not have is an error that names the
// keys it has; the events' lists use the query language instead
// (store/query.ParseFilter), which does the same.
type ListFilter struct {
	// Text is the free text (the words that are not key:value terms,
	// joined by single spaces).
	Text string
	// Terms are the key:value terms (a key given twice keeps the last).
	Terms map[string]string
	// Invert is a leading "!".
	Invert bool
	raw    string
}

// ParseListFilter parses s for a list whose keys are keys (without the
// colon). A word is a term when it has a ":" after a run of letters.
func ParseListFilter(s string, keys ...string) (ListFilter, error) {
	f := ListFilter{raw: strings.TrimSpace(s)}
	rest := f.raw
	if strings.HasPrefix(rest, "!") {
		f.Invert, rest = true, strings.TrimSpace(rest[1:])
	}
	var words []string
	for _, w := range strings.Fields(rest) {
		k, v, ok := strings.Cut(w, ":")
		if !ok || k == "" || strings.IndexFunc(k, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') }) >= 0 {
			words = append(words, w)
			continue
		}
		known := false
		for _, kk := range keys {
			known = known || kk == k
		}
		if !known {
			return ListFilter{}, fmt.Errorf("unknown key %q: %s", k, KeysHint(keys))
		}
		if v == "" {
			return ListFilter{}, fmt.Errorf("%s: needs a value", k)
		}
		if f.Terms == nil {
			f.Terms = map[string]string{}
		}
		f.Terms[k] = v
	}
	f.Text = strings.Join(words, " ")
	return f, nil
}

// KeysHint says which keys a list's filter has.
func KeysHint(keys []string) string {
	if len(keys) == 0 {
		return "this list's filter has no keys, only text"
	}
	ks := append([]string(nil), keys...)
	sort.Strings(ks)
	for i := range ks {
		ks[i] += ":"
	}
	return "this list's filter keys are " + strings.Join(ks, ", ")
}

// Empty reports a filter that keeps every row.
func (f ListFilter) Empty() bool { return f.Text == "" && len(f.Terms) == 0 }

// String is the filter as typed.
func (f ListFilter) String() string { return f.raw }
