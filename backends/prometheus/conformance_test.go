package prometheus_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/prometheus"
	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/internal/promtest"
	"github.com/hms-platform/mgmt/scaler"
	"github.com/hms-platform/mgmt/scaler/scalertest"
)

// fixture pairs a read-only metric source with the simulated cluster as
// the Scaler, which scalertest.Fixture requires: the Scaler parts of the
// suite test simcluster again, the Metric, CancelledContext and Concurrent
// parts test the source. AddService adds the service to the cluster and a
// queue gauge for it to the target, then waits until the source sees it.
type fixture struct {
	cluster *simcluster.Cluster
	source  scaler.MetricSource
	target  *target
}

func (f *fixture) Scaler() scaler.Scaler       { return f.cluster }
func (f *fixture) Source() scaler.MetricSource { return f.source }
func (f *fixture) Metric() string              { return "queue_length" }

func (f *fixture) AddService(t testing.TB, name string, replicas int32) {
	t.Helper()
	f.AddOwnedService(t, name, replicas, "")
}

// AddOwnedService gives the service the agency label, which simcluster
// reports as its owner ("" gives it no labels).
func (f *fixture) AddOwnedService(t testing.TB, name string, replicas int32, owner string) {
	t.Helper()
	var labels mgmt.Labels
	if owner != "" {
		labels = mgmt.Labels{mgmt.LabelAgency: owner}
	}
	require.NoError(t, f.cluster.AddService(simcluster.ServiceSpec{
		Name: name, Replicas: replicas, CapacityRPS: 100, Trace: simcluster.Constant(0), Labels: labels,
	}))
	f.target.queue.WithLabelValues(name).Set(float64(replicas))
	// A Prometheus sees the series after its next scrape.
	poll(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := f.source.Metric(ctx, scaler.MetricQuery{Service: name, Metric: f.Metric()})
		return err == nil, fmt.Sprintf("the source does not see service %s: %v", name, err)
	})
}

func newFixture(t *testing.T, tg *target, src scaler.MetricSource) *fixture {
	c, err := simcluster.New(simcluster.Options{})
	require.NoError(t, err)
	return &fixture{cluster: c, source: src, target: tg}
}

func TestConformanceScrape(t *testing.T) {
	t.Parallel()
	tg := newTarget(t)
	src, err := prometheus.NewScrape(prometheus.ScrapeOptions{
		URL:       tg.url(),
		Selectors: map[string]string{"queue_length": `scalertest_queue{service="{{service}}"}`},
	})
	require.NoError(t, err)
	scalertest.Run(t, func(t *testing.T) scalertest.Fixture { return newFixture(t, tg, src) })
}

// TestConformancePrometheus runs the suite against a real Prometheus that
// scrapes the target. The services of all subtests share the target and
// the server; no subtest adds the service the suite treats as unknown.
func TestConformancePrometheus(t *testing.T) {
	t.Parallel()
	tg := newTarget(t)
	srv := promtest.Start(t, promtest.Config{Targets: []string{tg.addr()}})
	src, err := prometheus.New(prometheus.Options{
		Address:   srv.URL(),
		Templates: map[string]string{"queue_length": `sum(scalertest_queue{service="{{service}}"})`},
		Logger:    slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	scalertest.Run(t, func(t *testing.T) scalertest.Fixture { return newFixture(t, tg, src) })
}
