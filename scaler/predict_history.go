package scaler

import (
	"context"
	"math"
	"time"
)

// HistorySource is a MetricSource that also remembers a metric's past, as
// a metrics store does (a Prometheus range query). A predictive trigger
// whose source is one starts from the last two seasons of its metric
// instead of from nothing: the controller asks once, when it starts
// keeping the trigger's history (a new rule, a restarted host, a new
// leader that had none), and forecasts at once.
type HistorySource interface {
	MetricSource
	// MetricHistory fills dst[i] with the value a read of q would have
	// returned at from + i×step, or NaN where it has none. Like Metric, it
	// honours ctx and wraps mgmt.ErrNotFound or mgmt.ErrUnavailable.
	MetricHistory(ctx context.Context, q MetricQuery, from time.Time, step time.Duration, dst []float64) error
}

// backfill gives the predictive triggers of r whose history is new the
// past their HistorySource remembers. It asks each source once per
// predictor: a failed read is logged and the history starts empty.
func (c *Controller) backfill(dl *deadlines, rs *ruleState, r *Rule, now time.Time) {
	rs.mu.Lock()
	if rs.rule != r {
		rs.mu.Unlock()
		return
	}
	rs.eng.ensurePredictors(r)
	var todo []int
	for i, p := range rs.eng.predictors {
		if p != nil && !p.asked {
			p.asked = true
			if _, ok := c.sources[r.Triggers[i].Source].(HistorySource); ok {
				todo = append(todo, i)
			}
		}
	}
	rs.mu.Unlock()
	for _, i := range todo {
		t := &r.Triggers[i]
		hs := c.sources[t.Source].(HistorySource)
		period := int64(t.Predict.Seasonality.Period() / time.Minute)
		vals := make([]float64, 2*period)
		// The minutes before the current one, at their last second, as a
		// reading each minute would have seen it.
		first := now.Truncate(time.Minute).Add(-time.Duration(len(vals))*time.Minute + time.Minute - time.Second)
		err := hs.MetricHistory(dl.get(), MetricQuery{Service: r.Service, Metric: t.Metric, Query: t.Query}, first, time.Minute, vals)
		if err != nil {
			c.log.Warn("autoscale: reading the metric's history failed; the predictive trigger starts without it",
				"rule", r.ID, "service", r.Service, "metric", t.Metric, "err", err)
			continue
		}
		rs.mu.Lock()
		if rs.rule == r && i < len(rs.eng.predictors) && rs.eng.predictors[i] != nil {
			rs.eng.predictors[i].load(minuteOf(first), vals)
		}
		rs.mu.Unlock()
	}
}

// load stores vals, the means of the minutes from first on, when the
// predictor holds no minute yet; NaNs are gaps. Minutes from the one being
// accumulated on are left out.
func (p *predictor) load(first int64, vals []float64) {
	if p.have > 0 {
		return
	}
	for i, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			continue
		}
		m := first + int64(i)
		if p.n > 0 && m >= p.cur {
			break
		}
		p.store(m, v)
	}
}
