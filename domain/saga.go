package domain

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// Names of the domain's subscriptions.
const (
	CustomerServiceName = "customer-service"
	OrderServiceName    = "order-service"
	OrderSummaryName    = "order-summary"
	NotificationsName   = "notifications"
)

// Types each handler subscribes to.
var (
	CustomerServiceTypes = []string{OrderPlacedType, OrderCancelledType, OrderShippedType}
	OrderServiceTypes    = []string{CreditReservedType, CreditLimitExceededType}
	OrderSummaryTypes    = []string{OrderPlacedType, OrderApprovedType, OrderRejectedType, OrderCancelledType, OrderShippedType}
	NotificationsTypes   = []string{OrderApprovedType, OrderRejectedType, OrderCancelledType, OrderShippedType}
)

// Saga holds the credit-reservation saga's handlers. Every handler is
// idempotent: the events it appends have ids derived from the event that
// caused them (DerivedID), so processing an event twice appends nothing the
// second time: either the command sees the effect in the state and decides
// nothing, or the store recognises the event id and the append is a no-op.
type Saga struct {
	Repo *Repository
}

// NewSaga returns the saga's handlers over repo.
func NewSaga(repo *Repository) *Saga { return &Saga{Repo: repo} }

// CustomerService reserves credit for placed orders (CreditReserved or
// CreditLimitExceeded on the customer's stream) and releases it when an
// order is cancelled or shipped. Appends use the expected version and retry
// on conflict, so concurrent reservations never over-reserve.
func (s *Saga) CustomerService(ctx context.Context, e store.Event) error {
	if done, err := s.handled(ctx, e, CustomerServiceName); done || err != nil {
		return err
	}
	orderID := EntityID(e.StreamID)
	meta := CausedBy(e, CustomerServiceName)
	id := func(int, Event) uuid.UUID { return DerivedID(e.EventID, CustomerServiceName) }
	var (
		customerID string
		decide     func(c *Customer) ([]Event, error)
	)
	switch e.Type {
	case OrderPlacedType:
		var p OrderPlaced
		if err := json.Unmarshal(e.Data, &p); err != nil {
			return fmt.Errorf("%s: decode OrderPlaced: %w", e.StreamID, err)
		}
		customerID = p.CustomerID
		decide = func(c *Customer) ([]Event, error) { return c.ReserveCredit(orderID, p.Total) }
	case OrderCancelledType, OrderShippedType:
		o, _, err := s.Repo.LoadOrder(ctx, orderID)
		if err != nil {
			return err
		}
		if o.CustomerID == "" {
			return nil // never placed: nothing was reserved
		}
		customerID = o.CustomerID
		decide = func(c *Customer) ([]Event, error) { return c.ReleaseCredit(orderID) }
	default:
		return nil
	}
	stream := CustomerStream(customerID)
	_, _, err := s.Repo.Update(ctx, CustomerType, stream, func(a Aggregate, _ int64) ([]Recorded, error) {
		c := a.(*Customer)
		if !c.Registered {
			return nil, errUnknownCustomer
		}
		evs, err := decide(c)
		return Record(evs, meta, id), err
	})
	switch {
	case errors.Is(err, errUnknownCustomer) && e.Type == OrderPlacedType:
		// No such customer: nobody can reserve credit, so reject the order.
		reason := fmt.Sprintf("unknown customer %s", customerID)
		_, _, err = s.Repo.Update(ctx, OrderType, e.StreamID, func(a Aggregate, _ int64) ([]Recorded, error) {
			evs, err := a.(*Order).Reject(reason)
			if errors.Is(err, ErrRule) {
				return nil, nil
			}
			return Record(evs, meta, id), err
		})
		return ignoreDuplicate(err)
	case errors.Is(err, errUnknownCustomer):
		return nil
	}
	return ignoreDuplicate(err)
}

var errUnknownCustomer = errors.New("unknown customer")

// handled reports whether handler already appended its effect of e: the
// event with the derived id exists. One index lookup, so a subscription
// that starts at the beginning goes over seeded history (which holds the
// saga's events with the same derived ids) quickly. It is only a shortcut:
// without it the append itself would be a no-op.
func (s *Saga) handled(ctx context.Context, e store.Event, handler string) (bool, error) {
	done, err := s.Repo.Store().EventExists(ctx, DerivedID(e.EventID, handler))
	if err != nil {
		return false, fmt.Errorf("%s: check %s of %s: %w", handler, e.Type, e.StreamID, err)
	}
	return done, nil
}

// ignoreDuplicate: the derived event id is stored already with other content
// (the decision was taken earlier, on an older state): processed already.
func ignoreDuplicate(err error) error {
	if errors.Is(err, store.ErrDuplicateEvent) {
		return nil
	}
	return err
}

// OrderService approves or rejects orders on the customer's decision.
func (s *Saga) OrderService(ctx context.Context, e store.Event) error {
	var d struct {
		OrderID   string `json:"orderId"`
		Amount    int64  `json:"amount"`
		Available int64  `json:"available"`
	}
	if e.Type != CreditReservedType && e.Type != CreditLimitExceededType {
		return nil
	}
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return fmt.Errorf("%s: decode %s: %w", e.StreamID, e.Type, err)
	}
	if done, err := s.handled(ctx, e, OrderServiceName); done || err != nil {
		return err
	}
	meta := CausedBy(e, OrderServiceName)
	id := func(int, Event) uuid.UUID { return DerivedID(e.EventID, OrderServiceName) }
	_, _, err := s.Repo.Update(ctx, OrderType, OrderStream(d.OrderID), func(a Aggregate, v int64) ([]Recorded, error) {
		o := a.(*Order)
		if v < 0 {
			return nil, nil // no such order
		}
		var evs []Event
		var err error
		if e.Type == CreditReservedType {
			evs, err = o.Approve()
		} else {
			evs, err = o.Reject(RejectReason(d.Amount, d.Available))
		}
		if errors.Is(err, ErrRule) {
			// cancelled (the CustomerService releases the credit) or already
			// decided the other way: nothing to do
			return nil, nil
		}
		return Record(evs, meta, id), err
	})
	return ignoreDuplicate(err)
}

// RejectReason is the reason of an order rejected for credit.
func RejectReason(amount, available int64) string {
	return fmt.Sprintf("credit limit exceeded: order total %s, available %s", Cents(amount), Cents(available))
}

// Cents formats an amount of cents as "1234.56".
func Cents(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}

// OrderSummary keeps the order-summary read model (eventscope.order_summary
// and, through it, the eventscope.customer_totals view) in the subscription's checkpoint
// transaction: exactly once. It is also idempotent on its own: a row
// remembers the order version it has applied.
func OrderSummary(ctx context.Context, tx pgx.Tx, e store.Event) error {
	orderID := EntityID(e.StreamID)
	var status OrderStatus
	reason := ""
	switch e.Type {
	case OrderPlacedType:
		var p OrderPlaced
		if err := json.Unmarshal(e.Data, &p); err != nil {
			return fmt.Errorf("%s: decode OrderPlaced: %w", e.StreamID, err)
		}
		_, err := tx.Exec(ctx, orderPlacedSQL,
			orderID, p.CustomerID, p.Total, len(p.Lines), e.Version, e.RecordedAt)
		if err != nil {
			return fmt.Errorf("order-summary %s: %w", e.StreamID, err)
		}
		return nil
	case OrderApprovedType:
		status = StatusApproved
	case OrderRejectedType, OrderCancelledType:
		var r struct {
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal(e.Data, &r)
		reason = r.Reason
		status = StatusRejected
		if e.Type == OrderCancelledType {
			status = StatusCancelled
		}
	case OrderShippedType:
		status = StatusShipped
	default:
		return nil
	}
	_, err := tx.Exec(ctx, orderStatusSQL,
		orderID, e.Version, string(status), reason, e.RecordedAt)
	if err != nil {
		return fmt.Errorf("order-summary %s: %w", e.StreamID, err)
	}
	return nil
}

// NotificationsOptions configure the deliberately unreliable notifications
// subscriber.
type NotificationsOptions struct {
	// TransientRate is the share of events whose first delivery attempt in
	// this process fails (retried, then succeeds). Default 0.02; negative: none.
	TransientRate float64
	// PermanentRate is the share of events that always fail (they end up
	// parked). Default 0.001; negative: none.
	PermanentRate float64
}

// Notifications "sends" a notification for each order outcome. Which events
// fail is decided by a hash of the event id, so a run is repeatable.
type Notifications struct {
	transient, permanent float64
	mu                   sync.Mutex
	failedOnce           map[uuid.UUID]struct{}
	sent                 atomic.Int64
}

// NewNotifications returns the notifications handler.
func NewNotifications(o NotificationsOptions) *Notifications {
	if o.TransientRate == 0 {
		o.TransientRate = 0.02
	}
	if o.PermanentRate == 0 {
		o.PermanentRate = 0.001
	}
	return &Notifications{transient: max(o.TransientRate, 0), permanent: max(o.PermanentRate, 0), failedOnce: map[uuid.UUID]struct{}{}}
}

// Fate is what the notifications handler does with an event: "ok",
// "transient" (fails its first attempt) or "permanent" (always fails).
func (n *Notifications) Fate(id uuid.UUID) string {
	h := fnv.New64a()
	_, _ = h.Write(id[:])
	u := float64(binary.BigEndian.Uint64(h.Sum(nil))>>11) / (1 << 53)
	switch {
	case u < n.permanent:
		return "permanent"
	case u < n.permanent+n.transient:
		return "transient"
	}
	return "ok"
}

// Sent counts notifications delivered.
func (n *Notifications) Sent() int64 { return n.sent.Load() }

// Handle delivers one notification.
func (n *Notifications) Handle(_ context.Context, e store.Event) error {
	switch n.Fate(e.EventID) {
	case "permanent":
		return fmt.Errorf("notify %s about %s: mailbox rejected the message (permanent)", EntityID(e.StreamID), e.Type)
	case "transient":
		n.mu.Lock()
		_, failed := n.failedOnce[e.EventID]
		if !failed {
			if len(n.failedOnce) > 100_000 {
				clear(n.failedOnce)
			}
			n.failedOnce[e.EventID] = struct{}{}
		}
		n.mu.Unlock()
		if !failed {
			return fmt.Errorf("notify %s about %s: mail server timed out (transient)", EntityID(e.StreamID), e.Type)
		}
	}
	n.sent.Add(1)
	return nil
}
