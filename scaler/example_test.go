package scaler_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/hms-platform/mgmt/scaler"
)

// The seed's rule for eligibility-api: between 2 and 20 replicas, 100
// requests per second per replica.
func ExampleController() {
	mem := scaler.NewMemory() // the cluster and the metrics, in memory
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))
	c, err := scaler.New(scaler.Options{
		Clock:   clk,
		Scaler:  mem,
		Sources: map[string]scaler.MetricSource{"": mem},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := mem.SetReplicas(ctx, "eligibility-api", 2, "initial"); err != nil {
		panic(err)
	}
	mem.SetMetric("eligibility-api", "http_rps", 1000)

	rule, err := c.AddRule(context.Background(), scaler.Rule{
		Name:        "eligibility-surge",
		Service:     "eligibility-api",
		MinReplicas: 2,
		MaxReplicas: 20,
		Triggers:    []scaler.Trigger{{Metric: "http_rps", Type: scaler.Target, Value: 100}},
		Behavior:    scaler.DefaultBehavior(),
	})
	if err != nil {
		panic(err)
	}
	for range 3 {
		c.Tick(ctx)
		st, err := c.Status(rule.ID)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s %s: %d → %d replicas (%s: %s)\n", clk.Now().Format("15:04:05"), rule.ID,
			st.Last.Current, st.Replicas, st.Last.Reason, st.Last.Reason.Message())
		clk.Add(c.Interval())
	}
	// Output:
	// 09:00:00 AR-1: 2 → 6 replicas (ScaleUpLimitedByPolicy: limited by the scale-up rate policy)
	// 09:00:15 AR-1: 6 → 10 replicas (MetricAboveTarget: metric is above its target or threshold)
	// 09:00:30 AR-1: 10 → 10 replicas (WithinTolerance: metrics are within tolerance of the target)
}

// A dry run of the same rule over a surge and its end, from 2 replicas: the
// rate policies pace the climb, MinMax caps it at maxReplicas, and the
// scale-down stabilization window (300 s by default) holds the count for
// five minutes after the load falls. The service is not in the cluster, so
// there is no decision for now.
func ExampleController_Preview() {
	mem := scaler.NewMemory()
	c, err := scaler.New(scaler.Options{
		Clock: clock.NewMock(), Scaler: mem,
		Sources: map[string]scaler.MetricSource{"": mem},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	rule := scaler.Rule{
		Service: "eligibility-api", MinReplicas: 2, MaxReplicas: 20,
		Triggers: []scaler.Trigger{{Metric: "http_rps", Type: scaler.Target, Value: 100}},
		Behavior: scaler.DefaultBehavior(),
	}
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	var trace []scaler.TracePoint
	for _, p := range []struct {
		min int
		rps float64
	}{{0, 200}, {1, 1000}, {2, 1000}, {3, 2500}, {4, 2500}, {5, 400}, {8, 400}, {9, 400}, {10, 400}} {
		trace = append(trace, scaler.TracePoint{
			At:     start.Add(time.Duration(p.min) * time.Minute),
			Values: map[string]float64{"http_rps": p.rps},
		})
	}
	res, err := c.Preview(context.Background(), rule, trace, 2)
	if err != nil {
		panic(err)
	}
	fmt.Println("now:", res.NowError) // eligibility-api is not in the cluster
	for _, s := range res.Trace {
		why := string(s.Decision.Reason)
		if s.Decision.GuardReason != "" {
			why += ": " + s.Decision.GuardReason
		}
		fmt.Printf("%s %4.0f rps: %2d → %2d (%s)\n", s.At.Format("15:04"), s.Decision.Value,
			s.Replicas, s.Desired, why)
	}
	// Output:
	// now: service: no service "eligibility-api"
	// 09:00  200 rps:  2 →  2 (WithinTolerance)
	// 09:01 1000 rps:  2 →  6 (ScaleUpLimitedByPolicy)
	// 09:02 1000 rps:  6 → 10 (MetricAboveTarget)
	// 09:03 2500 rps: 10 → 20 (ScaleUpLimitedByPolicy)
	// 09:04 2500 rps: 20 → 20 (TooManyReplicas: capped at maxReplicas 20)
	// 09:05  400 rps: 20 → 20 (ScaleDownStabilized)
	// 09:08  400 rps: 20 → 20 (ScaleDownStabilized)
	// 09:09  400 rps: 20 →  4 (MetricBelowTarget)
	// 09:10  400 rps:  4 →  4 (WithinTolerance)
}
