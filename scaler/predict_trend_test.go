package scaler

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// warmingPredictor is a daily predictor that has stored vals as the means
// of the minutes from first on: far less than a season.
func warmingPredictor(t *testing.T, first int64, vals ...float64) *predictor {
	t.Helper()
	p := newPredictor(&Trigger{Metric: "http_rps", Type: Predictive, Value: 100,
		Predict: &Prediction{Seasonality: Daily, Model: HoltWinters, Lead: 5 * time.Minute}})
	for i, v := range vals {
		p.store(first+int64(i), v)
	}
	require.Less(t, p.have, p.period)
	return p
}

// TestTrendForecastRamp: before a whole season, a ramp of 10 a minute is
// forecast along its line: the highest forecast of the minutes from now
// to now+Lead is the last minute's value plus the slope times the minutes
// from it to now+Lead. With fewer minutes than TrendMinutes the line goes
// through those; with one, the forecast is that minute's value.
func TestTrendForecastRamp(t *testing.T) {
	t.Parallel()
	pr := &Prediction{Seasonality: Daily, Model: HoltWinters, Lead: 5 * time.Minute}
	const first = 1000
	ramp := make([]float64, 2*TrendMinutes)
	for i := range ramp {
		ramp[i] = 100 + 10*float64(i)
	}
	at := func(m int64) time.Time { return time.Unix(60*m, 0) }

	p := warmingPredictor(t, first, ramp...)
	last := int64(first + len(ramp) - 1)
	// Now is the minute after the last stored one; now+Lead is 6 minutes
	// after the last.
	got, ok := p.forecast(pr, at(last+1))
	require.True(t, ok)
	assert.InDelta(t, ramp[len(ramp)-1]+10*6, got, 1e-9)

	// A noisy last minute moves the fitted line, not the forecast alone.
	noisy := append([]float64(nil), ramp...)
	noisy[len(noisy)-1] += 50
	got, ok = warmingPredictor(t, first, noisy...).forecast(pr, at(last+1))
	require.True(t, ok)
	assert.Greater(t, got, ramp[len(ramp)-1]+10*6)
	assert.Less(t, got, noisy[len(noisy)-1]+10*6)

	got, ok = warmingPredictor(t, first, 100, 110, 120).forecast(pr, at(first+3))
	require.True(t, ok)
	assert.InDelta(t, 120+10*6, got, 1e-9, "three minutes")

	got, ok = warmingPredictor(t, first, 250).forecast(pr, at(first+1))
	require.True(t, ok)
	assert.InDelta(t, 250, got, 1e-9, "one minute")

	_, ok = warmingPredictor(t, first).forecast(pr, at(first))
	assert.False(t, ok, "no minute stored, no forecast")
}

// TestTrendForecastFalling: on a falling series the highest forecast is
// the nearest minute's, and a line that falls through 0 forecasts 0, never
// less.
func TestTrendForecastFalling(t *testing.T) {
	t.Parallel()
	pr := &Prediction{Seasonality: Daily, Model: HoltWinters, Lead: 5 * time.Minute}
	const first = 1000
	at := func(m int64) time.Time { return time.Unix(60*m, 0) }

	// 200, 180, …, 20: the next minute is 0 on the line.
	fall := make([]float64, 10)
	for i := range fall {
		fall[i] = 200 - 20*float64(i)
	}
	got, ok := warmingPredictor(t, first, fall...).forecast(pr, at(first+int64(len(fall))))
	require.True(t, ok)
	assert.InDelta(t, 0, got, 1e-9)

	// 300, 200, 100: every minute ahead is below 0 on the line.
	got, ok = warmingPredictor(t, first, 300, 200, 100).forecast(pr, at(first+4))
	require.True(t, ok)
	assert.Zero(t, got)

	// Falling slowly: the nearest minute ahead, 95, is the highest.
	got, ok = warmingPredictor(t, first, 110, 105, 100).forecast(pr, at(first+3))
	require.True(t, ok)
	assert.InDelta(t, 95, got, 1e-9)
}
