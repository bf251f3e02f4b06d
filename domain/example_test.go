package domain_test

import (
	"encoding/json"
	"fmt"

	"eventscope/domain"
)

func ExampleDiff() {
	before := json.RawMessage(`{"status":"pending","total":1200,"lines":[{"sku":"MUG-001","qty":1}]}`)
	after := json.RawMessage(`{"status":"approved","total":1200,"lines":[{"sku":"MUG-001","qty":2}],"reason":"ok"}`)
	for _, c := range domain.Diff(before, after) {
		fmt.Println(c.Kind, c.Path, string(c.Before), string(c.After))
	}
	// Output:
	// changed lines[0].qty 1 2
	// added reason  "ok"
	// changed status "pending" "approved"
}

func ExampleMergePatch() {
	state := json.RawMessage(`{"plan":"free","seats":1,"tags":["beta"]}`)
	next, _ := domain.MergePatch(state, json.RawMessage(`{"plan":"pro","tags":null}`))
	fmt.Println(string(next))
	// Output: {"plan":"pro","seats":1}
}

func ExampleCustomer_ReserveCredit() {
	c := domain.NewCustomer("0001")
	c.Apply(domain.CustomerRegistered{Name: "Ada", CreditLimit: 10_000})
	evs, _ := c.ReserveCredit("000042", 12_500)
	fmt.Printf("%s %+v\n", evs[0].EventType(), evs[0])
	// Output: CreditLimitExceeded {OrderID:000042 Amount:12500 Available:10000}
}
