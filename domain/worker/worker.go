// Package worker runs the demo domain's subscriptions: the credit saga
// (customer-service, order-service), the order-summary read model and the
// deliberately unreliable notifications subscriber.
//
// Where new subscriptions start: the saga and the read model start at the
// beginning of the log, so a worker started at any time processes every
// order. Seeded history already holds the saga's events, with the ids the
// handlers derive from their causing events, so the saga goes over it
// quickly (one index lookup per event says "handled already") and appends
// nothing; the read model builds itself from it. Notifications start at the
// end: nobody wants mail about last month's orders. Options.SagaFromEnd
// starts the saga at the end instead (eventscope demo does that right after
// it seeded a fresh database, whose history is complete).
package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"eventscope/domain"
	"eventscope/store"
	"eventscope/subscriptions"
)

// Options configure the worker. The zero value is usable.
type Options struct {
	// SnapshotEvery is the snapshot interval of the saga's repository.
	// Default domain.DefaultSnapshotEvery (100).
	SnapshotEvery int
	// Notifications sets the failure rates of the notifications subscriber.
	// Defaults 2% transient, 0.1% permanent.
	Notifications domain.NotificationsOptions
	// SagaFromEnd starts NEW saga subscriptions at the head of the log
	// instead of the beginning. Default false.
	SagaFromEnd bool
	// Retry is the notifications subscriber's retry policy. Default: the
	// subscriptions default (5 attempts from 100ms).
	Retry subscriptions.RetryPolicy
	// Runner configures the subscriptions runner (poll interval, logging,
	// Prometheus registerer).
	Runner subscriptions.RunnerOptions
	// Partitions, when > 0, runs every subscription of the domain as a
	// group of competing consumers of this many partitions
	// (subscriptions.Subscription.Partitions): every worker started with
	// the same count is a member, and the streams are shared among them.
	// A database whose subscriptions were created without partitions keeps
	// them: delete them first ("subs delete"). Default 0: one holder each.
	Partitions int
	// Members is the number of members this worker runs (Runners, each
	// with its own lease connection), with Partitions > 0. Default 1.
	Members int
}

// Worker is the domain's subscriptions in one runner (or, with
// Options.Members, one per member).
type Worker struct {
	Runner  *subscriptions.Runner   // the first of Runners
	Runners []*subscriptions.Runner // every member's runner

	Notifications *domain.Notifications
	Saga          *domain.Saga
	st            *store.Store
}

// Subscriptions returns the domain's subscriptions.
func Subscriptions(saga *domain.Saga, notes *domain.Notifications, o Options) []subscriptions.Subscription {
	return []subscriptions.Subscription{
		{
			Name: domain.CustomerServiceName, Categories: []string{domain.OrderCategory}, Types: domain.CustomerServiceTypes,
			StartAtEnd: o.SagaFromEnd, Handler: saga.CustomerService,
		},
		{
			Name: domain.OrderServiceName, Categories: []string{domain.CustomerCategory}, Types: domain.OrderServiceTypes,
			StartAtEnd: o.SagaFromEnd, Handler: saga.OrderService,
		},
		{
			Name: domain.OrderSummaryName, Categories: []string{domain.OrderCategory}, Types: domain.OrderSummaryTypes,
			BatchSize: 500, TxHandler: domain.OrderSummary,
		},
		{
			Name: domain.NotificationsName, Categories: []string{domain.OrderCategory}, Types: domain.NotificationsTypes,
			StartAtEnd: true, Retry: o.Retry, Handler: notes.Handle,
		},
	}
}

// New builds the worker's runner with every subscription added.
func New(st *store.Store, o Options) (*Worker, error) {
	saga := domain.NewSaga(domain.NewRepository(st, o.SnapshotEvery))
	notes := domain.NewNotifications(o.Notifications)
	if o.Partitions < 0 || o.Members < 0 || (o.Members > 1 && o.Partitions == 0) {
		return nil, store.InvalidField("members", fmt.Sprintf("%d members of %d partitions: several members need partitions", o.Members, o.Partitions))
	}
	var runners []*subscriptions.Runner
	for m := range max(o.Members, 1) {
		ro := o.Runner
		if ro.Instance != "" && m > 0 {
			ro.Instance = fmt.Sprintf("%s-%d", o.Runner.Instance, m)
		}
		if m > 0 {
			ro.Registerer = nil // metrics are the first runner's
		}
		r := subscriptions.NewRunner(st, ro)
		for _, s := range Subscriptions(saga, notes, o) {
			s.Partitions = o.Partitions
			if err := r.Add(s); err != nil {
				return nil, err
			}
		}
		runners = append(runners, r)
	}
	r := runners[0]
	if reg := o.Runner.Registerer; reg != nil {
		_ = reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "eventscope_notifications_sent_total", Help: "Notifications delivered by the demo's notifications subscriber.",
		}, func() float64 { return float64(notes.Sent()) }))
	}
	return &Worker{Runner: r, Runners: runners, Notifications: notes, Saga: saga, st: st}, nil
}

// Run runs the worker until ctx is done. Beside the subscriptions it keeps
// the store's event-type catalog current (eventscope types), folding new
// events in every second.
func (w *Worker) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	catalog := make(chan struct{})
	go func() { defer close(catalog); _ = w.st.FollowCatalog(ctx, time.Second) }()
	errs := make(chan error, len(w.Runners))
	for _, r := range w.Runners {
		go func() { errs <- r.Run(ctx) }()
	}
	var err error
	for range w.Runners {
		if e := <-errs; e != nil && err == nil {
			err = e
			cancel()
		}
	}
	cancel()
	<-catalog
	return err
}
