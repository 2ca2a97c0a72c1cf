package plugin_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/plugin"
	"github.com/hms-platform/mgmt/scaler"
)

// percentiles reports the p50 and p99 of ds under the names prefix-p50-ns
// and prefix-p99-ns and returns them.
func percentiles(b *testing.B, prefix string, ds []time.Duration) (p50, p99 float64) {
	slices.Sort(ds)
	p50 = float64(ds[len(ds)/2])
	p99 = float64(ds[len(ds)*99/100])
	b.ReportMetric(p50, prefix+"-p50-ns")
	b.ReportMetric(p99, prefix+"-p99-ns")
	return p50, p99
}

// BenchmarkSetReplicasVsRawEcho times, in the same run and interleaved, a
// SetReplicas round trip through the plugin and the cheapest raw go-plugin
// gRPC call (the health check go-plugin serves) on the same connection.
func BenchmarkSetReplicasVsRawEcho(b *testing.B) {
	c := open(b, nil, "TESTPLUGIN_SERVICES=1")
	ctx := context.Background()
	set := make([]time.Duration, 0, b.N)
	raw := make([]time.Duration, 0, b.N)
	n := int32(0)
	for b.Loop() {
		n = n%5 + 1
		t0 := time.Now()
		if err := c.SetReplicas(ctx, "svc-0000", n, "bench"); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := c.RawEcho(ctx); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		set, raw = append(set, t1.Sub(t0)), append(raw, t2.Sub(t1))
	}
	s50, s99 := percentiles(b, "set", set)
	r50, r99 := percentiles(b, "raw", raw)
	b.ReportMetric(s50/r50, "ratio-p50")
	b.ReportMetric(s99/r99, "ratio-p99")
}

// BenchmarkBatch1000 times one batch call over 1,000 services.
func BenchmarkBatch1000(b *testing.B) {
	c := open(b, nil, "TESTPLUGIN_SERVICES=1000")
	ctx := context.Background()
	services := make([]string, 1000)
	changes := make([]plugin.ReplicaChange, 1000)
	queries := make([]scaler.MetricQuery, 1000)
	for i := range services {
		services[i] = fmt.Sprintf("svc-%04d", i)
		changes[i] = plugin.ReplicaChange{Service: services[i], Reason: "bench"}
		queries[i] = scaler.MetricQuery{Service: services[i], Metric: "http_rps"}
	}
	b.Run("SetReplicasBatch", func(b *testing.B) {
		n := int32(0)
		for b.Loop() {
			n = n%5 + 1
			for i := range changes {
				changes[i].Replicas = n
			}
			for _, err := range c.SetReplicasBatch(ctx, changes) {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/batch")
	})
	b.Run("ReplicasBatch", func(b *testing.B) {
		for b.Loop() {
			_, errs := c.ReplicasBatch(ctx, services)
			for _, err := range errs {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/batch")
	})
	b.Run("MetricBatch", func(b *testing.B) {
		for b.Loop() {
			_, errs := c.MetricBatch(ctx, queries)
			for _, err := range errs {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/batch")
	})
}

// perRule is a Scaler and MetricSource without the batch seams: a
// controller over it calls the plugin once per rule and trigger.
type perRule struct {
	scaler.Scaler
	scaler.MetricSource
}

// BenchmarkControllerTick1000 times one scaler.Controller tick over 1,000
// rules whose Scaler and MetricSource is the plugin, seen without its batch
// calls: per rule one Metric, one Replicas and, on the first tick, one
// SetReplicas call.
func BenchmarkControllerTick1000(b *testing.B) {
	c := open(b, nil, "TESTPLUGIN_SERVICES=1000")
	benchTick1000(b, perRule{c, c})
}

// BenchmarkControllerTick1000Batch is BenchmarkControllerTick1000 with the
// plugin's batch calls (scaler.BatchScaler, scaler.BatchMetricSource): per
// tick one ReplicasBatch, one MetricBatch and, when a service changes, one
// SetReplicasBatch call.
func BenchmarkControllerTick1000Batch(b *testing.B) {
	c := open(b, nil, "TESTPLUGIN_SERVICES=1000")
	benchTick1000(b, c)
}

type backend interface {
	scaler.Scaler
	scaler.MetricSource
}

func benchTick1000(b *testing.B, be backend) {
	clk := clock.NewMock()
	ctrl, err := scaler.New(scaler.Options{
		Clock: clk, Scaler: be, Sources: map[string]scaler.MetricSource{"": be},
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(b, err)
	for i := range 1000 {
		_, err := ctrl.AddRule(context.Background(), scaler.Rule{
			Service: fmt.Sprintf("svc-%04d", i), MinReplicas: 1, MaxReplicas: 20,
			Triggers: []scaler.Trigger{{Metric: "http_rps", Type: scaler.Target, Value: 100}},
			Behavior: scaler.DefaultBehavior(),
		})
		require.NoError(b, err)
	}
	ctx := context.Background()
	ctrl.Tick(ctx) // the first tick scales every service up
	for _, st := range ctrl.Statuses() {
		if st.Last.Error != "" {
			b.Fatalf("rule %s: %s", st.RuleID, st.Last.Error)
		}
	}
	for b.Loop() {
		clk.Add(ctrl.Interval())
		ctrl.Tick(ctx)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/tick")
}
