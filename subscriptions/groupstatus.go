package subscriptions

import (
	"time"
)

// memberRow is a row of membersSQL.
type memberRow struct {
	Group, Instance, Host string
	PID                   int32
	JoinedAt, Heartbeat   time.Time
	Live                  bool
}

// stateUrgency orders states for a group's State: the most urgent of its
// partitions' wins.
var stateUrgency = map[State]int{
	StateLive: 0, StateCatchingUp: 1, StateNoHolder: 2, StateUnresponsive: 3,
	StateFailing: 4, StateStopped: 5, StatePaused: 6,
}

// foldGroups turns the partition rows of each group (consecutive in list:
// statusSQL orders them) into one Status with its members and partitions.
func foldGroups(list []Status, members []memberRow) []Status {
	byGroup := map[string][]memberRow{}
	for _, m := range members {
		byGroup[m.Group] = append(byGroup[m.Group], m)
	}
	out := list[:0:0]
	for i := 0; i < len(list); {
		s := list[i]
		if s.group == nil {
			out = append(out, s)
			i++
			continue
		}
		j := i
		for j < len(list) && list[j].group != nil && *list[j].group == *s.group {
			j++
		}
		out = append(out, foldGroup(*s.group, list[i:j], byGroup[*s.group]))
		i = j
	}
	return out
}

func foldGroup(name string, parts []Status, members []memberRow) Status {
	g := Status{
		Name: name, Categories: parts[0].Categories, Types: parts[0].Types,
		Checkpoint: parts[0].Checkpoint, Head: parts[0].Head,
		Paused: true, Members: []Member{}, Partitions: make([]PartitionStatus, 0, len(parts)),
	}
	state := StateLive
	byInst := map[string]int{}
	for _, m := range members {
		byInst[m.Instance] = len(g.Members)
		g.Members = append(g.Members, Member{Instance: m.Instance, Host: m.Host, PID: int(m.PID),
			JoinedAt: m.JoinedAt, Live: m.Live, Partitions: []int{}})
	}
	for _, p := range parts {
		k := 0
		if p.partition != nil {
			k = int(*p.partition)
		}
		g.Partitions = append(g.Partitions, PartitionStatus{Partition: k, State: p.State, Holder: p.Holder,
			Checkpoint: p.Checkpoint, Lag: p.Lag, LagEstimated: p.LagEstimated, Rate: p.Rate,
			Processed: p.Processed, Parked: p.Parked})
		if p.Checkpoint.Less(g.Checkpoint) {
			g.Checkpoint = p.Checkpoint
		}
		if p.Lag > g.Lag {
			g.Lag = p.Lag
		}
		g.LagEstimated = g.LagEstimated || p.LagEstimated
		g.Rate += p.Rate
		g.Processed += p.Processed
		g.Parked += p.Parked
		g.Failures += p.Failures
		g.Paused = g.Paused && p.Paused
		g.Stopped = g.Stopped || p.Stopped
		g.ControlPending = g.ControlPending || p.ControlPending
		if p.LastErrorAt.After(g.LastErrorAt) {
			g.LastError, g.LastErrorAt = p.LastError, p.LastErrorAt
		}
		if p.Heartbeat.After(g.Heartbeat) {
			g.Heartbeat = p.Heartbeat
		}
		if stateUrgency[p.State] > stateUrgency[state] {
			state = p.State
		}
		if p.Holder == nil {
			continue
		}
		i, ok := byInst[p.Holder.Instance]
		if !ok { // a holder that is not (or no longer) a member row
			i = len(g.Members)
			byInst[p.Holder.Instance] = i
			g.Members = append(g.Members, Member{Instance: p.Holder.Instance, Host: p.Holder.Host, PID: p.Holder.PID, Partitions: []int{}})
		}
		m := &g.Members[i]
		m.Partitions = append(m.Partitions, k)
		if p.Lag > m.Lag {
			m.Lag = p.Lag
		}
		m.LagEstimated = m.LagEstimated || p.LagEstimated
		m.Rate += p.Rate
	}
	g.State = state
	return g
}
