package simcluster

import (
	"context"
	"math"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/scaler"
)

// The metric names the cluster answers, the known kinds of package scaler.
const (
	MetricHTTPRPS           = "http_rps"
	MetricCPUUtilization    = "cpu_utilization"
	MetricMemoryUtilization = "memory_utilization"
	MetricLatencyP95MS      = "latency_p95_ms"
	MetricQueueLength       = "queue_length"
)

// Memory model constants: an idle replica uses MemoryIdlePercent of its
// memory, a saturated one MemoryIdlePercent+MemoryLoadPercent.
const (
	MemoryIdlePercent = 30
	MemoryLoadPercent = 50
)

// OverloadMSPerUnit is the latency, in milliseconds, added per unit of
// overload ρ−1 beyond capacity: the second's excess requests wait
// (load−capacity)/capacity seconds for the replicas to drain them.
const OverloadMSPerUnit = 1000

// Metric returns the current value of q.Metric for q.Service, computed at
// the clock's now from the offered load and the ready replicas (see the
// package documentation for the formulas); with a ServiceSpec.MetricLag,
// from the load as the last scrape saw it. q.Query is ignored: the
// simulator has no query language. An unknown service or metric returns
// an error wrapping mgmt.ErrNotFound.
//
// Metric does not allocate on success.
func (c *Cluster) Metric(ctx context.Context, q scaler.MetricQuery) (float64, error) {
	if err := ctxDone(ctx, q.Service); err != nil {
		return 0, err
	}
	s, err := c.lookup(q.Service)
	if err != nil {
		return 0, err
	}
	which, ok := metricIndex(q.Metric)
	if !ok {
		return 0, mgmt.NotFound("metric", "the simulated cluster has no metric %q (known: %s, %s, %s, %s, %s)",
			q.Metric, MetricCPUUtilization, MetricHTTPRPS, MetricLatencyP95MS, MetricMemoryUtilization, MetricQueueLength)
	}
	if err := s.lockFor(ctx, opMetric); err != nil {
		return 0, err
	}
	now := s.advance(c.clock.Now())
	rps := s.load(now)
	if !s.lag.zero() {
		rps = s.laggedLoad(now)
	}
	ready := s.ready
	s.mu.Unlock()

	if which == mRPS {
		return rps, nil
	}
	m := model(rps, ready, s.capacity, s.baseMS, s.timeoutMS)
	switch which {
	case mCPU:
		return m.cpu, nil
	case mMemory:
		return m.memory, nil
	case mLatency:
		return m.latency, nil
	}
	return m.queue, nil
}

type metricID uint8

const (
	mRPS metricID = iota
	mCPU
	mMemory
	mLatency
	mQueue
)

func metricIndex(name string) (metricID, bool) {
	switch name {
	case MetricHTTPRPS:
		return mRPS, true
	case MetricCPUUtilization:
		return mCPU, true
	case MetricMemoryUtilization:
		return mMemory, true
	case MetricLatencyP95MS:
		return mLatency, true
	case MetricQueueLength:
		return mQueue, true
	}
	return 0, false
}

// load returns the offered load at now: the trace read at the time elapsed
// since the trace start (0 before it). A negative, NaN or infinite value
// reads as 0.
func (s *service) load(now time.Time) float64 {
	return sanitize(s.trace.RPS(s.elapsed(now)))
}

func (s *service) elapsed(now time.Time) time.Duration {
	if d := now.Sub(s.traceStart); d > 0 {
		return d
	}
	return 0
}

func sanitize(v float64) float64 {
	if !(v > 0) || math.IsInf(v, 1) {
		return 0
	}
	return v
}

// derived holds the metrics the model derives from load and ready replicas.
type derived struct {
	utilization float64 // ρ = load / (ready × capacityRPS), +Inf when ready = 0 < load
	cpu         float64
	memory      float64
	latency     float64
	queue       float64
}

// model derives the metrics from the offered load rps, the ready
// replicas, the capacity of one replica, and the service's base latency
// and timeout. The formulas are in the package documentation.
func model(rps float64, ready int32, perReplica, baseMS, timeoutMS float64) derived {
	capacity := float64(ready) * perReplica
	var d derived
	switch {
	case rps == 0:
		d.utilization = 0
	case capacity == 0:
		d.utilization = math.Inf(1)
	default:
		d.utilization = rps / capacity
	}
	u := math.Min(1, d.utilization)
	d.cpu = 100 * u
	d.memory = MemoryIdlePercent + MemoryLoadPercent*u
	rho := d.utilization
	if rho <= 1 {
		d.latency = baseMS * (1 + rho*rho*rho)
	} else {
		d.latency = 2*baseMS + OverloadMSPerUnit*(rho-1)
	}
	d.latency = math.Min(d.latency, timeoutMS)
	d.queue = math.Max(0, rps-capacity)
	return d
}
