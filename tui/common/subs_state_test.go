package common

import (
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"eventscope/subscriptions"
	"eventscope/tui/styles"
)

// TestStateStyle: every state of the subscriptions package's enum has its
// colour, and the console matches the enum, not words of its own.
func TestStateStyle(t *testing.T) {
	r := lipgloss.NewRenderer(nil)
	r.SetColorProfile(termenv.TrueColor)
	st := styles.New(r)
	want := map[subscriptions.State]lipgloss.Style{
		subscriptions.StateLive:         st.StateLive,
		subscriptions.StateCatchingUp:   st.StateCatchingUp,
		subscriptions.StatePaused:       st.StatePaused,
		subscriptions.StateFailing:      st.StateFailing,
		subscriptions.StateNoHolder:     st.StateNoHolder,
		subscriptions.StateStopped:      st.StateStopped,
		subscriptions.StateUnresponsive: st.StateStopped,
	}
	for _, s := range subscriptions.States() {
		w, ok := want[s]
		if !ok {
			t.Errorf("state %s: no expected style in this test", s)
			continue
		}
		if got, want := StateStyle(st, s).Render(string(s)), w.Render(string(s)); got != want {
			t.Errorf("StateStyle(%s) renders %q, want %q", s, got, want)
		}
	}
}
