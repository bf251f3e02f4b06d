package subscriptions

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// DeliveryState is where an event stands for one subscription.
type DeliveryState string

// The delivery states.
const (
	// DeliveryHandled: the event is at or before the subscription's
	// checkpoint and not parked: its handler succeeded (or a reset moved
	// the subscription past it).
	DeliveryHandled DeliveryState = "handled"
	// DeliveryPending: the event is after the checkpoint.
	DeliveryPending DeliveryState = "pending"
	// DeliveryRetrying: the holder is retrying it now.
	DeliveryRetrying DeliveryState = "retrying"
	// DeliveryParked: every attempt failed; it waits for a retry or a skip.
	DeliveryParked DeliveryState = "parked"
)

// Delivery is one subscription's view of one event.
type Delivery struct {
	Subscription string        `json:"subscription"`
	State        DeliveryState `json:"state"`
	// SubState is the subscription's state (paused, live, …): why a
	// pending event waits.
	SubState State `json:"subscription_state"`
	// Attempts and LastError: a parked event's (or, retrying, the failed
	// attempts so far and the subscription's last error).
	Attempts       int       `json:"attempts,omitempty"`
	Of             int       `json:"of,omitempty"`
	LastError      string    `json:"last_error,omitempty"`
	ParkedAt       time.Time `json:"parked_at,omitzero"`
	RetryRequested bool      `json:"retry_requested,omitempty"`
}

// Deliveries says, for every subscription whose filter takes e, whether it
// handled e, has it pending, is retrying it, or parked it (with the
// error): two queries (the subscriptions' status, and e's parked rows by
// primary key), whatever the number of parked events.
func (a *Admin) Deliveries(ctx context.Context, e store.Event) ([]Delivery, error) {
	list, err := a.List(ctx)
	if err != nil {
		return nil, err
	}
	cat := store.Category(e.StreamID)
	var subs []Status
	var names []string
	for _, s := range list {
		if (len(s.Categories) == 0 || slices.Contains(s.Categories, cat)) && (len(s.Types) == 0 || slices.Contains(s.Types, e.Type)) {
			subs = append(subs, s)
			names = append(names, s.Name)
		}
	}
	out := []Delivery{}
	if len(subs) == 0 {
		return out, nil
	}
	rows, err := a.db.Query(ctx, parkedOfEventSQL, names, e.EventID)
	if err != nil {
		return nil, fmt.Errorf("deliveries of %s: %w", e.EventID, err)
	}
	type row struct {
		Sub            string
		Attempts       int
		LastError      string
		ParkedAt       time.Time
		RetryRequested bool
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		return nil, fmt.Errorf("deliveries of %s: %w", e.EventID, err)
	}
	parked := make(map[string]row, len(got))
	for _, g := range got {
		parked[g.Sub] = g
	}
	for _, s := range subs {
		d := Delivery{Subscription: s.Name, SubState: s.State}
		switch p, ok := parked[s.Name]; {
		case ok:
			d.State, d.Attempts, d.LastError, d.ParkedAt, d.RetryRequested = DeliveryParked, p.Attempts, p.LastError, p.ParkedAt, p.RetryRequested
		case s.Retry != nil && s.Retry.EventID == e.EventID:
			d.State, d.Attempts, d.Of, d.LastError = DeliveryRetrying, s.Retry.Attempt, s.Retry.Attempts, s.LastError
		case e.Checkpoint.Compare(s.Checkpoint) <= 0:
			d.State = DeliveryHandled
		default:
			d.State = DeliveryPending
		}
		out = append(out, d)
	}
	return out, nil
}
