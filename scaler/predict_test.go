package scaler_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/scaler"
)

// midnight is the start of the predictive tests' days.
var midnight = time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)

// officeLoad is 100 rps, and 2,000 rps from 8:00 to 9:00, every day.
func officeLoad(at time.Time) float64 {
	if at.Hour() == 8 {
		return 2000
	}
	return 100
}

// predictiveRule: a reactive target of 100 and a predictive one of 100
// with a 5-minute lead, between 1 and 40 replicas, adding up to 100 at a
// time.
func predictiveRule(model scaler.ForecastModel, forecastOnly bool) scaler.Rule {
	r := targetRule(1, 40, 100, func(b *scaler.Behavior) {
		noDownWindow(b)
		b.ScaleUp.Policies = []scaler.Policy{{Type: scaler.Pods, Value: 100, Period: 15 * time.Second}}
	})
	r.Triggers = append(r.Triggers, scaler.Trigger{Metric: "http_rps", Type: scaler.Predictive, Value: 100,
		Predict: &scaler.Prediction{Seasonality: scaler.Daily, Model: model, Lead: 5 * time.Minute, ForecastOnly: forecastOnly}})
	return r
}

// minutely previews r over officeLoad, one point a minute from midnight
// for the given time, and returns the steps by time of day of the last
// day.
func minutely(t *testing.T, r scaler.Rule, d time.Duration) map[string]scaler.PreviewStep {
	t.Helper()
	c, _, _ := newController(t)
	var tr []scaler.TracePoint
	for at := midnight; at.Before(midnight.Add(d)); at = at.Add(time.Minute) {
		tr = append(tr, scaler.TracePoint{At: at, Values: map[string]float64{"http_rps": officeLoad(at)}})
	}
	res, err := c.Preview(context.Background(), r, tr, 1)
	require.NoError(t, err)
	out := map[string]scaler.PreviewStep{}
	for _, s := range res.Trace {
		out[s.At.Format("15:04")] = s
	}
	return out
}

// TestPredictiveScalesAhead: on the first day, without a whole season of
// history, the forecast is the warm-up trend of the last minutes, which
// cannot foresee the 8:00 jump (it is seen at 8:00); on the second, the
// seasonal forecast brings the 20 replicas 5 minutes before 8:00, with
// reason PredictedLoad, by either model.
func TestPredictiveScalesAhead(t *testing.T) {
	for _, model := range []scaler.ForecastModel{scaler.SeasonalNaive, scaler.HoltWinters} {
		t.Run(model.String(), func(t *testing.T) {
			t.Parallel()
			day1 := minutely(t, predictiveRule(model, false), 8*time.Hour)
			assert.Equal(t, int32(1), day1["07:56"].Desired, "no season of history on day 1")
			f := day1["07:56"].Decision.Forecast
			assert.Equal(t, "http_rps", f.Metric, "the warm-up trend's forecast")
			assert.InDelta(t, 100, f.Load, 1e-9)
			assert.Equal(t, int32(1), f.Replicas)

			steps := minutely(t, predictiveRule(model, false), 24*time.Hour+8*time.Hour)
			before := steps["07:55"]
			assert.Equal(t, int32(20), before.Desired, "ahead of 8:00 by the lead")
			assert.Equal(t, scaler.ReasonPredictedLoad, before.Decision.Reason)
			assert.Equal(t, "http_rps", before.Decision.Forecast.Metric)
			assert.InDelta(t, 2000, before.Decision.Forecast.Load, 1)
			assert.Equal(t, int32(20), before.Decision.Forecast.Replicas)
			assert.Equal(t, int32(1), steps["07:54"].Desired, "not before the lead")
		})
	}
}

// TestForecastOnly records what the forecast asks without acting.
func TestForecastOnly(t *testing.T) {
	t.Parallel()
	steps := minutely(t, predictiveRule(scaler.HoltWinters, true), 24*time.Hour+8*time.Hour)
	before := steps["07:55"]
	assert.Equal(t, int32(1), before.Desired, "forecast-only does not act")
	assert.NotEqual(t, scaler.ReasonPredictedLoad, before.Decision.Reason)
	assert.Equal(t, scaler.Forecast{Metric: "http_rps", Load: before.Decision.Forecast.Load, Replicas: 20, ForecastOnly: true}, before.Decision.Forecast)
	b, err := json.Marshal(before.Decision)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"forecast":{"metric":"http_rps","load":`)
	assert.Contains(t, string(b), `"replicas":20,"forecastOnly":true}`)
}

// minuteClock is a clock whose Now the test sets without the mock's
// yields; nothing in these tests waits on a timer.
type minuteClock struct {
	*clock.Mock
	now atomic.Int64
}

func (c *minuteClock) Now() time.Time                  { return time.Unix(0, c.now.Load()).UTC() }
func (c *minuteClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }
func (c *minuteClock) set(t time.Time)                 { c.now.Store(t.UnixNano()) }

// TestPredictiveController: the controller keeps the history between
// ticks and across Reset (a leader change); the forecast acts through the
// tick.
func TestPredictiveController(t *testing.T) {
	t.Parallel()
	mem := scaler.NewMemory()
	clk := &minuteClock{Mock: clock.NewMock()}
	clk.set(midnight)
	c, err := scaler.New(scaler.Options{Clock: clk, Interval: time.Minute, Scaler: mem,
		Sources: map[string]scaler.MetricSource{"": mem}, Logger: discardLogger()})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, mem.SetReplicas(ctx, "svc", 1, ""))
	mem.SetMetric("svc", "http_rps", officeLoad(midnight))
	id := addRule(t, c, predictiveRule(scaler.SeasonalNaive, false))
	end := midnight.Add(24*time.Hour + 7*time.Hour + 55*time.Minute)
	for at := midnight; !at.After(end); at = at.Add(time.Minute) {
		clk.set(at)
		mem.SetMetric("svc", "http_rps", officeLoad(at))
		if at.Equal(midnight.Add(24 * time.Hour)) {
			c.Reset()
		}
		c.Tick(ctx)
	}
	st := status(t, c, id)
	assert.Equal(t, scaler.ReasonPredictedLoad, st.Last.Reason)
	assert.Equal(t, int32(20), st.Replicas)

	// A preview of the live rule starts from a copy of its history.
	rule, err := c.Rule(ctx, id)
	require.NoError(t, err)
	res, err := c.Preview(ctx, rule, nil, -1)
	require.NoError(t, err)
	require.NotNil(t, res.Now)
	assert.Equal(t, "http_rps", res.Now.Forecast.Metric)
	assert.Equal(t, int32(20), res.Now.Forecast.Replicas)
	assert.Equal(t, st.Evaluations, status(t, c, id).Evaluations, "the preview changed nothing")
}

func TestPredictiveJSON(t *testing.T) {
	t.Parallel()
	body := `{"service":"svc","maxReplicas":40,"triggers":[{"metric":"http_rps","target":100},
	  {"metric":"http_rps","predictive":{"target":90,"seasonality":"weekly","model":"seasonal-naive","leadSeconds":105,"forecastOnly":true}}]}`
	r, err := scaler.DecodeRule(strings.NewReader(body))
	require.NoError(t, err)
	require.Len(t, r.Triggers, 2)
	p := r.Triggers[1]
	assert.Equal(t, scaler.Predictive, p.Type)
	assert.Equal(t, 90.0, p.Value)
	assert.Equal(t, &scaler.Prediction{Seasonality: scaler.Weekly, Model: scaler.SeasonalNaive, Lead: 105 * time.Second, ForecastOnly: true}, p.Predict)

	b, err := json.Marshal(r)
	require.NoError(t, err)
	back, err := scaler.DecodeRule(strings.NewReader(string(b)))
	require.NoError(t, err)
	assert.Equal(t, r, back, "round trip through %s", b)

	d, err := scaler.DecodeRule(strings.NewReader(`{"service":"svc","maxReplicas":4,"trigger":{"metric":"http_rps","predictive":{"target":50}}}`))
	require.NoError(t, err)
	assert.Equal(t, &scaler.Prediction{Seasonality: scaler.Daily, Model: scaler.HoltWinters, Lead: scaler.DefaultPredictionLead}, d.Triggers[0].Predict, "defaults")

	c := r.Clone()
	c.Triggers[1].Predict.Lead = time.Hour
	assert.Equal(t, 105*time.Second, r.Triggers[1].Predict.Lead, "Clone copies the prediction")
}

func TestPredictiveRefused(t *testing.T) {
	t.Parallel()
	const head = `{"service":"svc","maxReplicas":4,"trigger":`
	tests := []struct {
		name, trigger, field string
	}{
		{"no target", `{"metric":"http_rps","predictive":{}}`, "trigger.predictive.target"},
		{"zero target", `{"metric":"http_rps","predictive":{"target":0}}`, "trigger.predictive.target"},
		{"bad seasonality", `{"metric":"http_rps","predictive":{"target":9,"seasonality":"hourly"}}`, "trigger.predictive.seasonality"},
		{"bad model", `{"metric":"http_rps","predictive":{"target":9,"model":"arima"}}`, "trigger.predictive.model"},
		{"negative lead", `{"metric":"http_rps","predictive":{"target":9,"leadSeconds":-1}}`, "trigger.predictive.leadSeconds"},
		{"lead too long", `{"metric":"http_rps","predictive":{"target":9,"leadSeconds":3601}}`, "trigger.predictive.leadSeconds"},
		{"unknown key", `{"metric":"http_rps","predictive":{"target":9,"horizon":3}}`, "trigger.predictive.horizon"},
		{"per-replica metric", `{"metric":"cpu_utilization","predictive":{"target":60}}`, "trigger.metricType"},
		{"unknown metric without type", `{"metric":"jobs","predictive":{"target":60}}`, "trigger.metricType"},
		{"with a target", `{"metric":"http_rps","target":5,"predictive":{"target":9}}`, "trigger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scaler.DecodeRule(strings.NewReader(head + tt.trigger + `}`))
			require.Error(t, err)
			assert.ErrorIs(t, err, mgmt.KindInvalid)
			assert.Equal(t, tt.field, mgmt.FieldOf(err), err.Error())
		})
	}
	// In Go: a predictive trigger needs its settings, others have none.
	r := targetRule(1, 4, 100, nil)
	r.Triggers[0].Predict = &scaler.Prediction{Seasonality: scaler.Daily, Model: scaler.HoltWinters}
	assert.Equal(t, "trigger.predictive", mgmt.FieldOf(r.Validate()))
	r.Triggers[0] = scaler.Trigger{Metric: "http_rps", Type: scaler.Predictive, Value: 10}
	assert.Equal(t, "trigger.predictive", mgmt.FieldOf(r.Validate()))
	r.Triggers[0].Predict = &scaler.Prediction{Seasonality: scaler.Daily, Model: scaler.HoltWinters, Lead: 1500 * time.Millisecond}
	assert.Equal(t, "trigger.predictive.leadSeconds", mgmt.FieldOf(r.Validate()))
}

// historySource is Memory with a past: officeLoad, or an error.
type historySource struct {
	*scaler.Memory
	err   error
	calls atomic.Int32
}

func (h *historySource) MetricHistory(_ context.Context, _ scaler.MetricQuery, from time.Time, step time.Duration, dst []float64) error {
	h.calls.Add(1)
	if h.err != nil {
		return h.err
	}
	for i := range dst {
		dst[i] = officeLoad(from.Add(time.Duration(i) * step))
	}
	return nil
}

// TestPredictiveBackfill: with a HistorySource, a rule added at 7:55
// forecasts at its first tick; the source is asked once. Without one, or
// when it fails, the trigger starts without history and the rule only
// reacts.
func TestPredictiveBackfill(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		want   int32
		reason scaler.Reason
	}{
		{"history", nil, 20, scaler.ReasonPredictedLoad},
		{"history fails", mgmt.Unavailable("metrics store down"), 1, scaler.ReasonSteady},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := &historySource{Memory: scaler.NewMemory(), err: tt.err}
			clk := &minuteClock{Mock: clock.NewMock()}
			at := midnight.Add(2*24*time.Hour + 7*time.Hour + 55*time.Minute)
			clk.set(at)
			c, err := scaler.New(scaler.Options{Clock: clk, Interval: time.Minute, Scaler: src,
				Sources: map[string]scaler.MetricSource{"": src}, Logger: discardLogger()})
			require.NoError(t, err)
			ctx := context.Background()
			require.NoError(t, src.SetReplicas(ctx, "svc", 1, ""))
			src.SetMetric("svc", "http_rps", officeLoad(at))
			id := addRule(t, c, predictiveRule(scaler.HoltWinters, false))
			c.Tick(ctx)
			st := status(t, c, id)
			assert.Equal(t, tt.want, st.Replicas)
			assert.Equal(t, tt.reason, st.Last.Reason)
			clk.set(at.Add(time.Minute))
			c.Tick(ctx)
			assert.Equal(t, int32(1), src.calls.Load(), "asked once")
		})
	}
}

// The README's predictive rule decodes, with its predictive trigger.
func TestREADMEPredictiveExample(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, sec, ok := strings.Cut(string(b), "### Predictive scaling\n")
	require.True(t, ok, "README.md has a Predictive scaling section")
	_, block, ok := strings.Cut(sec, "```json\n")
	require.True(t, ok)
	block, _, ok = strings.Cut(block, "```")
	require.True(t, ok)
	r, err := scaler.DecodeRule(strings.NewReader(block))
	require.NoError(t, err)
	require.Len(t, r.Triggers, 2)
	assert.Equal(t, scaler.Predictive, r.Triggers[1].Type)
	assert.Equal(t, 150*time.Second, r.Triggers[1].Predict.Lead)
}

// TestPredictiveUpdateKeepsHistory: changing a predictive trigger's model
// or lead keeps its history; changing its seasonality starts it afresh.
func TestPredictiveUpdateKeepsHistory(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(p *scaler.Prediction)
		want   int32
		reason scaler.Reason
	}{
		{"model and lead", func(p *scaler.Prediction) { p.Model = scaler.HoltWinters }, 20, scaler.ReasonPredictedLoad},
		{"seasonality", func(p *scaler.Prediction) { p.Seasonality = scaler.Weekly }, 1, scaler.ReasonSteady},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mem := scaler.NewMemory()
			clk := &minuteClock{Mock: clock.NewMock()}
			clk.set(midnight)
			c, err := scaler.New(scaler.Options{Clock: clk, Interval: time.Minute, Scaler: mem,
				Sources: map[string]scaler.MetricSource{"": mem}, Logger: discardLogger()})
			require.NoError(t, err)
			ctx := context.Background()
			require.NoError(t, mem.SetReplicas(ctx, "svc", 1, ""))
			r := predictiveRule(scaler.SeasonalNaive, false)
			id := addRule(t, c, r)
			// At 7:50 the 5-minute lead does not reach 8:00; the updated
			// rule's 10-minute one does, if the history is still there.
			end := midnight.Add(24*time.Hour + 7*time.Hour + 50*time.Minute)
			for at := midnight; !at.After(end); at = at.Add(time.Minute) {
				clk.set(at)
				mem.SetMetric("svc", "http_rps", officeLoad(at))
				if at.Equal(end) {
					r.Triggers[1].Predict = &scaler.Prediction{Seasonality: scaler.Daily, Model: scaler.SeasonalNaive, Lead: 10 * time.Minute}
					tt.edit(r.Triggers[1].Predict)
					_, err := c.UpdateRule(ctx, id, r)
					require.NoError(t, err)
				}
				c.Tick(ctx)
			}
			st := status(t, c, id)
			assert.Equal(t, tt.want, st.Replicas)
			assert.Equal(t, tt.reason, st.Last.Reason)
		})
	}
}
