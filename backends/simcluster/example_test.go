package simcluster_test

import (
	"context"
	"fmt"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/scaler"
)

// The GPO surge: 300 rps jumps tenfold for 20 minutes; the operator scales
// from 4 to 30 replicas, which take 30 seconds to start, and back.
func Example() {
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	c, err := simcluster.New(simcluster.Options{Clock: clk})
	if err != nil {
		panic(err)
	}
	trace, err := simcluster.ParseTrace("surge:base=300,factor=10,at=10m,for=20m")
	if err != nil {
		panic(err)
	}
	err = c.AddService(simcluster.ServiceSpec{
		Name:                "eligibility-api",
		Replicas:            4,
		StartupDelay:        30 * time.Second,
		CapacityRPS:         100,
		BaseLatencyMS:       40,
		PricePerReplicaHour: 50, // $0.50
		Trace:               trace,
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	show := func() {
		s, err := c.Snapshot("eligibility-api")
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-7s rps=%4.0f desired=%2d ready=%2d cpu=%3.0f%% p95=%6.1fms spent=$%s\n",
			s.Elapsed, s.RPS, s.Desired, s.Ready, s.CPUUtilization, s.LatencyP95MS, s.Cost)
	}

	show()
	clk.Add(10 * time.Minute)
	show()
	if err := c.SetReplicas(ctx, "eligibility-api", 30, "http_rps 3000 above 100 per replica"); err != nil {
		panic(err)
	}
	clk.Add(15 * time.Second)
	show()
	clk.Add(15 * time.Second)
	show()
	clk.Add(20 * time.Minute)
	show()
	if err := c.SetReplicas(ctx, "eligibility-api", 4, "surge over"); err != nil {
		panic(err)
	}
	clk.Add(30 * time.Minute)
	show()

	rps, err := c.Metric(ctx, scaler.MetricQuery{Service: "eligibility-api", Metric: "http_rps"})
	if err != nil {
		panic(err)
	}
	fmt.Println("http_rps:", rps)
	// Output:
	// 0s      rps= 300 desired= 4 ready= 4 cpu= 75% p95=  56.9ms spent=$0.00
	// 10m0s   rps=3000 desired= 4 ready= 4 cpu=100% p95=6580.0ms spent=$0.33
	// 10m15s  rps=3000 desired=30 ready= 4 cpu=100% p95=6580.0ms spent=$0.40
	// 10m30s  rps=3000 desired=30 ready=30 cpu=100% p95=  80.0ms spent=$0.46
	// 30m30s  rps= 300 desired=30 ready=30 cpu= 10% p95=  40.0ms spent=$5.46
	// 1h0m30s rps= 300 desired= 4 ready= 4 cpu= 75% p95=  56.9ms spent=$6.46
	// http_rps: 300
}
