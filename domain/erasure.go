package domain

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"eventscope/store"
)

// SnapshotPersonal is the personal-data marking of a snapshot of typ's
// state: the PersonalState keys the state holds, as personal data of the
// stream. Nil when the type declares none or the state holds none.
func SnapshotPersonal(typ AggregateType, stream string, state json.RawMessage) json.RawMessage {
	if len(typ.PersonalState) == 0 {
		return nil
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(state, &top) != nil {
		return nil
	}
	var fields []string
	for _, k := range typ.PersonalState {
		if _, ok := top[k]; ok {
			fields = append(fields, k)
		}
	}
	if len(fields) == 0 {
		return nil
	}
	b, err := json.Marshal(store.PersonalFields(stream, fields...))
	if err != nil {
		return nil
	}
	return b
}

// Forgotten is what Forget did.
type Forgotten struct {
	store.ForgetResult
	// SnapshotsRebuilt counts the streams whose snapshots were dropped and
	// folded again (from the erased events).
	SnapshotsRebuilt int `json:"snapshots_rebuilt"`
}

// Forget erases subject's personal data (store.Forget: the key goes, the
// values read as null everywhere, an audit event is recorded), then drops
// the snapshots that held them and rebuilds them by folding the streams
// again through tt (which writes its snapshots as it folds).
func Forget(ctx context.Context, tt *TimeTravel, subject string) (Forgotten, error) {
	res, err := tt.st.Forget(ctx, subject)
	out := Forgotten{ForgetResult: res}
	if err != nil {
		return out, err
	}
	dropped, err := dropSnapshots(ctx, tt.st.Pool(), subject, res.Streams)
	if err != nil {
		return out, err
	}
	streams := make([]string, 0, len(dropped))
	for s := range dropped {
		streams = append(streams, s)
	}
	sort.Strings(streams)
	for _, s := range streams {
		if _, ok := tt.reg.ForStream(s); !ok {
			continue
		}
		if _, err := tt.StateAt(ctx, s, dropped[s]); err != nil {
			return out, fmt.Errorf("forget %s: rebuild the snapshots of %s: %w", subject, s, err)
		}
		out.SnapshotsRebuilt++
	}
	return out, nil
}
