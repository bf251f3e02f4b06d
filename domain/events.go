// Package domain is eventscope's demo domain, the e-commerce scenario of the
// event-sourcing pattern: Orders and Customers persisted as event streams, a
// credit-reservation saga between them, a read model, and the aggregate
// registry and time-travel engine the console is built around.
//
// Aggregates are plain Go types with a pure fold (Apply) and command methods
// that check invariants and return the events to append. Event type names are
// stable strings, independent of Go type names. Amounts are integer cents.
//
// # Snapshots
//
// Registered aggregates get a snapshot (eventscope.snapshots) after every
// N-th event of their stream (N = 100 by default), so reaching any version
// reads one snapshot at or below it and at most N-1 events. Three writers
// keep "any version of any long stream is fast" true:
//
//   - the seeder writes them while it bulk-loads (it holds each aggregate's
//     state in memory anyway, so they cost no reads), in the same
//     transactions as the events;
//   - Repository.Save writes one whenever an append by the domain's
//     commands or the saga ends on or crosses a multiple of N (it has the
//     state in hand), so live streams stay covered;
//   - TimeTravel.StateAt writes the ones it passes when it has to fold
//     across boundaries without a snapshot (streams appended by other
//     tools, or right after an aggregate's schema version changed): the
//     first visit pays, later ones are fast.
//
// A snapshot is keyed by the aggregate's SchemaVersion and only read while
// it matches: bumping the version when a fold changes retires old snapshots.
// Snapshots are a cache: deleting them all changes no result.
package domain

import (
	"encoding/json"
	"fmt"
)

// Categories of the domain's streams: "order-<id>", "customer-<id>".
const (
	OrderCategory    = "order"
	CustomerCategory = "customer"
)

// Stable event type names. Never rename: they are stored.
const (
	CustomerRegisteredType  = "CustomerRegistered"
	CreditReservedType      = "CreditReserved"
	CreditLimitExceededType = "CreditLimitExceeded"
	CreditReleasedType      = "CreditReleased"

	OrderPlacedType    = "OrderPlaced"
	OrderApprovedType  = "OrderApproved"
	OrderRejectedType  = "OrderRejected"
	OrderCancelledType = "OrderCancelled"
	OrderShippedType   = "OrderShipped"
)

// OrderStream is the stream id of order id.
func OrderStream(id string) string { return OrderCategory + "-" + id }

// CustomerStream is the stream id of customer id.
func CustomerStream(id string) string { return CustomerCategory + "-" + id }

// Event is a domain event's data: it knows its stable type name.
type Event interface{ EventType() string }

// CustomerRegistered opens a customer's account with a credit limit.
type CustomerRegistered struct {
	Name        string `json:"name"`
	CreditLimit int64  `json:"creditLimit"`
}

// PersonalFields: the name is the customer's personal data (the subject
// is the customer's stream id; `eventscope forget customer-7` erases it).
func (CustomerRegistered) PersonalFields() []string { return []string{"name"} }

// PersonalEvent is an event whose data holds personal data: those fields
// are appended marked personal, with the stream id as the subject, so the
// store keeps them encrypted and Forget erases them.
type PersonalEvent interface {
	Event
	PersonalFields() []string
}

// CreditReserved holds amount of the customer's credit for an order.
type CreditReserved struct {
	OrderID string `json:"orderId"`
	Amount  int64  `json:"amount"`
}

// CreditLimitExceeded records that an order did not fit the available credit.
type CreditLimitExceeded struct {
	OrderID   string `json:"orderId"`
	Amount    int64  `json:"amount"`
	Available int64  `json:"available"`
}

// CreditReleased gives an order's reservation back (the order was cancelled,
// or shipped and invoiced).
type CreditReleased struct {
	OrderID string `json:"orderId"`
	Amount  int64  `json:"amount"`
}

// OrderLine is one line of an order. Price is the unit price in cents.
type OrderLine struct {
	SKU   string `json:"sku"`
	Qty   int64  `json:"qty"`
	Price int64  `json:"price"`
}

// OrderPlaced opens an order, pending the credit check.
type OrderPlaced struct {
	CustomerID string      `json:"customerId"`
	Lines      []OrderLine `json:"lines"`
	Total      int64       `json:"total"`
}

// OrderApproved: the customer's credit was reserved.
type OrderApproved struct{}

// OrderRejected: the credit check failed.
type OrderRejected struct {
	Reason string `json:"reason"`
}

// OrderCancelled: the customer cancelled a pending or approved order.
type OrderCancelled struct {
	Reason string `json:"reason"`
}

// OrderShipped: an approved order left the warehouse.
type OrderShipped struct{}

func (CustomerRegistered) EventType() string  { return CustomerRegisteredType }
func (CreditReserved) EventType() string      { return CreditReservedType }
func (CreditLimitExceeded) EventType() string { return CreditLimitExceededType }
func (CreditReleased) EventType() string      { return CreditReleasedType }
func (OrderPlaced) EventType() string         { return OrderPlacedType }
func (OrderApproved) EventType() string       { return OrderApprovedType }
func (OrderRejected) EventType() string       { return OrderRejectedType }
func (OrderCancelled) EventType() string      { return OrderCancelledType }
func (OrderShipped) EventType() string        { return OrderShippedType }

// decoders maps each stable type name to a decoder of its data.
var decoders = map[string]func([]byte) (Event, error){
	CustomerRegisteredType:  decodeAs[CustomerRegistered],
	CreditReservedType:      decodeAs[CreditReserved],
	CreditLimitExceededType: decodeAs[CreditLimitExceeded],
	CreditReleasedType:      decodeAs[CreditReleased],
	OrderPlacedType:         decodeAs[OrderPlaced],
	OrderApprovedType:       decodeAs[OrderApproved],
	OrderRejectedType:       decodeAs[OrderRejected],
	OrderCancelledType:      decodeAs[OrderCancelled],
	OrderShippedType:        decodeAs[OrderShipped],
}

func decodeAs[T Event](b []byte) (Event, error) {
	var v T
	if len(b) > 0 {
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// Decode turns a stored event's type and data into its domain event. An
// unknown type yields (nil, nil): folds skip events they do not know, so old
// code can read streams that newer code wrote.
func Decode(typ string, data []byte) (Event, error) {
	d, ok := decoders[typ]
	if !ok {
		return nil, nil
	}
	e, err := d(data)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", typ, err)
	}
	return e, nil
}

// Types lists the domain's event type names.
func Types() []string {
	return []string{
		CustomerRegisteredType, CreditReservedType, CreditLimitExceededType, CreditReleasedType,
		OrderPlacedType, OrderApprovedType, OrderRejectedType, OrderCancelledType, OrderShippedType,
	}
}
