package common

import (
	"bytes"
	"encoding/json"
	"eventscope/internal/textsafe"
	"strings"

	"github.com/charmbracelet/lipgloss"

	"eventscope/tui/styles"
)

// PrettyJSON indents raw JSON (two spaces) and colours it: keys, strings,
// numbers, booleans, null and punctuation each in their style. Invalid JSON
// is returned as is, one line per line.
func PrettyJSON(raw []byte, s *styles.Styles) []string {
	var b bytes.Buffer
	if err := json.Indent(&b, bytes.TrimSpace(raw), "", "  "); err != nil {
		lines := strings.Split(string(raw), "\n")
		for i, l := range lines {
			lines[i] = textsafe.Line(l)
		}
		return lines
	}
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		// Unsafe runes can only be inside strings (indented JSON is ASCII
		// outside them): escaped there, they are shown, never obeyed.
		lines[i] = ColorJSONLine(textsafe.Line(l), s)
	}
	return lines
}

// ColorJSONLine colours one line of indented JSON.
func ColorJSONLine(line string, s *styles.Styles) string {
	var out strings.Builder
	i := 0
	emit := func(st lipgloss.Style, tok string) { out.WriteString(st.Render(tok)) }
	for i < len(line) {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			j := i
			for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
				j++
			}
			out.WriteString(line[i:j])
			i = j
		case c == '"':
			j := i + 1
			for j < len(line) {
				if line[j] == '\\' {
					j += 2
					continue
				}
				if line[j] == '"' {
					j++
					break
				}
				j++
			}
			if j > len(line) {
				j = len(line)
			}
			k := j
			for k < len(line) && line[k] == ' ' {
				k++
			}
			if k < len(line) && line[k] == ':' {
				emit(s.JSONKey, line[i:j])
			} else {
				emit(s.JSONString, line[i:j])
			}
			i = j
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(line) && strings.IndexByte("0123456789.eE+-", line[j]) >= 0 {
				j++
			}
			emit(s.JSONNumber, line[i:j])
			i = j
		case strings.HasPrefix(line[i:], "true"):
			emit(s.JSONBool, "true")
			i += 4
		case strings.HasPrefix(line[i:], "false"):
			emit(s.JSONBool, "false")
			i += 5
		case strings.HasPrefix(line[i:], "null"):
			emit(s.JSONNull, "null")
			i += 4
		default:
			emit(s.JSONPunct, line[i:i+1])
			i++
		}
	}
	return out.String()
}
