package domain

import (
	"fmt"
	"math"
)

// OrderStatus is where an order is in its life.
type OrderStatus string

// Order statuses. An order is placed pending, then approved or rejected by
// the credit check; an approved order is shipped or cancelled (a pending one
// may be cancelled too).
const (
	StatusNew       OrderStatus = ""
	StatusPending   OrderStatus = "pending"
	StatusApproved  OrderStatus = "approved"
	StatusRejected  OrderStatus = "rejected"
	StatusCancelled OrderStatus = "cancelled"
	StatusShipped   OrderStatus = "shipped"
)

// OrderType registers Order for the "order" category.
var OrderType = AggregateType{
	Name: "Order", Category: OrderCategory, SchemaVersion: 1,
	New: func(id string) Aggregate { return NewOrder(id) },
}

// Order is the order aggregate's state.
type Order struct {
	ID         string      `json:"id"`
	CustomerID string      `json:"customerId,omitempty"`
	Lines      []OrderLine `json:"lines,omitempty"`
	Total      int64       `json:"total"`
	Status     OrderStatus `json:"status"`
	// Reason is why the order was rejected or cancelled.
	Reason string `json:"reason,omitempty"`
	// WasApproved stays true once the credit check passed, even after a
	// cancellation.
	WasApproved bool `json:"wasApproved,omitempty"`
}

// NewOrder is the state of an order not placed yet.
func NewOrder(id string) *Order { return &Order{ID: id} }

func (o *Order) entity() string { return "order " + o.ID }

// Apply folds one event into the order.
func (o *Order) Apply(e Event) {
	switch e := e.(type) {
	case OrderPlaced:
		o.CustomerID, o.Lines, o.Total, o.Status = e.CustomerID, e.Lines, e.Total, StatusPending
	case OrderApproved:
		o.Status, o.WasApproved = StatusApproved, true
	case OrderRejected:
		o.Status, o.Reason = StatusRejected, e.Reason
	case OrderCancelled:
		o.Status, o.Reason = StatusCancelled, e.Reason
	case OrderShipped:
		o.Status = StatusShipped
	}
}

// LinesTotal is the sum of qty × price, or an error on a bad line or overflow.
func LinesTotal(lines []OrderLine) (int64, error) {
	var total int64
	for i, l := range lines {
		switch {
		case l.SKU == "":
			return 0, fmt.Errorf("line %d: sku must not be empty", i)
		case l.Qty <= 0:
			return 0, fmt.Errorf("line %d: qty must be > 0, got %d", i, l.Qty)
		case l.Price < 0:
			return 0, fmt.Errorf("line %d: price must be >= 0 cents, got %d", i, l.Price)
		case l.Price > 0 && l.Qty > math.MaxInt64/l.Price:
			return 0, fmt.Errorf("line %d: qty × price overflows", i)
		}
		if total > math.MaxInt64-l.Qty*l.Price {
			return 0, fmt.Errorf("order total overflows")
		}
		total += l.Qty * l.Price
	}
	return total, nil
}

// Place opens the order for a customer.
func (o *Order) Place(customerID string, lines []OrderLine) ([]Event, error) {
	if o.Status != StatusNew {
		return nil, ruleErr(o.entity(), "already placed (status %s)", o.Status)
	}
	if customerID == "" {
		return nil, ruleErr(o.entity(), "customer id must not be empty")
	}
	if len(lines) == 0 {
		return nil, ruleErr(o.entity(), "an order needs at least one line")
	}
	total, err := LinesTotal(lines)
	if err != nil {
		return nil, ruleErr(o.entity(), "%v", err)
	}
	return []Event{OrderPlaced{CustomerID: customerID, Lines: append([]OrderLine(nil), lines...), Total: total}}, nil
}

// Approve records that credit was reserved. Approving an approved order is a
// no-op (no events).
func (o *Order) Approve() ([]Event, error) {
	switch o.Status {
	case StatusPending:
		return []Event{OrderApproved{}}, nil
	case StatusApproved:
		return nil, nil
	}
	return nil, ruleErr(o.entity(), "cannot approve an order that is %s", o.statusName())
}

// Reject records that the credit check failed. Rejecting a rejected order is
// a no-op.
func (o *Order) Reject(reason string) ([]Event, error) {
	switch o.Status {
	case StatusPending:
		return []Event{OrderRejected{Reason: reason}}, nil
	case StatusRejected:
		return nil, nil
	}
	return nil, ruleErr(o.entity(), "cannot reject an order that is %s", o.statusName())
}

// Cancel cancels a pending or approved order. Cancelling a cancelled order is
// a no-op.
func (o *Order) Cancel(reason string) ([]Event, error) {
	switch o.Status {
	case StatusPending, StatusApproved:
		return []Event{OrderCancelled{Reason: reason}}, nil
	case StatusCancelled:
		return nil, nil
	}
	return nil, ruleErr(o.entity(), "cannot cancel an order that is %s", o.statusName())
}

// Ship ships an approved order. Shipping a shipped order is a no-op.
func (o *Order) Ship() ([]Event, error) {
	switch o.Status {
	case StatusApproved:
		return []Event{OrderShipped{}}, nil
	case StatusShipped:
		return nil, nil
	}
	return nil, ruleErr(o.entity(), "cannot ship an order that is %s", o.statusName())
}

func (o *Order) statusName() string {
	if o.Status == StatusNew {
		return "not placed"
	}
	return string(o.Status)
}
