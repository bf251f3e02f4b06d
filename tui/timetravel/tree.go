package timetravel

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"eventscope/domain"
	"eventscope/internal/textsafe"
	"eventscope/tui/common"
	"eventscope/tui/styles"
)

// node is a JSON value that keeps its members in document order.
type node struct {
	kind    byte // '{', '[', or 's' (scalar)
	keys    []string
	members []*node
	scalar  string // the scalar's JSON text
}

func parseTree(raw []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return parseValue(dec)
}

func parseValue(dec *json.Decoder) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &node{kind: byte(t)}
		for dec.More() {
			if t == '{' {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				n.keys = append(n.keys, k)
			}
			child, err := parseValue(dec)
			if err != nil {
				return nil, err
			}
			n.members = append(n.members, child)
		}
		if _, err := dec.Token(); err != nil { // closing delimiter
			return nil, err
		}
		return n, nil
	default:
		b, _ := json.Marshal(t)
		if num, ok := t.(json.Number); ok {
			b = []byte(num.String())
		}
		return &node{kind: 's', scalar: string(b)}, nil
	}
}

func indexPath(parent string, i int) string { return parent + "[" + strconv.Itoa(i) + "]" }

// renderTree renders n as indented JSON lines, each prefixed with a
// change marker ("+ " added, "~ " changed, "  " unchanged) from marks
// (path → kind). A member under an added path is added too.
func renderTree(n *node, marks map[string]string, st *styles.Styles) []string {
	var out []string
	var walk func(n *node, path, prefix string, indent int, comma bool, inherited string)
	line := func(kind string, indent int, text string) {
		marker := "  "
		switch kind {
		case "added":
			marker = st.Added.Render("+ ")
			text = st.Added.Render(common.StripANSI(text))
		case "changed":
			marker = st.Changed.Render("~ ")
			text = st.Changed.Render(common.StripANSI(text))
		}
		out = append(out, marker+strings.Repeat("  ", indent)+text)
	}
	walk = func(n *node, path, prefix string, indent int, comma bool, inherited string) {
		kind := inherited
		if k, ok := marks[path]; ok && kind == "" {
			kind = k
		}
		sfx := ""
		if comma {
			sfx = st.JSONPunct.Render(",")
		}
		childInherit := ""
		if kind == "added" {
			childInherit = "added"
		}
		switch n.kind {
		case 's':
			line(kind, indent, prefix+common.ColorJSONLine(textsafe.Line(n.scalar), st)+sfx)
		case '{', '[':
			open, closing := "{", "}"
			if n.kind == '[' {
				open, closing = "[", "]"
			}
			if len(n.members) == 0 {
				line(kind, indent, prefix+st.JSONPunct.Render(open+closing)+sfx)
				return
			}
			line(kind, indent, prefix+st.JSONPunct.Render(open))
			for i, c := range n.members {
				var cp, pre string
				if n.kind == '{' {
					cp = domain.ChildPath(path, n.keys[i])
					kb, _ := json.Marshal(n.keys[i])
					pre = st.JSONKey.Render(textsafe.Line(string(kb))) + st.JSONPunct.Render(": ")
				} else {
					cp = indexPath(path, i)
				}
				walk(c, cp, pre, indent+1, i < len(n.members)-1, childInherit)
			}
			line(kind, indent, st.JSONPunct.Render(closing)+sfx)
		}
	}
	walk(n, "", "", 0, false, "")
	return out
}
