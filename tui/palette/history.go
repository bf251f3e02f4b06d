package palette

// History is the palette's command history, newest last, kept by the root
// for the console's lifetime: ↑ in the palette recalls older commands, ↓
// newer ones. It keeps the last HistoryMax distinct commands.
type History struct{ list []string }

// HistoryMax is how many commands a History keeps.
const HistoryMax = 100

// Add records a command that ran (a repeat moves to the newest place).
func (h *History) Add(line string) {
	if h == nil || line == "" {
		return
	}
	for i, l := range h.list {
		if l == line {
			h.list = append(h.list[:i], h.list[i+1:]...)
			break
		}
	}
	h.list = append(h.list, line)
	if len(h.list) > HistoryMax {
		h.list = h.list[len(h.list)-HistoryMax:]
	}
}

// Len is the number of commands kept.
func (h *History) Len() int {
	if h == nil {
		return 0
	}
	return len(h.list)
}

// at is the i-th newest command (0 = the newest).
func (h *History) at(i int) string { return h.list[len(h.list)-1-i] }
