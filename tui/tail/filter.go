package tail

import (
	"strings"

	"eventscope/store"
)

// Filter selects tail events: by category and by type (any of each list),
// and by free text found in the stream id or type.
type Filter struct {
	Categories []string
	Types      []string
	Text       []string
}

// ParseFilter parses "cat:order,customer type:OrderPlaced word …".
// cat:/category:/c: and type:/t: take comma-separated lists; other words
// must each appear in the stream id or type (case-insensitive).
func ParseFilter(s string) Filter {
	var f Filter
	for _, w := range strings.Fields(s) {
		k, v, ok := strings.Cut(w, ":")
		if ok {
			switch strings.ToLower(k) {
			case "cat", "category", "c":
				f.Categories = appendList(f.Categories, v)
				continue
			case "type", "t":
				f.Types = appendList(f.Types, v)
				continue
			}
		}
		f.Text = append(f.Text, strings.ToLower(w))
	}
	return f
}

func appendList(dst []string, v string) []string {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			dst = append(dst, p)
		}
	}
	return dst
}

// Empty reports whether the filter keeps everything.
func (f Filter) Empty() bool { return len(f.Categories) == 0 && len(f.Types) == 0 && len(f.Text) == 0 }

// String is the filter's canonical text.
func (f Filter) String() string {
	var parts []string
	if len(f.Categories) > 0 {
		parts = append(parts, "cat:"+strings.Join(f.Categories, ","))
	}
	if len(f.Types) > 0 {
		parts = append(parts, "type:"+strings.Join(f.Types, ","))
	}
	parts = append(parts, f.Text...)
	return strings.Join(parts, " ")
}

// Match reports whether e passes the filter.
func (f Filter) Match(e *store.Event) bool {
	if len(f.Categories) > 0 {
		c := store.Category(e.StreamID)
		ok := false
		for _, want := range f.Categories {
			if strings.EqualFold(c, want) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(f.Types) > 0 {
		ok := false
		for _, want := range f.Types {
			if strings.EqualFold(e.Type, want) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, t := range f.Text {
		if !strings.Contains(strings.ToLower(e.StreamID), t) && !strings.Contains(strings.ToLower(e.Type), t) {
			return false
		}
	}
	return true
}
