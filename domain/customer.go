package domain

// CustomerType registers Customer for the "customer" category.
var CustomerType = AggregateType{
	Name: "Customer", Category: CustomerCategory, SchemaVersion: 1,
	New: func(id string) Aggregate { return NewCustomer(id) },
	// the name comes from CustomerRegistered, personal data of the stream
	PersonalState: []string{"name"},
}

// Customer is the customer aggregate's state. Credit is held for an order
// from its reservation until the order is cancelled or shipped (and invoiced),
// so Reservations holds only the open ones and stays small however long the
// stream grows.
type Customer struct {
	ID          string `json:"id"`
	Registered  bool   `json:"registered"`
	Name        string `json:"name,omitempty"`
	CreditLimit int64  `json:"creditLimit"`
	// Reserved is the sum of open reservations; never above CreditLimit.
	Reserved  int64 `json:"reserved"`
	Available int64 `json:"available"`
	// Reservations are the open reservations by order id, in cents.
	Reservations map[string]int64 `json:"reservations,omitempty"`
	// Counters over the customer's whole history.
	OrdersReserved int64 `json:"ordersReserved"`
	OrdersExceeded int64 `json:"ordersExceeded"`
	OrdersReleased int64 `json:"ordersReleased"`
}

// NewCustomer is the state of a customer not registered yet.
func NewCustomer(id string) *Customer { return &Customer{ID: id} }

func (c *Customer) entity() string { return "customer " + c.ID }

// Apply folds one event into the customer.
func (c *Customer) Apply(e Event) {
	switch e := e.(type) {
	case CustomerRegistered:
		c.Registered, c.Name, c.CreditLimit = true, e.Name, e.CreditLimit
	case CreditReserved:
		if c.Reservations == nil {
			c.Reservations = map[string]int64{}
		}
		c.Reservations[e.OrderID] = e.Amount
		c.Reserved += e.Amount
		c.OrdersReserved++
	case CreditLimitExceeded:
		c.OrdersExceeded++
	case CreditReleased:
		delete(c.Reservations, e.OrderID)
		if len(c.Reservations) == 0 {
			c.Reservations = nil
		}
		c.Reserved -= e.Amount
		c.OrdersReleased++
	}
	c.Available = c.CreditLimit - c.Reserved
}

// Register opens the customer's account.
func (c *Customer) Register(name string, creditLimit int64) ([]Event, error) {
	switch {
	case c.Registered:
		return nil, ruleErr(c.entity(), "already registered")
	case name == "":
		return nil, ruleErr(c.entity(), "name must not be empty")
	case creditLimit < 0:
		return nil, ruleErr(c.entity(), "credit limit must be >= 0 cents, got %d", creditLimit)
	}
	return []Event{CustomerRegistered{Name: name, CreditLimit: creditLimit}}, nil
}

// ReserveCredit reserves amount for an order if it fits the available
// credit, and records CreditLimitExceeded otherwise. An order that already
// holds a reservation gets no second one (no events).
func (c *Customer) ReserveCredit(orderID string, amount int64) ([]Event, error) {
	switch {
	case !c.Registered:
		return nil, ruleErr(c.entity(), "is not registered")
	case orderID == "":
		return nil, ruleErr(c.entity(), "order id must not be empty")
	case amount < 0:
		return nil, ruleErr(c.entity(), "amount must be >= 0 cents, got %d", amount)
	}
	if _, ok := c.Reservations[orderID]; ok {
		return nil, nil
	}
	if amount > c.Available {
		return []Event{CreditLimitExceeded{OrderID: orderID, Amount: amount, Available: c.Available}}, nil
	}
	return []Event{CreditReserved{OrderID: orderID, Amount: amount}}, nil
}

// ReleaseCredit gives an order's open reservation back; without one it is a
// no-op (the order was rejected, or released already).
func (c *Customer) ReleaseCredit(orderID string) ([]Event, error) {
	amount, ok := c.Reservations[orderID]
	if !ok {
		return nil, nil
	}
	return []Event{CreditReleased{OrderID: orderID, Amount: amount}}, nil
}
