package scaler

import (
	"context"
	"math"
	"sort"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// TracePoint is one step of a metric trace for Preview: the time and the
// value of each metric at that time, keyed by metric name.
type TracePoint struct {
	At     time.Time          `json:"t"`
	Values map[string]float64 `json:"values"`
}

// PreviewStep is what the rule would decide at one trace point.
type PreviewStep struct {
	At       time.Time `json:"t"`
	Replicas int32     `json:"replicas"` // before the decision
	Desired  int32     `json:"desired"`
	Decision Decision  `json:"decision"`
}

// PreviewResult is the outcome of a dry run.
type PreviewResult struct {
	// Now is what the rule would decide at this moment from live metrics;
	// NowError is set instead when the cluster or a metric could not be
	// read.
	Now      *Decision `json:"now,omitempty"`
	NowError string    `json:"nowError,omitempty"`
	// NowErr is the error behind NowError, for errors.Is and mgmt.KindOf.
	NowErr error `json:"-"`
	// Trace holds one step per trace point, in time order.
	Trace []PreviewStep `json:"trace,omitempty"`
}

// Preview returns the replica counts rule r would produce — now, from live
// metrics and the cluster's current count, and over trace — without acting
// and without changing any rule's state. If a rule with r.ID exists, "now"
// starts from that rule's stabilization and rate-policy memory.
//
// The rule's schedules bound both: "now" at the controller's clock, each
// trace step at its point's time (TracePoint.At).
//
// Over the trace the rule starts from startReplicas (or, when negative, the
// live count, falling back to MinReplicas) with empty memory, and replicas
// are assumed ready as soon as they are decided. Guards apply in both.
//
// Predictive triggers forecast in both: "now" from a copy of the live
// rule's metric history (when r.ID names one), the trace from the history
// its own points build, so a trace must cover a whole season (a day, or a
// week) before they forecast by their model (by the warm-up trend
// before); their history is not asked of a HistorySource. Decision.Forecast shows what they asked for.
func (c *Controller) Preview(ctx context.Context, r Rule, trace []TracePoint, startReplicas int32) (PreviewResult, error) {
	r = r.Clone()
	if err := r.Validate(); err != nil {
		return PreviewResult{}, err
	}
	if err := c.checkSources(&r); err != nil {
		return PreviewResult{}, err
	}
	for i, p := range trace {
		if p.At.IsZero() {
			return PreviewResult{}, mgmt.Invalid("trace["+itoa(i)+"].t", "is required")
		}
		for _, t := range r.Triggers {
			v, ok := p.Values[t.Metric]
			if !ok {
				return PreviewResult{}, mgmt.Invalid("trace["+itoa(i)+"].values."+t.Metric, "is missing: the rule's triggers read it")
			}
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				return PreviewResult{}, mgmt.Invalid("trace["+itoa(i)+"].values."+t.Metric, "must be a finite number ≥ 0, got %v", v)
			}
		}
	}
	var res PreviewResult
	var mm minMaxReasons
	dl := deadlines{parent: ctx, timeout: c.opts.CallTimeout}
	defer dl.stop()

	var eng engine
	if r.ID != "" {
		c.mu.RLock()
		rs, ok := c.rules[r.ID]
		c.mu.RUnlock()
		if ok {
			rs.mu.Lock()
			eng = rs.eng.clone()
			rs.mu.Unlock()
		}
	}
	cur, err := c.opts.Scaler.Replicas(dl.get(), r.Service)
	live := err == nil
	if err != nil {
		res.NowError, res.NowErr = err.Error(), err
	} else {
		readings := make([]Reading, len(r.Triggers))
		now := c.clock.Now()
		for i := range r.Triggers {
			readings[i] = c.read(dl.get(), r.Service, &r.Triggers[i], now)
		}
		d := c.guard(&dl, &r, eng.evaluate(&r, now, cur, readings), &mm)
		res.Now = &d
	}

	if len(trace) == 0 {
		return res, nil
	}
	points := append([]TracePoint(nil), trace...)
	sort.SliceStable(points, func(i, j int) bool { return points[i].At.Before(points[j].At) })
	replicas := startReplicas
	if replicas < 0 {
		replicas = r.MinReplicas
		if live {
			replicas = cur.Desired
		}
	}
	eng = engine{}
	readings := make([]Reading, len(r.Triggers))
	res.Trace = make([]PreviewStep, 0, len(points))
	for _, p := range points {
		for i, t := range r.Triggers {
			readings[i] = Reading{Metric: t.Metric, Value: p.Values[t.Metric], At: p.At}
		}
		st := ReplicaStatus{Desired: replicas, Ready: replicas}
		d := c.guard(&dl, &r, eng.evaluate(&r, p.At, st, readings), &mm)
		if d.Desired != replicas {
			d.Applied = true
			eng.applied(&r.Behavior, p.At, replicas, d.Desired)
		}
		res.Trace = append(res.Trace, PreviewStep{At: p.At, Replicas: replicas, Desired: d.Desired, Decision: d})
		replicas = d.Desired
	}
	return res, nil
}

func (e *engine) clone() engine {
	c := *e
	c.recs = append([]timedCount(nil), e.recs...)
	c.upEvents = append([]timedCount(nil), e.upEvents...)
	c.downEvents = append([]timedCount(nil), e.downEvents...)
	c.specs = append([]specCache(nil), e.specs...) // the specs themselves are immutable
	if e.predictors != nil {
		c.predictors = make([]*predictor, len(e.predictors))
		for i, p := range e.predictors {
			if p != nil {
				c.predictors[i] = p.clone()
			}
		}
		c.preds = append([]int32(nil), e.preds...)
	}
	return c
}
