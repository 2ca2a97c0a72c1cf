package simcluster_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/scaler"
)

// benchServices is how many services a controller tick reads.
const benchServices = 10_000

// newBenchCluster returns a cluster on the real clock with n services on
// varied traces, some of them mid-scale-up, and their names.
func newBenchCluster(tb testing.TB, n int) (*simcluster.Cluster, []string) {
	tb.Helper()
	c, err := simcluster.New(simcluster.Options{})
	require.NoError(tb, err)
	series, err := simcluster.NewSeries([]simcluster.Point{{Offset: 0, RPS: 100}, {Offset: time.Hour, RPS: 900}})
	require.NoError(tb, err)
	traces := []simcluster.Trace{
		simcluster.Constant(400),
		simcluster.Surge{Base: 400, Factor: 10, At: time.Minute, For: time.Hour},
		simcluster.Diurnal{Mean: 400, Amplitude: 300},
		series,
	}
	names := make([]string, n)
	for i := range names {
		names[i] = "service-" + strconv.Itoa(i)
		s := spec(names[i], 4)
		s.StartupDelay = time.Hour // keeps a starting batch for the whole run
		s.Trace = traces[i%len(traces)]
		require.NoError(tb, c.AddService(s))
		if i%3 == 0 {
			require.NoError(tb, c.SetReplicas(context.Background(), names[i], 8, "bench"))
		}
	}
	return c, names
}

func BenchmarkMetric(b *testing.B) {
	c, names := newBenchCluster(b, benchServices)
	ctx := context.Background()
	metrics := scaler.Metrics()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		_, err := c.Metric(ctx, scaler.MetricQuery{Service: names[i%len(names)], Metric: metrics[i%len(metrics)]})
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkMetricParallel(b *testing.B) {
	c, names := newBenchCluster(b, benchServices)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := c.Metric(ctx, scaler.MetricQuery{Service: names[i%len(names)], Metric: "cpu_utilization"}); err != nil {
				b.Error(err)
				return
			}
			i += 7
		}
	})
}

func BenchmarkReplicas(b *testing.B) {
	c, names := newBenchCluster(b, benchServices)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := c.Replicas(ctx, names[i%len(names)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkReplicasParallel(b *testing.B) {
	c, names := newBenchCluster(b, benchServices)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := c.Replicas(ctx, names[i%len(names)]); err != nil {
				b.Error(err)
				return
			}
			i += 7
		}
	})
}

// BenchmarkTick reads every metric of every service once: one controller
// tick over 10 000 services.
func BenchmarkTick(b *testing.B) {
	c, names := newBenchCluster(b, benchServices)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, n := range names {
			if _, err := c.Replicas(ctx, n); err != nil {
				b.Fatal(err)
			}
			if _, err := c.Metric(ctx, scaler.MetricQuery{Service: n, Metric: "http_rps"}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkSnapshot(b *testing.B) {
	c, names := newBenchCluster(b, 100)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := c.Snapshot(names[i%len(names)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// The hot paths do not allocate in steady state. This counts allocations,
// it does not time anything.
func TestHotPathsDoNotAllocate(t *testing.T) {
	c, names := newBenchCluster(t, 100)
	ctx := context.Background()
	metrics := scaler.Metrics()
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		n := names[i%len(names)]
		if _, err := c.Replicas(ctx, n); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Metric(ctx, scaler.MetricQuery{Service: n, Metric: metrics[i%len(metrics)]}); err != nil {
			t.Fatal(err)
		}
		i++
	})
	assert.Zero(t, allocs)
}
