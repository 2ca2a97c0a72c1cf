package simcluster_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/scaler"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	// 100 rps per replica, base latency 40ms, timeout 30s.
	type want struct{ rps, cpu, mem, latency, queue float64 }
	tests := []struct {
		name  string
		load  float64
		ready int32
		want  want
	}{
		{"idle", 0, 4, want{0, 0, 30, 40, 0}},
		{"half", 200, 4, want{200, 50, 55, 40 * (1 + 0.125), 0}},
		{"80 percent", 320, 4, want{320, 80, 70, 40 * (1 + 0.512), 0}},
		{"full", 400, 4, want{400, 100, 80, 80, 0}},
		{"double", 800, 4, want{800, 100, 80, 80 + 1000, 400}},
		{"tenfold", 4000, 4, want{4000, 100, 80, 80 + 9000, 3600}},
		{"far beyond: the timeout", 40000, 1, want{40000, 100, 80, 30000, 39900}},
		{"no replica, no load", 0, 0, want{0, 0, 30, 40, 0}},
		{"no replica under load", 50, 0, want{50, 100, 80, 30000, 50}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := newCluster(t)
			s := spec("api", tt.ready)
			s.Trace = simcluster.Constant(tt.load)
			require.NoError(t, c.AddService(s))

			got := map[string]float64{}
			for _, m := range scaler.Metrics() {
				v, err := c.Metric(context.Background(), scaler.MetricQuery{Service: "api", Metric: m, Query: "ignored"})
				require.NoError(t, err, m)
				got[m] = v
			}
			w := tt.want
			assert.InDelta(t, w.rps, got["http_rps"], 1e-9, "http_rps")
			assert.InDelta(t, w.cpu, got["cpu_utilization"], 1e-9, "cpu_utilization")
			assert.InDelta(t, w.mem, got["memory_utilization"], 1e-9, "memory_utilization")
			assert.InDelta(t, w.latency, got["latency_p95_ms"], 1e-9, "latency_p95_ms")
			assert.InDelta(t, w.queue, got["queue_length"], 1e-9, "queue_length")

			snap, err := c.Snapshot("api")
			require.NoError(t, err)
			assert.InDelta(t, w.cpu, snap.CPUUtilization, 1e-9)
			assert.InDelta(t, w.mem, snap.MemoryUtilization, 1e-9)
			assert.InDelta(t, w.latency, snap.LatencyP95MS, 1e-9)
			assert.InDelta(t, w.queue, snap.QueueLength, 1e-9)
		})
	}
}

func TestMetricsFollowReadiness(t *testing.T) {
	t.Parallel()
	c, clk := newCluster(t)
	ctx := context.Background()
	s := spec("api", 2)
	s.Trace = simcluster.Constant(400)
	require.NoError(t, c.AddService(s))
	cpu := func() float64 {
		v, err := c.Metric(ctx, scaler.MetricQuery{Service: "api", Metric: simcluster.MetricCPUUtilization})
		require.NoError(t, err)
		return v
	}
	assert.InDelta(t, 100, cpu(), 1e-9)
	require.NoError(t, c.SetReplicas(ctx, "api", 8, "scale up"))
	assert.InDelta(t, 100, cpu(), 1e-9, "starting replicas serve nothing")
	clk.Add(30 * time.Second)
	assert.InDelta(t, 50, cpu(), 1e-9, "8 ready replicas at 400 rps")
}

func TestMetricLoadFollowsTrace(t *testing.T) {
	t.Parallel()
	c, clk := newCluster(t)
	s := spec("api", 4)
	s.Trace = simcluster.Surge{Base: 400, Factor: 10, At: 10 * time.Minute, For: 20 * time.Minute}
	s.TraceStart = t0.Add(time.Minute)
	require.NoError(t, c.AddService(s))
	rps := func() float64 {
		v, err := c.Metric(context.Background(), scaler.MetricQuery{Service: "api", Metric: simcluster.MetricHTTPRPS})
		require.NoError(t, err)
		return v
	}
	assert.Equal(t, 400.0, rps(), "before the trace start the trace is read at 0")
	clk.Add(11 * time.Minute)
	assert.Equal(t, 4000.0, rps())
	clk.Add(20 * time.Minute)
	assert.Equal(t, 400.0, rps())
}

func TestMetricBadTraceValues(t *testing.T) {
	t.Parallel()
	for _, v := range []float64{-5, math.NaN(), math.Inf(1), math.Inf(-1)} {
		c, _ := newCluster(t)
		s := spec("api", 1)
		s.Trace = simcluster.TraceFunc(func(time.Duration) float64 { return v })
		require.NoError(t, c.AddService(s))
		got, err := c.Metric(context.Background(), scaler.MetricQuery{Service: "api", Metric: "http_rps"})
		require.NoError(t, err)
		assert.Equal(t, 0.0, got, "%v reads as 0", v)
	}
}

func TestMetricErrors(t *testing.T) {
	t.Parallel()
	c, _ := newCluster(t)
	require.NoError(t, c.AddService(spec("api", 1)))
	ctx := context.Background()

	_, err := c.Metric(ctx, scaler.MetricQuery{Service: "nope", Metric: "http_rps"})
	requireKind(t, err, mgmt.KindNotFound, "service")
	assert.Contains(t, err.Error(), `"nope"`)

	_, err = c.Metric(ctx, scaler.MetricQuery{Service: "api", Metric: "disk_iops"})
	requireKind(t, err, mgmt.KindNotFound, "metric")
	assert.Contains(t, err.Error(), `"disk_iops"`)
}

// Every known metric kind of package scaler is served.
func TestMetricKinds(t *testing.T) {
	t.Parallel()
	c, _ := newCluster(t)
	require.NoError(t, c.AddService(spec("api", 1)))
	for _, m := range scaler.Metrics() {
		_, err := c.Metric(context.Background(), scaler.MetricQuery{Service: "api", Metric: m})
		assert.NoError(t, err, m)
	}
}
