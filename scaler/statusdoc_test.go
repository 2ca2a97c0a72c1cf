package scaler

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A status saved and read back is the status, but for a failed read's
// error, which keeps its text only, and a NaN value.
func TestStatusDocRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	ds := []Decision{
		{At: at, Current: 2, Ready: 2, Recommended: 4, Desired: 4, Reason: ReasonScaleUp, Metric: "http_rps", Value: 400, Applied: true},
		{At: at.Add(time.Minute), Current: 4, Ready: 3, Recommended: 9, Desired: 7, Reason: ReasonGuarded,
			Metric: "http_rps", Value: 900, Guard: "budget", GuardReason: "7 fit the cap", GuardFrom: 9, Applied: true},
		{At: at.Add(2 * time.Minute), Current: 7, Ready: 7, Recommended: 7, Desired: 7, Reason: ReasonMetricUnavailable,
			Metric: "http_rps", Value: math.NaN(), Error: "prometheus is down"},
		{At: at.Add(3 * time.Minute), Current: 7, Ready: 7, Recommended: 2, Desired: 5, Reason: ReasonScaleFailed, Error: "refused"},
		{At: at.Add(4 * time.Minute), Current: 7, Ready: 7, Recommended: 10, Desired: 10, Reason: ReasonScheduledMinimum,
			Metric: "http_rps", Value: 100, Schedule: "business-hours", Applied: true},
		{At: at.Add(5 * time.Minute), Current: 10, Ready: 10, Recommended: 14, Desired: 14, Reason: ReasonPredictedLoad,
			Metric: "http_rps", Value: 900, Forecast: Forecast{Metric: "http_rps", Load: 1330, Replicas: 14}, Applied: true},
	}
	st := Status{RuleID: "AR-3", Service: "api", Replicas: 7, Ready: 7, Desired: 5,
		Metrics: []Reading{{Metric: "http_rps", Err: errors.New("prometheus is down"), At: at}, {Metric: "cpu", Value: 0.5, At: at}},
		Last:    ds[5], History: ds, Failures: 1, Evaluations: 12}
	b, err := encodeStatus(st, 4)
	require.NoError(t, err)
	doc, err := decodeStatus(b)
	require.NoError(t, err)
	assert.Equal(t, int64(4), doc.Version)
	r := Rule{ID: "AR-3", Service: "api"}
	got := doc.status(&r)
	assert.Equal(t, st.Last.Reason, got.Last.Reason)
	assert.Equal(t, st.Evaluations, got.Evaluations)
	assert.Equal(t, st.Failures, got.Failures)
	require.Len(t, got.History, len(ds))
	for i := range ds {
		want, g := ds[i], got.History[i]
		if math.IsNaN(want.Value) {
			assert.True(t, math.IsNaN(g.Value))
			want.Value, g.Value = 0, 0
		}
		assert.Equal(t, want, g, "decision %d", i)
	}
	assert.Equal(t, "prometheus is down", got.Metrics[0].Err.Error())
	assert.True(t, math.IsNaN(got.Metrics[0].Value))
	assert.Equal(t, 0.5, got.Metrics[1].Value)
	assert.NoError(t, got.Metrics[1].Err)
}
