package metrics_test

import (
	"context"
	"strings"
	"testing"
	"time"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/examples/internal/metrics"
	"github.com/hms-platform/mgmt/scaler"
)

func TestCallsCountErrorsByKind(t *testing.T) {
	t.Parallel()
	calls := metrics.NewCalls(nil)
	mem := scaler.NewMemory()
	s := calls.InstrumentScaler("mem", mem)
	ctx := context.Background()
	require.NoError(t, s.SetReplicas(ctx, "a", 2, ""))
	_, err := s.Replicas(ctx, "nowhere")
	require.ErrorIs(t, err, mgmt.ErrNotFound)
	src := calls.InstrumentSource("mem", scaler.MetricSourceFunc(func(context.Context, scaler.MetricQuery) (float64, error) {
		return 0, mgmt.Unavailable("down")
	}))
	_, err = src.Metric(ctx, scaler.MetricQuery{Service: "a", Metric: "http_rps"})
	require.Error(t, err)

	require.NoError(t, testutil.CollectAndCompare(calls, strings.NewReader(`
# HELP hms_backend_call_errors_total Failed calls to a backend or plugin, by backend, operation and error kind.
# TYPE hms_backend_call_errors_total counter
hms_backend_call_errors_total{backend="mem",kind="not_found",operation="replicas"} 1
hms_backend_call_errors_total{backend="mem",kind="unavailable",operation="metric"} 1
`), "hms_backend_call_errors_total"))
	assert.Equal(t, 3, testutil.CollectAndCount(calls, "hms_backend_call_duration_seconds"), "three backend/operation pairs")
}

func TestTicks(t *testing.T) {
	t.Parallel()
	ticks := metrics.NewTicks()
	ticks.Observe(1500*time.Millisecond, 3)
	ticks.Observe(time.Millisecond, 2)
	require.NoError(t, testutil.CollectAndCompare(ticks, strings.NewReader(`
# HELP hms_scaler_rules_evaluated_total Rules the autoscaler's ticks covered.
# TYPE hms_scaler_rules_evaluated_total counter
hms_scaler_rules_evaluated_total 5
`), "hms_scaler_rules_evaluated_total"))
	lint, err := testutil.CollectAndLint(ticks)
	require.NoError(t, err)
	assert.Empty(t, lint)
}

func TestLeases(t *testing.T) {
	t.Parallel()
	l := metrics.NewLeases()
	l.Follow("x")
	require.NoError(t, testutil.CollectAndCompare(l, strings.NewReader("# HELP hms_lease_leader 1 while this replica holds the lease of the loop, else 0.\n# TYPE hms_lease_leader gauge\nhms_lease_leader{lease=\"x\"} 0\n")))
	done := l.Lead("x")
	require.NoError(t, testutil.CollectAndCompare(l, strings.NewReader("# HELP hms_lease_leader 1 while this replica holds the lease of the loop, else 0.\n# TYPE hms_lease_leader gauge\nhms_lease_leader{lease=\"x\"} 1\n")))
	done()
	assert.Equal(t, 1, testutil.CollectAndCount(l))
}

// A batch backend stays one through the instrumentation, its calls timed
// per batch and its errors counted per item.
func TestCallsKeepBatches(t *testing.T) {
	t.Parallel()
	calls := metrics.NewCalls(nil)
	mem := scaler.BatchMemory{Memory: scaler.NewMemory()}
	ctx := context.Background()
	require.NoError(t, mem.SetReplicas(ctx, "a", 2, ""))
	s, ok := calls.InstrumentScaler("mem", mem).(scaler.BatchScaler)
	require.True(t, ok, "still a BatchScaler")
	_, errs := s.ReplicasBatch(ctx, []string{"a", "nowhere"})
	require.Len(t, errs, 2)
	require.ErrorIs(t, errs[1], mgmt.ErrNotFound)
	src, ok := calls.InstrumentSource("mem", mem).(scaler.BatchMetricSource)
	require.True(t, ok, "still a BatchMetricSource")
	mem.SetMetric("a", "http_rps", 5)
	vs, errs := src.MetricBatch(ctx, []scaler.MetricQuery{{Service: "a", Metric: "http_rps"}})
	require.NoError(t, errs[0])
	assert.Equal(t, 5.0, vs[0])
	_, plain := calls.InstrumentScaler("mem", mem.Memory).(scaler.BatchScaler)
	assert.False(t, plain, "a plain backend stays plain")
	require.NoError(t, testutil.CollectAndCompare(calls, strings.NewReader(`
# HELP hms_backend_call_errors_total Failed calls to a backend or plugin, by backend, operation and error kind.
# TYPE hms_backend_call_errors_total counter
hms_backend_call_errors_total{backend="mem",kind="not_found",operation="replicas_batch"} 1
`), "hms_backend_call_errors_total"))
}

// history remembers a constant past.
type history struct{}

func (history) MetricHistory(_ context.Context, _ scaler.MetricQuery, _ time.Time, _ time.Duration, dst []float64) error {
	for i := range dst {
		dst[i] = 7
	}
	return nil
}

// TestCallsKeepHistory: an instrumented HistorySource is still one (the
// predictive triggers read its past), batch or not, and its calls are
// timed as "metric_history".
func TestCallsKeepHistory(t *testing.T) {
	t.Parallel()
	calls := metrics.NewCalls(nil)
	one := scaler.MetricSourceFunc(func(context.Context, scaler.MetricQuery) (float64, error) { return 1, nil })
	hs, ok := calls.InstrumentSource("hist", struct {
		scaler.MetricSourceFunc
		history
	}{one, history{}}).(scaler.HistorySource)
	require.True(t, ok, "still a HistorySource")
	dst := make([]float64, 3)
	require.NoError(t, hs.MetricHistory(context.Background(), scaler.MetricQuery{Service: "a", Metric: "http_rps"}, time.Unix(0, 0), time.Minute, dst))
	assert.Equal(t, []float64{7, 7, 7}, dst)
	_, plain := calls.InstrumentSource("mem", one).(scaler.HistorySource)
	assert.False(t, plain, "a source without a past stays without")
	src := calls.InstrumentSource("both", struct {
		scaler.BatchMemory
		history
	}{scaler.BatchMemory{Memory: scaler.NewMemory()}, history{}})
	_, isBatch := src.(scaler.BatchMetricSource)
	_, isHist := src.(scaler.HistorySource)
	assert.True(t, isBatch && isHist, "both kept")
	reg := promclient.NewRegistry()
	reg.MustRegister(calls)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	timed := false
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				timed = timed || l.GetName() == "operation" && l.GetValue() == "metric_history"
			}
		}
	}
	assert.True(t, timed, "metric_history calls are timed")
}
