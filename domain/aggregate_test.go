package domain

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// given/when/then: given past events, when a command runs, then it returns
// these events (or breaks this rule).
type scenario[A Aggregate] struct {
	name  string
	given []Event
	when  func(a A) ([]Event, error)
	then  []Event
	err   string // substring of the RuleError, "" for none
}

func run[A Aggregate](t *testing.T, newA func() A, cases []scenario[A]) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a := newA()
			for _, e := range c.given {
				a.Apply(e)
			}
			got, err := c.when(a)
			if c.err != "" {
				if !errors.Is(err, ErrRule) || !contains(err.Error(), c.err) {
					t.Fatalf("error = %v, want a rule error containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(got, c.then) {
				t.Fatalf("events = %#v\nwant     %#v", got, c.then)
			}
		})
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

var twoLines = []OrderLine{{SKU: "A", Qty: 2, Price: 150}, {SKU: "B", Qty: 1, Price: 700}}

func TestOrderCommands(t *testing.T) {
	t.Parallel()
	placed := OrderPlaced{CustomerID: "c1", Lines: twoLines, Total: 1000}
	run(t, func() *Order { return NewOrder("o1") }, []scenario[*Order]{
		{name: "place computes the total", when: func(o *Order) ([]Event, error) { return o.Place("c1", twoLines) }, then: []Event{placed}},
		{name: "place twice", given: []Event{placed}, when: func(o *Order) ([]Event, error) { return o.Place("c1", twoLines) }, err: "already placed"},
		{name: "place without lines", when: func(o *Order) ([]Event, error) { return o.Place("c1", nil) }, err: "at least one line"},
		{name: "place with zero qty", when: func(o *Order) ([]Event, error) {
			return o.Place("c1", []OrderLine{{SKU: "A", Qty: 0, Price: 1}})
		}, err: "qty must be > 0"},
		{name: "place with negative price", when: func(o *Order) ([]Event, error) {
			return o.Place("c1", []OrderLine{{SKU: "A", Qty: 1, Price: -1}})
		}, err: "price must be >= 0"},
		{name: "place overflowing", when: func(o *Order) ([]Event, error) {
			return o.Place("c1", []OrderLine{{SKU: "A", Qty: 1 << 40, Price: 1 << 40}})
		}, err: "overflows"},
		{name: "place without customer", when: func(o *Order) ([]Event, error) { return o.Place("", twoLines) }, err: "customer id"},
		{name: "approve pending", given: []Event{placed}, when: (*Order).Approve, then: []Event{OrderApproved{}}},
		{name: "approve approved is a no-op", given: []Event{placed, OrderApproved{}}, when: (*Order).Approve, then: nil},
		{name: "approve rejected", given: []Event{placed, OrderRejected{Reason: "x"}}, when: (*Order).Approve, err: "cannot approve an order that is rejected"},
		{name: "approve before placing", when: (*Order).Approve, err: "not placed"},
		{name: "reject pending", given: []Event{placed}, when: func(o *Order) ([]Event, error) { return o.Reject("no credit") },
			then: []Event{OrderRejected{Reason: "no credit"}}},
		{name: "reject approved", given: []Event{placed, OrderApproved{}}, when: func(o *Order) ([]Event, error) { return o.Reject("x") }, err: "cannot reject"},
		{name: "cancel pending", given: []Event{placed}, when: func(o *Order) ([]Event, error) { return o.Cancel("changed mind") },
			then: []Event{OrderCancelled{Reason: "changed mind"}}},
		{name: "cancel approved", given: []Event{placed, OrderApproved{}}, when: func(o *Order) ([]Event, error) { return o.Cancel("late") },
			then: []Event{OrderCancelled{Reason: "late"}}},
		{name: "cancel cancelled is a no-op", given: []Event{placed, OrderCancelled{}}, when: func(o *Order) ([]Event, error) { return o.Cancel("again") }},
		{name: "cancel shipped", given: []Event{placed, OrderApproved{}, OrderShipped{}}, when: func(o *Order) ([]Event, error) { return o.Cancel("x") }, err: "cannot cancel an order that is shipped"},
		{name: "ship approved", given: []Event{placed, OrderApproved{}}, when: (*Order).Ship, then: []Event{OrderShipped{}}},
		{name: "ship pending", given: []Event{placed}, when: (*Order).Ship, err: "cannot ship an order that is pending"},
		{name: "ship shipped is a no-op", given: []Event{placed, OrderApproved{}, OrderShipped{}}, when: (*Order).Ship},
	})
}

func TestCustomerCommands(t *testing.T) {
	t.Parallel()
	reg := CustomerRegistered{Name: "Ada", CreditLimit: 10_000}
	run(t, func() *Customer { return NewCustomer("c1") }, []scenario[*Customer]{
		{name: "register", when: func(c *Customer) ([]Event, error) { return c.Register("Ada", 10_000) }, then: []Event{reg}},
		{name: "register twice", given: []Event{reg}, when: func(c *Customer) ([]Event, error) { return c.Register("Ada", 1) }, err: "already registered"},
		{name: "register negative limit", when: func(c *Customer) ([]Event, error) { return c.Register("Ada", -1) }, err: "credit limit must be >= 0"},
		{name: "reserve within the limit", given: []Event{reg}, when: func(c *Customer) ([]Event, error) { return c.ReserveCredit("o1", 6000) },
			then: []Event{CreditReserved{OrderID: "o1", Amount: 6000}}},
		{name: "reserve exactly the rest", given: []Event{reg, CreditReserved{OrderID: "o1", Amount: 6000}},
			when: func(c *Customer) ([]Event, error) { return c.ReserveCredit("o2", 4000) },
			then: []Event{CreditReserved{OrderID: "o2", Amount: 4000}}},
		{name: "reserve over the limit", given: []Event{reg, CreditReserved{OrderID: "o1", Amount: 6000}},
			when: func(c *Customer) ([]Event, error) { return c.ReserveCredit("o2", 4001) },
			then: []Event{CreditLimitExceeded{OrderID: "o2", Amount: 4001, Available: 4000}}},
		{name: "reserve twice for one order is a no-op", given: []Event{reg, CreditReserved{OrderID: "o1", Amount: 6000}},
			when: func(c *Customer) ([]Event, error) { return c.ReserveCredit("o1", 6000) }},
		{name: "released credit is available again", given: []Event{reg, CreditReserved{OrderID: "o1", Amount: 6000}, CreditReleased{OrderID: "o1", Amount: 6000}},
			when: func(c *Customer) ([]Event, error) { return c.ReserveCredit("o2", 10_000) },
			then: []Event{CreditReserved{OrderID: "o2", Amount: 10_000}}},
		{name: "reserve for an unregistered customer", when: func(c *Customer) ([]Event, error) { return c.ReserveCredit("o1", 1) }, err: "not registered"},
		{name: "release an open reservation", given: []Event{reg, CreditReserved{OrderID: "o1", Amount: 6000}},
			when: func(c *Customer) ([]Event, error) { return c.ReleaseCredit("o1") },
			then: []Event{CreditReleased{OrderID: "o1", Amount: 6000}}},
		{name: "release twice is a no-op", given: []Event{reg, CreditReserved{OrderID: "o1", Amount: 6000}, CreditReleased{OrderID: "o1", Amount: 6000}},
			when: func(c *Customer) ([]Event, error) { return c.ReleaseCredit("o1") }},
		{name: "release after a rejection is a no-op", given: []Event{reg, CreditLimitExceeded{OrderID: "o1", Amount: 20_000, Available: 10_000}},
			when: func(c *Customer) ([]Event, error) { return c.ReleaseCredit("o1") }},
	})
}

func TestCustomerFold(t *testing.T) {
	t.Parallel()
	c := NewCustomer("c1")
	for _, e := range []Event{
		CustomerRegistered{Name: "Ada", CreditLimit: 100},
		CreditReserved{OrderID: "a", Amount: 30},
		CreditReserved{OrderID: "b", Amount: 50},
		CreditLimitExceeded{OrderID: "c", Amount: 40, Available: 20},
		CreditReleased{OrderID: "a", Amount: 30},
	} {
		c.Apply(e)
	}
	want := &Customer{ID: "c1", Registered: true, Name: "Ada", CreditLimit: 100, Reserved: 50, Available: 50,
		Reservations: map[string]int64{"b": 50}, OrdersReserved: 2, OrdersExceeded: 1, OrdersReleased: 1}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("state = %+v\nwant    %+v", c, want)
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, e := range []Event{
		CustomerRegistered{Name: "A", CreditLimit: 1}, CreditReserved{OrderID: "o", Amount: 2},
		CreditLimitExceeded{OrderID: "o", Amount: 3, Available: 1}, CreditReleased{OrderID: "o", Amount: 2},
		OrderPlaced{CustomerID: "c", Lines: twoLines, Total: 1000}, OrderApproved{}, OrderRejected{Reason: "r"},
		OrderCancelled{Reason: "r"}, OrderShipped{},
	} {
		rs, err := NewEvents("customer-1", []Recorded{{Event: e}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(rs[0].Type, rs[0].Data)
		if err != nil || !reflect.DeepEqual(got, e) {
			t.Fatalf("%s: decoded %#v, %v; want %#v", e.EventType(), got, err, e)
		}
	}
	if e, err := Decode("SomethingElse", []byte(`{}`)); e != nil || err != nil {
		t.Fatalf("unknown type: %v, %v; want nil, nil", e, err)
	}
	if _, err := Decode(OrderPlacedType, []byte(`{"total":"x"}`)); err == nil {
		t.Fatal("bad data decoded without error")
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	r := DefaultRegistry()
	if got := r.Categories(); !reflect.DeepEqual(got, []string{"customer", "order"}) {
		t.Fatalf("categories = %v", got)
	}
	if typ, ok := r.ForStream("order-42"); !ok || typ.Name != "Order" {
		t.Fatalf("order-42 -> %v %v", typ.Name, ok)
	}
	if _, ok := r.ForStream("invoice-1"); ok {
		t.Fatal("invoice is not registered")
	}
	if err := r.Register(OrderType); err == nil {
		t.Fatal("registering a category twice must fail")
	}
	if err := r.Register(AggregateType{Name: "X", Category: "a-b", New: OrderType.New}); err == nil {
		t.Fatal("a category with '-' must be refused")
	}
	if EntityID("order-42-b") != "42-b" || EntityID("nodash") != "" {
		t.Fatal("EntityID")
	}
}

func TestDerivedID(t *testing.T) {
	t.Parallel()
	a := NameID("x")
	if DerivedID(a, "p") != DerivedID(a, "p") {
		t.Fatal("not deterministic")
	}
	if DerivedID(a, "p") == DerivedID(a, "q") || DerivedID(a, "p") == DerivedID(NameID("y"), "p") {
		t.Fatal("collisions")
	}
}

func TestNotificationsFateIsDeterministic(t *testing.T) {
	t.Parallel()
	n := NewNotifications(NotificationsOptions{})
	counts := map[string]int{}
	for i := range 100_000 {
		counts[n.Fate(NameID(string(rune(i))+"/"+itoa(i)))]++
	}
	// 2% transient and 0.1% permanent, within sampling noise
	if c := counts["transient"]; c < 1700 || c > 2300 {
		t.Errorf("transient = %d of 100000, want about 2000", c)
	}
	if c := counts["permanent"]; c < 50 || c > 150 {
		t.Errorf("permanent = %d of 100000, want about 100", c)
	}
	off := NewNotifications(NotificationsOptions{TransientRate: -1, PermanentRate: -1})
	if off.Fate(NameID("x")) != "ok" {
		t.Error("negative rates must turn failures off")
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}

func TestMetaJSONMatchesMarshal(t *testing.T) {
	t.Parallel()
	for _, m := range []Meta{{}, {CorrelationID: "a"}, {CausationID: "b", Source: "seed"},
		{CorrelationID: "x\"y<z>&", CausationID: "é\n", Source: "\\"}, {CorrelationID: NameID("q").String(), CausationID: "c", Source: "s"}} {
		want, _ := json.Marshal(m)
		if got := m.JSON(); string(got) != string(want) {
			t.Errorf("Meta.JSON = %s, json.Marshal = %s", got, want)
		}
	}
}
