package subscriptions

// State is a subscription's state as monitoring shows it. It is one of the
// constants below, everywhere: in Status, in what a holder publishes, and
// in the row's state column (SQL gets the values from sql.go's constants).
type State string

// The states. Paused and stopped are set by operators and StopOnFailure and
// win over the others; no-holder means no process has sent a heartbeat for
// 3 seconds.
const (
	StateCatchingUp State = "catching-up"
	StateLive       State = "live"
	StatePaused     State = "paused"
	StateFailing    State = "failing"
	StateStopped    State = "stopped"
	StateNoHolder   State = "no-holder"
)

// States lists every state.
func States() []State {
	return []State{StateCatchingUp, StateLive, StatePaused, StateFailing, StateStopped, StateNoHolder}
}

// stateColumn reads the row's state column: what holders write there
// (catching-up, live, failing, stopped). A value this version does not know
// (written by a newer holder) reads as catching-up.
func stateColumn(v string) State {
	switch st := State(v); st {
	case StateCatchingUp, StateLive, StateFailing, StateStopped:
		return st
	}
	return StateCatchingUp
}
