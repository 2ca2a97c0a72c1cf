package scaler_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/scaler"
)

// TestPredictiveTickAllocs: once its history ring and model are made, a
// predictive rule's steady tick allocates nothing either: a tick over 100
// such rules allocates what a tick over 10 does.
func TestPredictiveTickAllocs(t *testing.T) {
	tickAllocs := func(n int) float64 {
		mem := scaler.NewMemory()
		clk := &minuteClock{Mock: clock.NewMock()}
		at := midnight.Add(7 * time.Hour)
		clk.set(at)
		c, err := scaler.New(scaler.Options{Clock: clk, Interval: time.Minute, Scaler: mem,
			Sources: map[string]scaler.MetricSource{"": mem}, Logger: discardLogger(), Concurrency: 1})
		require.NoError(t, err)
		ctx := context.Background()
		for i := range n {
			svc := fmt.Sprintf("svc-%d", i)
			require.NoError(t, mem.SetReplicas(ctx, svc, 1, ""))
			mem.SetMetric(svc, "http_rps", 100)
			r := predictiveRule(scaler.HoltWinters, false)
			r.Service = svc
			addRule(t, c, r)
		}
		for range 3 {
			c.Tick(ctx)
			at = at.Add(time.Minute)
			clk.set(at)
		}
		return testing.AllocsPerRun(20, func() {
			c.Tick(ctx)
			at = at.Add(time.Minute)
			clk.set(at)
		})
	}
	a10, a100 := tickAllocs(10), tickAllocs(100)
	t.Logf("allocations per tick: %v with 10 predictive rules, %v with 100", a10, a100)
	assert.Equal(t, a10, a100, "a steady tick allocates nothing per predictive rule")
}

// TestPredictiveWeekly: a weekly trigger foresees a load that comes on
// Mondays only.
func TestPredictiveWeekly(t *testing.T) {
	t.Parallel()
	mondays := func(at time.Time) float64 {
		if at.Weekday() == time.Monday && at.Hour() == 8 {
			return 2000
		}
		return 100
	}
	r := predictiveRule(scaler.SeasonalNaive, false)
	r.Triggers[1].Predict.Seasonality = scaler.Weekly
	c, _, _ := newController(t)
	var tr []scaler.TracePoint
	end := midnight.Add(7*24*time.Hour + 7*time.Hour + 55*time.Minute) // midnight is a Monday
	for at := midnight; !at.After(end); at = at.Add(time.Minute) {
		tr = append(tr, scaler.TracePoint{At: at, Values: map[string]float64{"http_rps": mondays(at)}})
	}
	res, err := c.Preview(context.Background(), r, tr, 1)
	require.NoError(t, err)
	last := res.Trace[len(res.Trace)-1]
	assert.Equal(t, int32(20), last.Desired, "the next Monday at 7:55")
	assert.Equal(t, scaler.ReasonPredictedLoad, last.Decision.Reason)
	day := res.Trace[24*60+7*60+55] // Tuesday 7:55: the weekly model expects nothing
	assert.Equal(t, int32(1), day.Desired)
}
