package common

import "strings"

var sparkRunes = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws the last width values as block characters scaled to the
// largest of them (an empty series draws nothing; all zeros draw the floor).
func Sparkline(values []float64, width int) string {
	if width <= 0 || len(values) == 0 {
		return ""
	}
	if len(values) > width {
		values = values[len(values)-width:]
	}
	maxV := 0.0
	for _, v := range values {
		if v > maxV {
			maxV = v
		}
	}
	var b strings.Builder
	for _, v := range values {
		i := 0
		if maxV > 0 && v > 0 {
			i = int(v / maxV * float64(len(sparkRunes)-1))
			if i == 0 {
				i = 1 // anything above zero shows
			}
		}
		b.WriteRune(sparkRunes[i])
	}
	return b.String()
}

// Ring is a fixed-size series of float samples (sparkline history).
type Ring struct {
	vals []float64
	next int
	full bool
}

// NewRing makes a ring of n samples.
func NewRing(n int) *Ring { return &Ring{vals: make([]float64, n)} }

// Add appends a sample, dropping the oldest when full.
func (r *Ring) Add(v float64) {
	r.vals[r.next] = v
	r.next = (r.next + 1) % len(r.vals)
	if r.next == 0 {
		r.full = true
	}
}

// Values returns the samples, oldest first.
func (r *Ring) Values() []float64 {
	if !r.full {
		return append([]float64(nil), r.vals[:r.next]...)
	}
	out := make([]float64, 0, len(r.vals))
	out = append(out, r.vals[r.next:]...)
	return append(out, r.vals[:r.next]...)
}

// Last returns the newest sample (0 when empty).
func (r *Ring) Last() float64 {
	if !r.full && r.next == 0 {
		return 0
	}
	return r.vals[(r.next-1+len(r.vals))%len(r.vals)]
}
