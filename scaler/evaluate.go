package scaler

import (
	"math"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// engine holds what one rule remembers between evaluations: the
// recommendations of the stabilization windows, the recent changes the rate
// policies count, the last change for the cooldown and the run of failed
// metric reads. Its methods allocate nothing once its slices have grown to
// the size the rule's windows need.
type engine struct {
	recs       []timedCount // unstabilized recommendations
	upEvents   []timedCount // replicas added, per change
	downEvents []timedCount // replicas removed, per change
	lastChange int64        // unix nanos of the last applied change; 0: never
	failures   int          // consecutive evaluations with a failed read
	seeded     bool         // the current count was recorded as a recommendation
	specs      []specCache  // the rule's schedules, parsed
	// The history and models of the rule's predictive triggers (nil for
	// other triggers), and what each recommends at this evaluation (-1:
	// nothing). Both stay nil for a rule without a predictive trigger.
	predictors []*predictor
	preds      []int32
}

type timedCount struct {
	at int64 // unix nanos
	n  int32
}

// evaluate computes the decision for rule r at now, given what the cluster
// reported and the readings of r's triggers (readings[i] belongs to
// r.Triggers[i]). It updates the engine's memory of recommendations and
// failures but not of changes: call applied once a change reached the
// cluster. Guards run after evaluate.
//
// The schedules active at now bound the decision: the triggers'
// recommendation is clamped to their floor and ceiling before
// stabilization, and the final count is brought within them at once
// (bounds.apply) — the fallback count and a hold on missing metrics too.
func (e *engine) evaluate(r *Rule, now time.Time, cur ReplicaStatus, readings []Reading) Decision {
	d := Decision{At: now, Current: cur.Desired, Ready: cur.Ready, Desired: cur.Desired, Recommended: cur.Desired}
	if r.Paused {
		d.Reason = ReasonPaused
		return d
	}
	b := e.bounds(r, now)
	d, raw := e.decide(r, &b, now, cur, readings, d)
	if b.scheduled() {
		d = b.apply(r, d, raw)
	}
	return d
}

// decide is evaluate for a rule that is not paused, within bounds b. It
// also returns the triggers' recommendation, or -1 when it made none.
func (e *engine) decide(r *Rule, b *bounds, now time.Time, cur ReplicaStatus, readings []Reading, d Decision) (Decision, int32) {
	if !e.seeded {
		// As Kubernetes' HPA does on its first sync of an autoscaler
		// (recordInitialRecommendation): the count found is a
		// recommendation of now, so a rule just added — or taken over by
		// a restarted host or a new leader, whose engines start empty —
		// scales down only once the window has passed.
		e.recs = append(e.recs, timedCount{now.UnixNano(), cur.Desired})
		e.seeded = true
	}
	failed := 0
	for i := range readings {
		if readings[i].Err != nil {
			if failed == 0 {
				d.Metric, d.Value = readings[i].Metric, math.NaN()
				d.Error, d.ErrorKind = readings[i].Err.Error(), mgmt.KindOf(readings[i].Err)
			}
			failed++
		}
	}
	if failed > 0 {
		e.failures++
	} else {
		e.failures = 0
	}
	if f := r.Fallback; f != nil && e.failures >= f.FailureThreshold {
		d.Recommended, d.Desired, d.Reason = f.Replicas, f.Replicas, ReasonFallback
		return d, -1
	}
	if failed == len(readings) {
		d.Reason = ReasonMetricUnavailable
		return d, -1
	}
	var preds []int32
	if hasPredictive(r) {
		e.predictions(r, now, readings, &d)
		preds = e.preds
	}
	raw, win, reason := recommend(r, b.lo, cur, readings, preds)
	rec := b.clampRec(raw)
	if failed > 0 && rec <= cur.Desired {
		// Never scale down, or settle, on partial data.
		d.Reason = ReasonMetricUnavailable
		return d, -1
	}
	d.Error, d.ErrorKind = "", 0
	d.Recommended = raw
	if win >= 0 {
		d.Metric, d.Value = readings[win].Metric, readings[win].Value
	}
	nowNs := now.UnixNano()
	stable := e.stabilize(&r.Behavior, nowNs, cur.Desired, rec)
	limited, rateLimited := e.rateLimit(&r.Behavior, nowNs, cur.Desired, stable)
	switch {
	case rateLimited && stable > cur.Desired:
		reason = ReasonScaleUpLimited
	case rateLimited:
		reason = ReasonScaleDownLimited
	case stable > rec:
		reason = ReasonScaleDownStabilized // it wanted fewer
	case stable < rec:
		reason = ReasonScaleUpStabilized
	}
	if limited != cur.Desired && e.lastChange != 0 && r.Behavior.Cooldown > 0 &&
		nowNs-e.lastChange < int64(r.Behavior.Cooldown) {
		limited, reason = cur.Desired, ReasonCooldown
	}
	d.Desired, d.Reason = limited, reason
	return d, raw
}

func actionOf(from, to int32) Action {
	switch {
	case to > from:
		return ScaleUp
	case to < from:
		return ScaleDown
	}
	return Hold
}

// recommend returns the largest recommendation among the triggers whose
// reading succeeded, the index of the trigger that gave it (-1 if none) and
// the reason. Scale to zero needs floor, the rule's MinReplicas or an
// active schedule's, to be 0. preds[i] is what predictive trigger i
// recommends (-1: nothing; preds is nil for a rule without one).
func recommend(r *Rule, floor int32, cur ReplicaStatus, readings []Reading, preds []int32) (int32, int, Reason) {
	tol := r.Behavior.Tolerance
	ready := cur.Ready
	if ready <= 0 {
		ready = cur.Desired
	}
	best, win := int32(-1), -1
	active, unready := false, false
	for i := range r.Triggers {
		if readings[i].Err != nil {
			continue
		}
		t := &r.Triggers[i]
		v := readings[i].Value
		if v > t.Activation {
			active = true
		}
		var n int32
		switch t.Type {
		case Threshold:
			switch {
			case v > t.Value:
				// Ask for more than the current count even at the
				// maximum, so that the MinMax guard records the cap
				// instead of the rule looking steady.
				n = max(r.MaxReplicas, cur.Desired+1)
			case v < t.Value*(1-tol):
				n = r.MinReplicas
			default:
				n = cur.Desired
			}
		case Target:
			var held bool
			n, held = targetReplicas(t, aggregationOf(t), v, cur.Desired, ready, tol)
			unready = unready || held
		case Predictive:
			if preds == nil || preds[i] < 0 {
				continue
			}
			n = preds[i]
		}
		if n > best {
			best, win = n, i
		}
	}
	if best < 0 {
		return cur.Desired, -1, ReasonSteady
	}
	if floor == 0 {
		if !active {
			return 0, win, ReasonInactive
		}
		if cur.Desired == 0 {
			return max(best, 1), win, ReasonActivated
		}
	}
	switch {
	case best > cur.Desired && r.Triggers[win].Type == Predictive:
		return best, win, ReasonPredictedLoad
	case best > cur.Desired:
		return best, win, ReasonScaleUp
	case best < cur.Desired:
		return best, win, ReasonScaleDown
	case unready:
		return best, win, ReasonNotReady
	}
	return best, win, ReasonSteady
}

// aggregationOf returns the aggregation of t's metric: its MetricType's,
// else its known kind's (Validate has made sure one of them is there for a
// target trigger).
func aggregationOf(t *Trigger) Aggregation {
	if t.MetricType != "" {
		return t.MetricType.aggregation()
	}
	if k, ok := metricKinds[t.Metric]; ok {
		return k.Aggregation
	}
	return Average
}

// targetReplicas is the HPA proportional rule. held reports that the
// metric asked to move one way but the replicas not ready yet (ready <
// current) made the count point the other way, so it holds at current.
func targetReplicas(t *Trigger, agg Aggregation, v float64, current, ready int32, tol float64) (n int32, held bool) {
	if current == 0 {
		if agg == Sum {
			return ceilReplicas(v / t.Value), false
		}
		return 1, false
	}
	var ratio float64
	if agg == Sum {
		ratio = v / (float64(ready) * t.Value)
	} else {
		ratio = v / t.Value
	}
	if math.Abs(ratio-1) <= tol+1e-9 { // 1e-9: 1100/1000 is 1.1000000000000001
		return current, false
	}
	if agg == Sum {
		n = ceilReplicas(v / t.Value)
	} else {
		n = ceilReplicas(ratio * float64(ready))
	}
	// Replicas still starting make ready < current: never let that turn a
	// scale-up signal into a scale-down, or the reverse, nor pass for a
	// steady metric.
	if ratio > 1 && n <= current || ratio < 1 && n >= current {
		return current, ready < current
	}
	return n, false
}

// ceilReplicas rounds x up to a replica count, ignoring float noise below
// 1e-9 and saturating far above any valid maxReplicas.
func ceilReplicas(x float64) int32 {
	if !(x > 0) { // also NaN
		return 0
	}
	c := math.Ceil(x - 1e-9)
	if c > float64(maxReplicasLimit)+1 {
		return maxReplicasLimit + 1
	}
	return int32(c)
}

// stabilize is HPA's stabilization: the result is the current count moved
// up to the lowest recommendation of the scale-up window and down to the
// highest recommendation of the scale-down window. It records rec.
func (e *engine) stabilize(b *Behavior, now int64, current, rec int32) int32 {
	upCut := now - int64(b.ScaleUp.StabilizationWindow)
	downCut := now - int64(b.ScaleDown.StabilizationWindow)
	up, down := rec, rec
	old := -1
	for i, x := range e.recs {
		if x.at > upCut {
			up = min(up, x.n)
		}
		if x.at > downCut {
			down = max(down, x.n)
		}
		if x.at <= upCut && x.at <= downCut {
			old = i
		}
	}
	if old >= 0 {
		e.recs[old] = timedCount{now, rec}
	} else {
		e.recs = append(e.recs, timedCount{now, rec})
	}
	result := current
	if result < up {
		result = up
	}
	if result > down {
		result = down
	}
	return result
}

// rateLimit applies the scale-up or scale-down policies to desired and
// reports whether they changed it.
func (e *engine) rateLimit(b *Behavior, now int64, current, desired int32) (int32, bool) {
	switch {
	case desired > current:
		limit := e.scaleUpLimit(&b.ScaleUp, now, current)
		if limit < current {
			limit = current // wait until older changes leave the period
		}
		if current == 0 && limit < 1 && b.ScaleUp.SelectPolicy != SelectDisabled {
			limit = 1 // waking from zero always allows one replica
		}
		if desired > limit {
			return limit, true
		}
	case desired < current:
		limit := e.scaleDownLimit(&b.ScaleDown, now, current)
		if limit > current {
			limit = current
		}
		if desired < limit {
			return limit, true
		}
	}
	return desired, false
}

func changedWithin(events []timedCount, now int64, period time.Duration) int32 {
	cut := now - int64(period)
	var n int32
	for _, ev := range events {
		if ev.at > cut {
			n += ev.n
		}
	}
	return n
}

func (e *engine) scaleUpLimit(s *ScalingRules, now int64, current int32) int32 {
	if s.SelectPolicy == SelectDisabled {
		return current
	}
	var result int64 = math.MinInt64
	if s.SelectPolicy == SelectMin {
		result = math.MaxInt64
	}
	for _, p := range s.Policies {
		start := int64(current - changedWithin(e.upEvents, now, p.Period) + changedWithin(e.downEvents, now, p.Period))
		var proposed int64
		if p.Type == Pods {
			proposed = start + int64(p.Value)
		} else {
			proposed = (start*(100+int64(p.Value)) + 99) / 100 // rounded up
		}
		if s.SelectPolicy == SelectMin {
			result = min(result, proposed)
		} else {
			result = max(result, proposed)
		}
	}
	return clampInt32(result)
}

func (e *engine) scaleDownLimit(s *ScalingRules, now int64, current int32) int32 {
	if s.SelectPolicy == SelectDisabled {
		return current
	}
	// The policy allowing the largest change gives the lowest count.
	var result int64 = math.MaxInt64
	if s.SelectPolicy == SelectMin {
		result = math.MinInt64
	}
	for _, p := range s.Policies {
		start := int64(current - changedWithin(e.upEvents, now, p.Period) + changedWithin(e.downEvents, now, p.Period))
		var proposed int64
		if p.Type == Pods {
			proposed = start - int64(p.Value)
		} else {
			proposed = start * (100 - int64(p.Value)) / 100 // rounded down
		}
		if s.SelectPolicy == SelectMin {
			result = max(result, proposed)
		} else {
			result = min(result, proposed)
		}
	}
	return clampInt32(max(result, 0))
}

func clampInt32(v int64) int32 {
	switch {
	case v > math.MaxInt32:
		return math.MaxInt32
	case v < math.MinInt32:
		return math.MinInt32
	}
	return int32(v)
}

// applied records a change from → to made at now, for the rate policies and
// the cooldown. Events older than the longest policy period are dropped in
// place.
func (e *engine) applied(b *Behavior, now time.Time, from, to int32) {
	ns := now.UnixNano()
	e.lastChange = ns
	e.upEvents = prune(e.upEvents, ns, longestPeriod(b))
	e.downEvents = prune(e.downEvents, ns, longestPeriod(b))
	switch {
	case to > from:
		e.upEvents = append(e.upEvents, timedCount{ns, to - from})
	case to < from:
		e.downEvents = append(e.downEvents, timedCount{ns, from - to})
	}
}

func longestPeriod(b *Behavior) time.Duration {
	var p time.Duration
	for _, x := range b.ScaleUp.Policies {
		p = max(p, x.Period)
	}
	for _, x := range b.ScaleDown.Policies {
		p = max(p, x.Period)
	}
	return p
}

func prune(events []timedCount, now int64, keep time.Duration) []timedCount {
	cut := now - int64(keep)
	out := events[:0]
	for _, ev := range events {
		if ev.at > cut {
			out = append(out, ev)
		}
	}
	return out
}
