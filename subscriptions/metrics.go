package subscriptions

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Prometheus metrics of a Runner, one series per subscription it runs
// (label subscription). They are read from the runner's memory at scrape
// time: no queries.
var (
	descLag = prometheus.NewDesc("eventscope_subscription_lag",
		"Events between the subscription's checkpoint and the head of the log, estimated from positions (0 when this process does not hold it).",
		[]string{"subscription"}, nil)
	descRate = prometheus.NewDesc("eventscope_subscription_rate",
		"Events processed per second over the last 10 seconds by this process.",
		[]string{"subscription"}, nil)
	descProcessed = prometheus.NewDesc("eventscope_subscription_processed_total",
		"Events this process delivered successfully (parked events delivered on retry included).",
		[]string{"subscription"}, nil)
	descParked = prometheus.NewDesc("eventscope_subscription_parked",
		"Parked events of the subscription, as its holder knows them (0 when this process does not hold it).",
		[]string{"subscription"}, nil)
	descFailures = prometheus.NewDesc("eventscope_subscription_failures_total",
		"Failed handler attempts in this process.",
		[]string{"subscription"}, nil)
	descHolder = prometheus.NewDesc("eventscope_subscription_holder",
		"1 while this process holds the subscription's lease, else 0.",
		[]string{"subscription", "instance"}, nil)
)

type collector struct{ r *Runner }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLag, descRate, descProcessed, descParked, descFailures, descHolder} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	head := c.r.lastHead()
	for _, s := range c.r.snapshot() {
		p := s.public()
		name := s.def.Name
		var lag, parked, holder float64
		if p.active {
			holder = 1
			parked = float64(p.parked)
			if p.cursor.Less(head) {
				lag = float64(max(head.Pos-p.cursor.Pos, 1))
			}
		}
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, lag, name)
		ch <- prometheus.MustNewConstMetric(descRate, prometheus.GaugeValue, p.rate, name)
		ch <- prometheus.MustNewConstMetric(descProcessed, prometheus.CounterValue, float64(s.stats.processed.Load()), name)
		ch <- prometheus.MustNewConstMetric(descParked, prometheus.GaugeValue, parked, name)
		ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(s.stats.failures.Load()), name)
		ch <- prometheus.MustNewConstMetric(descHolder, prometheus.GaugeValue, holder, name, c.r.o.Instance)
	}
}
