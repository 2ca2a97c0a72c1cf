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

// TestMetricLag: a step from 100 to 1000 rps at t0+60s, scraped every 15 s
// over a 60 s rate window. The scrape at or before the read decides; the
// average climbs over the window.
func TestMetricLag(t *testing.T) {
	c, clk := newCluster(t)
	sp := spec("api", 4)
	sp.Trace = simcluster.Surge{Base: 100, Factor: 10, At: time.Minute}
	sp.TraceStart = t0
	sp.MetricLag = simcluster.MetricLag{ScrapeInterval: 15 * time.Second, RateWindow: time.Minute}
	require.NoError(t, c.AddService(sp))
	tests := []struct {
		at   time.Duration
		want float64
	}{
		{59 * time.Second, 100},
		{61 * time.Second, 115},   // the scrape at 60 s: samples 1 s … 60 s, one at 1000
		{74 * time.Second, 115},   // still the scrape at 60 s
		{75 * time.Second, 340},   // samples 16 s … 75 s: 16 at 1000, 44 at 100
		{120 * time.Second, 1000}, // the whole window after the step
	}
	for _, tt := range tests {
		clk.Set(t0.Add(tt.at))
		v, err := c.Metric(context.Background(), scaler.MetricQuery{Service: "api", Metric: "http_rps"})
		require.NoError(t, err)
		assert.InDelta(t, tt.want, v, 1e-9, "at %s", tt.at)
		snap, err := c.Snapshot("api")
		require.NoError(t, err)
		assert.Equal(t, sp.Trace.RPS(tt.at), snap.RPS, "the snapshot is the truth at %s", tt.at)
	}
}

func TestMetricLagRefused(t *testing.T) {
	tests := []struct {
		name  string
		lag   simcluster.MetricLag
		field string
	}{
		{"negative scrape", simcluster.MetricLag{ScrapeInterval: -time.Second}, "service.metricLag.scrapeInterval"},
		{"negative window", simcluster.MetricLag{RateWindow: -time.Second}, "service.metricLag.rateWindow"},
		{"window too long", simcluster.MetricLag{RateWindow: 2 * time.Hour}, "service.metricLag.rateWindow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newCluster(t)
			sp := spec("api", 1)
			sp.MetricLag = tt.lag
			requireKind(t, c.AddService(sp), mgmt.KindInvalid, tt.field)
		})
	}
}

func TestProfile(t *testing.T) {
	p := simcluster.Profile{Period: 4 * time.Hour, Points: []float64{100, 300, 200, 0}}
	require.NoError(t, p.Validate())
	tests := []struct {
		at   time.Duration
		want float64
	}{{0, 100}, {30 * time.Minute, 200}, {time.Hour, 300}, {3*time.Hour + 30*time.Minute, 50}, {4 * time.Hour, 100}, {5 * time.Hour, 300}}
	for _, tt := range tests {
		assert.InDelta(t, tt.want, p.RPS(tt.at), 1e-9, "at %s", tt.at)
	}
	requireKind(t, simcluster.Profile{Period: time.Hour}.Validate(), mgmt.KindInvalid, "profile.points")
	requireKind(t, simcluster.Profile{Points: []float64{1}}.Validate(), mgmt.KindInvalid, "profile.period")
}

func TestFlashCrowd(t *testing.T) {
	f := simcluster.FlashCrowd{Base: 400, Peak: 4000, At: 10 * time.Minute, Rise: 2 * time.Minute, Hold: 5 * time.Minute, Decay: 10 * time.Minute}
	require.NoError(t, f.Validate())
	tests := []struct {
		at   time.Duration
		want float64
	}{
		{0, 400}, {11 * time.Minute, 2200}, {12 * time.Minute, 4000}, {16 * time.Minute, 4000},
		{27 * time.Minute, 400 + 3600*math.Exp(-1)},
	}
	for _, tt := range tests {
		assert.InDelta(t, tt.want, f.RPS(tt.at), 1e-9, "at %s", tt.at)
	}
	requireKind(t, simcluster.FlashCrowd{Rise: -1}.Validate(), mgmt.KindInvalid, "flash.rise")
}

// TestNoisy: the same seed gives the same load whatever the order of the
// reads; the noise has about the asked spread and no bias.
func TestNoisy(t *testing.T) {
	n := simcluster.Noisy{Trace: simcluster.Constant(1000), Sigma: 0.05, Seed: 7}
	require.NoError(t, n.Validate())
	const k = 20000
	var sum, sq float64
	for i := k - 1; i >= 0; i-- {
		v := n.RPS(time.Duration(i) * time.Second)
		sum += v
		sq += v * v
	}
	mean := sum / k
	sd := math.Sqrt(sq/k - mean*mean)
	assert.InDelta(t, 1000, mean, 2)
	assert.InDelta(t, 50, sd, 2)
	assert.Equal(t, n.RPS(1234*time.Second), n.RPS(1234*time.Second+500*time.Millisecond), "one draw per step")
	other := simcluster.Noisy{Trace: simcluster.Constant(1000), Sigma: 0.05, Seed: 8}
	assert.NotEqual(t, n.RPS(time.Second), other.RPS(time.Second))
	requireKind(t, simcluster.Noisy{Trace: simcluster.Constant(-1)}.Validate(), mgmt.KindInvalid, "noisy.constant")
	requireKind(t, simcluster.Noisy{Trace: simcluster.Constant(1), Sigma: 2}.Validate(), mgmt.KindInvalid, "noisy.sigma")
}

// TestMetricHistory: the history is what reads at those times returned,
// lag included, and NaN after now.
func TestMetricHistory(t *testing.T) {
	c, clk := newCluster(t)
	sp := spec("api", 4)
	sp.Trace = simcluster.Surge{Base: 100, Factor: 10, At: time.Minute}
	sp.TraceStart = t0
	sp.MetricLag = simcluster.MetricLag{ScrapeInterval: 15 * time.Second, RateWindow: time.Minute}
	require.NoError(t, c.AddService(sp))
	ctx := context.Background()
	q := scaler.MetricQuery{Service: "api", Metric: "http_rps"}
	clk.Set(t0.Add(181 * time.Second))
	dst := make([]float64, 5)
	require.NoError(t, c.MetricHistory(ctx, q, t0.Add(61*time.Second), time.Minute, dst))
	for i, at := range []time.Duration{61 * time.Second, 121 * time.Second, 181 * time.Second} {
		clk.Set(t0.Add(at))
		v, err := c.Metric(ctx, q)
		require.NoError(t, err)
		assert.Equal(t, v, dst[i], "at %s", at)
	}
	assert.True(t, math.IsNaN(dst[3]) && math.IsNaN(dst[4]), "after now: %v", dst)
	requireKind(t, c.MetricHistory(ctx, scaler.MetricQuery{Service: "api", Metric: "cpu_utilization"}, t0, time.Minute, dst), mgmt.KindNotFound, "metric")
	requireKind(t, c.MetricHistory(ctx, scaler.MetricQuery{Service: "nope", Metric: "http_rps"}, t0, time.Minute, dst), mgmt.KindNotFound, "service")
}
