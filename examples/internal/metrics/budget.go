package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
)

// BudgetCollector reads the budget's caps at scrape time.
type BudgetCollector struct {
	b        *budget.Budget
	timeout  time.Duration
	amount   *prometheus.Desc
	spend    *prometheus.Desc
	forecast *prometheus.Desc
	burn     *prometheus.Desc
	alerts   *prometheus.Desc
}

// NewBudgetCollector returns a collector of b's caps, labelled by cap ID:
//
//	hms_budget_cap_dollars{cap,mode}            gauge: the cap's amount per period
//	hms_budget_spend_dollars{cap}               gauge: spend so far this period
//	hms_budget_forecast_dollars{cap}            gauge: period-end forecast at the current burn
//	hms_budget_burn_dollars_per_hour{cap}       gauge
//	hms_budget_alerts{cap}                      gauge: alert thresholds crossed (alerts fired) this period
//
// Reading a cap's alerts is a store read: each scrape gives it timeout
// (default 2s) for all caps.
func NewBudgetCollector(b *budget.Budget, timeout time.Duration) *BudgetCollector {
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	name := func(n string) string { return prometheus.BuildFQName(Namespace, "budget", n) }
	c := []string{"cap"}
	return &BudgetCollector{
		b: b, timeout: timeout,
		amount:   prometheus.NewDesc(name("cap_dollars"), "The cap's amount per period, in dollars.", []string{"cap", "mode"}, nil),
		spend:    prometheus.NewDesc(name("spend_dollars"), "Spend under the cap so far this period, in dollars.", c, nil),
		forecast: prometheus.NewDesc(name("forecast_dollars"), "Spend under the cap forecast for the end of the period at the current burn, in dollars.", c, nil),
		burn:     prometheus.NewDesc(name("burn_dollars_per_hour"), "Current cost per hour of the services under the cap, in dollars.", c, nil),
		alerts:   prometheus.NewDesc(name("alerts"), "Alert thresholds of the cap crossed (alerts fired) this period.", c, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *BudgetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.amount, c.spend, c.forecast, c.burn, c.alerts} {
		ch <- d
	}
}

func dollars(m mgmt.Money) float64 { return float64(m.Cents()) / 100 }

// Collect implements prometheus.Collector. A cap whose status cannot be
// read is reported to the scrape as an invalid metric (promhttp logs it
// and serves the rest).
func (c *BudgetCollector) Collect(ch chan<- prometheus.Metric) {
	// A scrape has no context of its own: the timeout bounds the store reads.
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	for _, cp := range c.b.Caps() {
		ch <- prometheus.MustNewConstMetric(c.amount, prometheus.GaugeValue, dollars(cp.Amount), cp.ID, cp.Mode.String())
		st, err := c.b.Status(ctx, cp.ID)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(c.spend, err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.spend, prometheus.GaugeValue, dollars(st.Spend), cp.ID)
		ch <- prometheus.MustNewConstMetric(c.forecast, prometheus.GaugeValue, dollars(st.Forecast), cp.ID)
		ch <- prometheus.MustNewConstMetric(c.burn, prometheus.GaugeValue, dollars(st.Burn), cp.ID)
		ch <- prometheus.MustNewConstMetric(c.alerts, prometheus.GaugeValue, float64(len(st.Alerts)), cp.ID)
	}
}
