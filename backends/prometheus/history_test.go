package prometheus_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/prometheus"
	"github.com/hms-platform/mgmt/internal/promtest"
	"github.com/hms-platform/mgmt/scaler"
)

// TestMetricHistoryOnRealPrometheus: a real Prometheus scrapes a gauge the
// test sets to 3, then 5; MetricHistory reads the past back through range
// queries: NaN before Prometheus had it, 3, then 5; a history longer than
// one query's 10,000 points is read in several.
func TestMetricHistoryOnRealPrometheus(t *testing.T) {
	t.Parallel()
	tg := newTarget(t)
	tg.queue.WithLabelValues("a").Set(3)
	tg.queue.WithLabelValues("b").Set(4)
	srv := promtest.Start(t, promtest.Config{Targets: []string{tg.addr()}, ScrapeInterval: time.Second})
	src := newSource(t, prometheus.Options{Address: srv.URL(), Timeout: 5 * time.Second,
		Templates: map[string]string{"queue_length": `sum(scalertest_queue{service="{{service}}"})`}})
	var hs scaler.HistorySource = src
	q := scaler.MetricQuery{Service: "a", Metric: "queue_length"}
	metric := func() (float64, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		return src.Metric(ctx, q)
	}
	poll(t, 30*time.Second, 100*time.Millisecond, func() (bool, string) {
		v, err := metric()
		return err == nil && v == 3, fmt.Sprintf("%v, %v", v, err)
	})
	tg.queue.WithLabelValues("a").Set(5)
	poll(t, 30*time.Second, 100*time.Millisecond, func() (bool, string) {
		v, err := metric()
		return err == nil && v == 5, fmt.Sprintf("%v, %v", v, err)
	})

	// 12,000 seconds up to now: two range queries, the first of them
	// (10,000 points, hours before Prometheus started) without a series.
	now := time.Now().Add(time.Second).Truncate(time.Second) // after the scrape of 5
	dst := make([]float64, 12_000)
	from := now.Add(-time.Duration(len(dst)-1) * time.Second)
	require.NoError(t, hs.MetricHistory(t.Context(), q, from, time.Second, dst))
	assert.True(t, math.IsNaN(dst[0]), "nothing hours before Prometheus started")
	assert.Equal(t, 5.0, dst[len(dst)-1], "now")
	var seen []float64
	for _, v := range dst {
		if !math.IsNaN(v) && (len(seen) == 0 || seen[len(seen)-1] != v) {
			seen = append(seen, v)
		}
	}
	assert.Equal(t, []float64{3, 5}, seen, "3, then 5, in order")

	// Errors keep their kinds.
	err := hs.MetricHistory(t.Context(), scaler.MetricQuery{Service: "a", Query: `sum(no_such_metric{service="{{service}}"})`}, from, time.Second, dst)
	assert.ErrorIs(t, err, mgmt.ErrNotFound, "%v", err)
	err = hs.MetricHistory(t.Context(), scaler.MetricQuery{Service: "a", Query: `scalertest_queue`}, now.Add(-59*time.Second), time.Second, dst[:60])
	assert.ErrorIs(t, err, mgmt.ErrInvalid, "two series: %v", err)
	err = hs.MetricHistory(t.Context(), q, from, time.Millisecond, dst)
	assert.ErrorIs(t, err, mgmt.ErrInvalid, "%v", err)
	err = hs.MetricHistory(t.Context(), scaler.MetricQuery{Service: "a", Query: `sum(x`}, from, time.Second, dst[:10])
	assert.ErrorIs(t, err, mgmt.ErrInvalid, "%v", err)
}
