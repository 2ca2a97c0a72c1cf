package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hms-platform/mgmt/scaler"
)

// Ticks observes the autoscaler's ticks; give its Observe method as
// scaler.Options.OnTick and register it.
type Ticks struct {
	duration  prometheus.Histogram
	evaluated prometheus.Counter
}

// NewTicks returns the tick metrics:
//
//	hms_scaler_tick_duration_seconds        histogram
//	hms_scaler_rules_evaluated_total        counter
func NewTicks() *Ticks {
	return &Ticks{
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "scaler", Name: "tick_duration_seconds",
			Help:    "How long one autoscaler tick (every rule evaluated and applied) took.",
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 2.5, 5, 10, 30},
		}),
		evaluated: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "scaler", Name: "rules_evaluated_total",
			Help: "Rules the autoscaler's ticks covered.",
		}),
	}
}

// Observe records one tick; it has scaler.Options.OnTick's signature.
func (t *Ticks) Observe(d time.Duration, evaluated int) {
	t.duration.Observe(d.Seconds())
	t.evaluated.Add(float64(evaluated))
}

// Describe implements prometheus.Collector.
func (t *Ticks) Describe(ch chan<- *prometheus.Desc) {
	t.duration.Describe(ch)
	t.evaluated.Describe(ch)
}

// Collect implements prometheus.Collector.
func (t *Ticks) Collect(ch chan<- prometheus.Metric) {
	t.duration.Collect(ch)
	t.evaluated.Collect(ch)
}

// ScalerCollector reads the controller's rules at scrape time.
type ScalerCollector struct {
	ctrl        *scaler.Controller
	ticks       *prometheus.Desc
	rules       *prometheus.Desc
	byReason    *prometheus.Desc
	evaluations *prometheus.Desc
	replicas    *prometheus.Desc
	desired     *prometheus.Desc
	failures    *prometheus.Desc
}

// NewScalerCollector returns a collector of ctrl's state:
//
//	hms_scaler_ticks_total                          counter
//	hms_scaler_rules{paused}                        gauge
//	hms_scaler_rules_by_last_reason{reason}         gauge: rules whose last decision had the reason
//	hms_scaler_rule_evaluations_total{rule,service} counter
//	hms_scaler_rule_replicas{rule,service}          gauge: as the cluster last reported
//	hms_scaler_rule_desired_replicas{rule,service}  gauge: as last decided
//	hms_scaler_rule_read_failures{rule,service}     gauge: consecutive evaluations with a failed read
func NewScalerCollector(ctrl *scaler.Controller) *ScalerCollector {
	name := func(n string) string { return prometheus.BuildFQName(Namespace, "scaler", n) }
	rule := []string{"rule", "service"}
	return &ScalerCollector{
		ctrl:        ctrl,
		ticks:       prometheus.NewDesc(name("ticks_total"), "Autoscaler ticks run.", nil, nil),
		rules:       prometheus.NewDesc(name("rules"), "Autoscale rules, paused or not.", []string{"paused"}, nil),
		byReason:    prometheus.NewDesc(name("rules_by_last_reason"), "Autoscale rules by the reason code of their last decision.", []string{"reason"}, nil),
		evaluations: prometheus.NewDesc(name("rule_evaluations_total"), "Evaluations of the rule.", rule, nil),
		replicas:    prometheus.NewDesc(name("rule_replicas"), "Replicas of the rule's service as the cluster last reported them.", rule, nil),
		desired:     prometheus.NewDesc(name("rule_desired_replicas"), "Replicas of the rule's service as last decided.", rule, nil),
		failures:    prometheus.NewDesc(name("rule_read_failures"), "Consecutive evaluations of the rule with a failed metric read.", rule, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *ScalerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.ticks, c.rules, c.byReason, c.evaluations, c.replicas, c.desired, c.failures} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *ScalerCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.ticks, prometheus.CounterValue, float64(c.ctrl.Ticks()))
	paused, active := 0, 0
	reasons := map[scaler.Reason]int{}
	for _, st := range c.ctrl.Statuses() {
		if st.Paused {
			paused++
		} else {
			active++
		}
		if st.Evaluations > 0 {
			reasons[st.Last.Reason]++
		}
		ch <- prometheus.MustNewConstMetric(c.evaluations, prometheus.CounterValue, float64(st.Evaluations), st.RuleID, st.Service)
		ch <- prometheus.MustNewConstMetric(c.replicas, prometheus.GaugeValue, float64(st.Replicas), st.RuleID, st.Service)
		ch <- prometheus.MustNewConstMetric(c.desired, prometheus.GaugeValue, float64(st.Desired), st.RuleID, st.Service)
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.GaugeValue, float64(st.Failures), st.RuleID, st.Service)
	}
	ch <- prometheus.MustNewConstMetric(c.rules, prometheus.GaugeValue, float64(active), "false")
	ch <- prometheus.MustNewConstMetric(c.rules, prometheus.GaugeValue, float64(paused), "true")
	for reason, n := range reasons {
		ch <- prometheus.MustNewConstMetric(c.byReason, prometheus.GaugeValue, float64(n), string(reason))
	}
}
