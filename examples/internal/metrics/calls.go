package metrics

import (
	"context"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/scaler"
)

// Calls times the calls to backends and plugins and counts their errors:
//
//	hms_backend_call_duration_seconds{backend,operation}  histogram
//	hms_backend_call_errors_total{backend,operation,kind}  counter
//
// kind is the error's mgmt.Kind code (not_found, unavailable, …; internal
// for an error without one). Latency is measured on the host's clock.
type Calls struct {
	clock    clock.Clock
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
}

// NewCalls returns the call metrics, timed on clk (the real clock when
// nil); register it.
func NewCalls(clk clock.Clock) *Calls {
	if clk == nil {
		clk = clock.New()
	}
	return &Calls{
		clock: clk,
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "backend", Name: "call_duration_seconds",
			Help:    "Latency of calls to a backend or plugin, by backend and operation.",
			Buckets: []float64{.0005, .001, .005, .01, .05, .1, .5, 1, 5},
		}, []string{"backend", "operation"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "backend", Name: "call_errors_total",
			Help: "Failed calls to a backend or plugin, by backend, operation and error kind.",
		}, []string{"backend", "operation", "kind"}),
	}
}

// Describe implements prometheus.Collector.
func (c *Calls) Describe(ch chan<- *prometheus.Desc) {
	c.duration.Describe(ch)
	c.errors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *Calls) Collect(ch chan<- prometheus.Metric) {
	c.duration.Collect(ch)
	c.errors.Collect(ch)
}

// observe records a call to backend's operation that started at start.
func (c *Calls) observe(backend, operation string, start time.Time, err error) {
	c.duration.WithLabelValues(backend, operation).Observe(c.clock.Since(start).Seconds())
	if err != nil {
		c.errors.WithLabelValues(backend, operation, mgmt.KindOf(err).Code()).Inc()
	}
}

// InstrumentScaler returns s with every call timed as backend's
// "replicas" and "set_replicas" operations. When s is a
// scaler.BatchScaler, so is the result, its calls timed as
// "replicas_batch" and "set_replicas_batch" with each item's error
// counted.
func (c *Calls) InstrumentScaler(backend string, s scaler.Scaler) scaler.Scaler {
	is := &instrumentedScaler{c: c, backend: backend, inner: s}
	if bs, ok := s.(scaler.BatchScaler); ok {
		return &instrumentedBatchScaler{instrumentedScaler: is, batch: bs}
	}
	return is
}

type instrumentedBatchScaler struct {
	*instrumentedScaler
	batch scaler.BatchScaler
}

func (s *instrumentedBatchScaler) ReplicasBatch(ctx context.Context, services []string) ([]scaler.ReplicaStatus, []error) {
	start := s.c.clock.Now()
	sts, errs := s.batch.ReplicasBatch(ctx, services)
	s.c.observeBatch(s.backend, "replicas_batch", start, errs)
	return sts, errs
}

func (s *instrumentedBatchScaler) SetReplicasBatch(ctx context.Context, changes []scaler.ReplicaChange) []error {
	start := s.c.clock.Now()
	errs := s.batch.SetReplicasBatch(ctx, changes)
	s.c.observeBatch(s.backend, "set_replicas_batch", start, errs)
	return errs
}

// observeBatch records one batch call and the error of each item.
func (c *Calls) observeBatch(backend, operation string, start time.Time, errs []error) {
	c.duration.WithLabelValues(backend, operation).Observe(c.clock.Since(start).Seconds())
	for _, err := range errs {
		if err != nil {
			c.errors.WithLabelValues(backend, operation, mgmt.KindOf(err).Code()).Inc()
		}
	}
}

type instrumentedScaler struct {
	c       *Calls
	backend string
	inner   scaler.Scaler
}

func (s *instrumentedScaler) Replicas(ctx context.Context, service string) (scaler.ReplicaStatus, error) {
	start := s.c.clock.Now()
	st, err := s.inner.Replicas(ctx, service)
	s.c.observe(s.backend, "replicas", start, err)
	return st, err
}

func (s *instrumentedScaler) SetReplicas(ctx context.Context, service string, replicas int32, reason string) error {
	start := s.c.clock.Now()
	err := s.inner.SetReplicas(ctx, service, replicas, reason)
	s.c.observe(s.backend, "set_replicas", start, err)
	return err
}

// InstrumentSource returns src with every read timed as backend's
// "metric" operation. When src is a scaler.BatchMetricSource, so is the
// result, its calls timed as "metric_batch".
func (c *Calls) InstrumentSource(backend string, src scaler.MetricSource) scaler.MetricSource {
	one := scaler.MetricSourceFunc(func(ctx context.Context, q scaler.MetricQuery) (float64, error) {
		start := c.clock.Now()
		v, err := src.Metric(ctx, q)
		c.observe(backend, "metric", start, err)
		return v, err
	})
	bs, batch := src.(scaler.BatchMetricSource)
	hs, history := src.(scaler.HistorySource)
	switch {
	case batch && history:
		return struct {
			instrumentedBatchSource
			instrumentedHistory
		}{instrumentedBatchSource{MetricSourceFunc: one, c: c, backend: backend, batch: bs}, instrumentedHistory{c: c, backend: backend, hist: hs}}
	case batch:
		return instrumentedBatchSource{MetricSourceFunc: one, c: c, backend: backend, batch: bs}
	case history:
		return struct {
			scaler.MetricSourceFunc
			instrumentedHistory
		}{one, instrumentedHistory{c: c, backend: backend, hist: hs}}
	}
	return one
}

// instrumentedHistory times a HistorySource's MetricHistory calls
// (operation "metric_history").
type instrumentedHistory struct {
	c       *Calls
	backend string
	hist    scaler.HistorySource
}

func (s instrumentedHistory) MetricHistory(ctx context.Context, q scaler.MetricQuery, from time.Time, step time.Duration, dst []float64) error {
	start := s.c.clock.Now()
	err := s.hist.MetricHistory(ctx, q, from, step, dst)
	s.c.observe(s.backend, "metric_history", start, err)
	return err
}

type instrumentedBatchSource struct {
	scaler.MetricSourceFunc
	c       *Calls
	backend string
	batch   scaler.BatchMetricSource
}

func (s instrumentedBatchSource) MetricBatch(ctx context.Context, queries []scaler.MetricQuery) ([]float64, []error) {
	start := s.c.clock.Now()
	vs, errs := s.batch.MetricBatch(ctx, queries)
	s.c.observeBatch(s.backend, "metric_batch", start, errs)
	return vs, errs
}
