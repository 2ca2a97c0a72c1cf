package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hms-platform/mgmt/auditlog"
	"github.com/hms-platform/mgmt/logship"
	"github.com/hms-platform/mgmt/scaler"
)

// Shipping is what ShipCollector reads: host.Ship has these methods.
type Shipping interface {
	// Stats returns the shipper's counters and the records dropped
	// because the queue was full.
	Stats() (logship.Stats, int64)
	// Depth returns what the queue holds.
	Depth(ctx context.Context) (logship.Depth, error)
}

// ShipCollector reads the log shipper and its queue at scrape time:
//
//	hms_logship_queue_records              gauge   records waiting for delivery
//	hms_logship_queue_bytes                gauge   their size
//	hms_logship_dead_letters               gauge   dead letters kept
//	hms_logship_delivered_total            counter records delivered (acked)
//	hms_logship_retries_total              counter records sent again after a 429, a 5xx or a failed request
//	hms_logship_dead_lettered_total        counter records the cluster refused for good
//	hms_logship_batch_splits_total         counter batches halved after a 413
//	hms_logship_request_failures_total     counter bulk requests that failed as a whole
//	hms_logship_dropped_total              counter records dropped because the queue was full
type ShipCollector struct {
	s                                                        Shipping
	rows, bytes, dead                                        *prometheus.Desc
	delivered, retries, deadTotal, splits, failures, dropped *prometheus.Desc
}

// NewShipCollector returns the collector of s.
func NewShipCollector(s Shipping) *ShipCollector {
	name := func(n string) string { return prometheus.BuildFQName(Namespace, "logship", n) }
	return &ShipCollector{
		s:         s,
		rows:      prometheus.NewDesc(name("queue_records"), "Log records and audit events waiting in the queue for delivery.", nil, nil),
		bytes:     prometheus.NewDesc(name("queue_bytes"), "Size of the records waiting in the queue.", nil, nil),
		dead:      prometheus.NewDesc(name("dead_letters"), "Dead letters kept: records the cluster refused for good, with the reason.", nil, nil),
		delivered: prometheus.NewDesc(name("delivered_total"), "Records delivered to the cluster and acknowledged, counted per record.", nil, nil),
		retries:   prometheus.NewDesc(name("retries_total"), "Records sent again after a 429, a 5xx or a failed request, counted per record.", nil, nil),
		deadTotal: prometheus.NewDesc(name("dead_lettered_total"), "Records the cluster refused for good (a 4xx other than 409 and 429), counted per record.", nil, nil),
		splits:    prometheus.NewDesc(name("batch_splits_total"), "Batches halved after a 413.", nil, nil),
		failures:  prometheus.NewDesc(name("request_failures_total"), "Bulk requests that failed as a whole (no per-record answer).", nil, nil),
		dropped:   prometheus.NewDesc(name("dropped_total"), "Records dropped because the queue was full.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *ShipCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.rows, c.bytes, c.dead, c.delivered, c.retries, c.deadTotal, c.splits, c.failures, c.dropped} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *ShipCollector) Collect(ch chan<- prometheus.Metric) {
	st, dropped := c.s.Stats()
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(c.delivered, st.Delivered)
	counter(c.retries, st.Retried)
	counter(c.deadTotal, st.Dead)
	counter(c.splits, st.Splits)
	counter(c.failures, st.RequestErrors)
	counter(c.dropped, dropped)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dep, err := c.s.Depth(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.rows, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.rows, prometheus.GaugeValue, float64(dep.Rows))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(dep.Bytes))
	ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(dep.Dead))
}

// ChainCollector reads the audit chain's Log at scrape time:
//
//	hms_audit_chain_length                             gauge   entries in the chain
//	hms_audit_chain_last_checkpoint_seq                gauge   seq of the last signed checkpoint
//	hms_audit_chain_last_checkpoint_timestamp_seconds  gauge   its time (absent before the first)
//	hms_audit_chain_appended_total                     counter events this process appended
//	hms_audit_chain_dropped_total                      counter events dropped because the buffer was full
//	hms_audit_chain_lost_total                         counter events lost because the store kept failing until close
type ChainCollector struct {
	l                                            *auditlog.Log
	length, cpSeq, cpAt, appended, dropped, lost *prometheus.Desc
}

// NewChainCollector returns the collector of l.
func NewChainCollector(l *auditlog.Log) *ChainCollector {
	name := func(n string) string { return prometheus.BuildFQName(Namespace, "audit_chain", n) }
	return &ChainCollector{
		l:        l,
		length:   prometheus.NewDesc(name("length"), "Entries in the audit chain.", nil, nil),
		cpSeq:    prometheus.NewDesc(name("last_checkpoint_seq"), "Seq of the last signed checkpoint of the audit chain (0: none).", nil, nil),
		cpAt:     prometheus.NewDesc(name("last_checkpoint_timestamp_seconds"), "Time of the last signed checkpoint of the audit chain.", nil, nil),
		appended: prometheus.NewDesc(name("appended_total"), "Audit events this process appended to the chain.", nil, nil),
		dropped:  prometheus.NewDesc(name("dropped_total"), "Audit events dropped because the chain's buffer stayed full.", nil, nil),
		lost:     prometheus.NewDesc(name("lost_total"), "Audit events lost because the chain's store kept failing until the host stopped.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *ChainCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.length, c.cpSeq, c.cpAt, c.appended, c.dropped, c.lost} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *ChainCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.l.Stats()
	ch <- prometheus.MustNewConstMetric(c.length, prometheus.GaugeValue, float64(st.Length))
	ch <- prometheus.MustNewConstMetric(c.cpSeq, prometheus.GaugeValue, float64(st.CheckpointSeq))
	if !st.CheckpointAt.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.cpAt, prometheus.GaugeValue, float64(st.CheckpointAt.UnixNano())/1e9)
	}
	ch <- prometheus.MustNewConstMetric(c.appended, prometheus.CounterValue, float64(st.Stored))
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(st.Dropped))
	ch <- prometheus.MustNewConstMetric(c.lost, prometheus.CounterValue, float64(st.Lost))
}

// Decisions counts the autoscaler's decisions by reason; give its Observe
// method as scaler.Options.OnDecision and register it:
//
//	hms_scaler_decisions_total{reason}   counter
type Decisions struct{ c *prometheus.CounterVec }

// NewDecisions returns the decision counter.
func NewDecisions() *Decisions {
	return &Decisions{prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "scaler", Name: "decisions_total",
		Help: "Decisions of the autoscaler's rules (holds included), by reason.",
	}, []string{"reason"})}
}

// Observe counts d; it has scaler.Options.OnDecision's signature.
func (d *Decisions) Observe(_ string, dec scaler.Decision) {
	d.c.WithLabelValues(string(dec.Reason)).Inc()
}

// Describe implements prometheus.Collector.
func (d *Decisions) Describe(ch chan<- *prometheus.Desc) { d.c.Describe(ch) }

// Collect implements prometheus.Collector.
func (d *Decisions) Collect(ch chan<- prometheus.Metric) { d.c.Collect(ch) }

// PluginRestarts reports how often each plugin backend's process was
// restarted after it exited:
//
//	hms_plugin_restarts_total{backend}   counter
//
// restarts is read at scrape time (backends/plugin's Client.Restarts).
func PluginRestarts(backend string, restarts func() int) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "plugin", Name: "restarts_total",
		Help:        "Restarts of the plugin's process after it exited.",
		ConstLabels: prometheus.Labels{"backend": backend},
	}, func() float64 { return float64(restarts()) })
}
