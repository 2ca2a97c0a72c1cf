package scaler

import (
	"math"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// Rule is an autoscale rule: keep Service between MinReplicas and
// MaxReplicas, driven by one or more triggers, paced by Behavior.
//
// Rules are values; the Controller keeps its own copy. Decode one from JSON
// with DecodeRule and check it with Validate (DecodeRule does both).
type Rule struct {
	// ID is assigned by the RuleStore ("AR-1", "AR-2", …).
	ID string
	// Version is the RuleStore's: 1 when created, one more at every
	// update. An update carrying a Version other than the stored one is a
	// conflict (0: no check).
	Version int64
	// Name is a human name that people search by ("eligibility-surge-Q3").
	Name    string
	Service string
	Labels  mgmt.Labels

	// MinReplicas may be 0 (scale to zero): the service then scales to zero
	// when no trigger's metric exceeds its activation threshold, and back to
	// at least one replica as soon as one does.
	MinReplicas int32
	MaxReplicas int32

	// Triggers: the largest recommendation among them wins.
	Triggers []Trigger
	Behavior Behavior
	// Fallback, when set, moves the service to Fallback.Replicas after
	// Fallback.FailureThreshold consecutive ticks whose metrics could not be
	// read. Without it, missing metrics hold the current count.
	Fallback *Fallback
	// Schedules bound the count while their windows are open: the highest
	// MinReplicas of the active ones raises the floor, the lowest
	// MaxReplicas lowers the ceiling (see Schedule and the package
	// documentation). At most MaxSchedules.
	Schedules []Schedule
	// Paused rules are not evaluated; their service is left as it is.
	Paused bool
}

// Tenant returns the tenant the rule belongs to: its mgmt.LabelAgency
// label, or "" when it has none.
func (r Rule) Tenant() string { return r.Labels[mgmt.LabelAgency] }

// TriggerType selects how a trigger turns a metric into replicas.
type TriggerType uint8

const (
	// Threshold triggers follow the seed's rule "scale up while the metric is
	// above the threshold": above Value the recommendation is MaxReplicas
	// (the scale-up policies set the pace of the climb); once the metric is
	// below Value×(1−tolerance) the recommendation is MinReplicas, which the
	// scale-down stabilization window delays until the metric has stayed
	// below for the whole window. In between, the count holds.
	Threshold TriggerType = iota + 1
	// Target triggers follow the Kubernetes HPA: Value is the desired
	// average per ready replica and desired = ceil(current × value/target)
	// — for a sum metric such as http_rps that is ceil(total/target). No
	// change is made while value/target is within the tolerance of 1.
	Target
	// Predictive triggers scale ahead of the load: from the metric's own
	// history, which the controller keeps, a seasonal model (a trend of
	// the last minutes until a whole season is kept) forecasts the
	// total over the next Predict.Lead and the recommendation is
	// ceil(forecast / Value), Value being the per-replica target (see
	// Prediction). The metric must be a total over the service
	// (AverageValue). With Predict.ForecastOnly the forecast is recorded in
	// the decision but recommends nothing.
	Predictive
)

// String returns "threshold", "target" or "predictive".
func (t TriggerType) String() string {
	switch t {
	case Threshold:
		return "threshold"
	case Target:
		return "target"
	case Predictive:
		return "predictive"
	}
	return "unknown"
}

// Trigger drives a rule from one metric.
type Trigger struct {
	// Metric names the metric: a known kind (see Metrics) or any other
	// name the MetricSource can read.
	Metric string
	// MetricType says how the metric relates to the replicas, for a
	// target trigger: required for a metric that is not a known kind;
	// for a known one, empty means the kind's own.
	MetricType MetricType
	Type       TriggerType
	Value      float64 // the threshold or the per-replica target, > 0
	// Activation is the value above which a scaled-to-zero service is
	// woken (only used when MinReplicas is 0). Default 0.
	Activation float64
	// Query is an optional backend-specific expression for the metric.
	Query string
	// Source names the MetricSource in Options.Sources; "" is the default.
	Source string
	// Predict configures a Predictive trigger (required for one, nil for
	// the others).
	Predict *Prediction
}

// Fallback is the replica count used when metrics keep failing.
type Fallback struct {
	FailureThreshold int
	Replicas         int32
}

// SelectPolicy chooses among several rate policies.
type SelectPolicy uint8

const (
	// SelectMax picks the policy that allows the largest change (default).
	SelectMax SelectPolicy = iota
	// SelectMin picks the policy that allows the smallest change.
	SelectMin
	// SelectDisabled forbids changes in that direction.
	SelectDisabled
)

var selectNames = [...]string{SelectMax: "Max", SelectMin: "Min", SelectDisabled: "Disabled"}

// String returns "Max", "Min" or "Disabled".
func (s SelectPolicy) String() string {
	if int(s) < len(selectNames) {
		return selectNames[s]
	}
	return "unknown"
}

// PolicyType is the unit of a rate policy.
type PolicyType uint8

const (
	// Pods allows a change of Value replicas per period.
	Pods PolicyType = iota + 1
	// Percent allows a change of Value percent of the replicas at the start
	// of the period (rounded up when scaling up, down when scaling down).
	Percent
)

// String returns "Pods" or "Percent".
func (p PolicyType) String() string {
	switch p {
	case Pods:
		return "Pods"
	case Percent:
		return "Percent"
	}
	return "unknown"
}

// Policy limits how fast replicas change: at most Value (pods or percent)
// within any Period.
type Policy struct {
	Type   PolicyType
	Value  int32
	Period time.Duration
}

// ScalingRules pace one direction, as in HPA autoscaling/v2.
type ScalingRules struct {
	// StabilizationWindow: when scaling down, the highest recommendation of
	// the window is used; when scaling up, the lowest.
	StabilizationWindow time.Duration
	SelectPolicy        SelectPolicy
	Policies            []Policy
}

// Behavior paces a rule.
type Behavior struct {
	// Tolerance is the relative deviation from a target (or below a
	// threshold) that causes no change. Default 0.1.
	Tolerance float64
	// Cooldown is the minimum time between two changes. Default 0.
	Cooldown  time.Duration
	ScaleUp   ScalingRules
	ScaleDown ScalingRules
}

// Defaults, as in the Kubernetes HPA.
const (
	DefaultTolerance             = 0.1
	DefaultScaleDownWindow       = 300 * time.Second
	DefaultScaleUpWindow         = 0
	defaultPolicyPeriod          = 15 * time.Second
	maxStabilizationWindow       = time.Hour
	maxPolicyPeriod              = 30 * time.Minute
	maxCooldown                  = 24 * time.Hour
	maxReplicasLimit       int32 = 100000
)

// DefaultBehavior returns HPA's defaults: tolerance 0.1; scale up without a
// stabilization window by at most the larger of 4 pods or 100 % per 15 s;
// scale down after a 300 s window by at most 100 % per 15 s; no cooldown.
func DefaultBehavior() Behavior {
	return Behavior{
		Tolerance: DefaultTolerance,
		ScaleUp: ScalingRules{
			StabilizationWindow: DefaultScaleUpWindow,
			SelectPolicy:        SelectMax,
			Policies: []Policy{
				{Type: Pods, Value: 4, Period: defaultPolicyPeriod},
				{Type: Percent, Value: 100, Period: defaultPolicyPeriod},
			},
		},
		ScaleDown: ScalingRules{
			StabilizationWindow: DefaultScaleDownWindow,
			SelectPolicy:        SelectMax,
			Policies:            []Policy{{Type: Percent, Value: 100, Period: defaultPolicyPeriod}},
		},
	}
}

// Validate checks the rule and returns the first problem as a *mgmt.Error of
// kind invalid whose Field is the JSON path of the offending input.
func (r *Rule) Validate() error {
	if err := mgmt.ValidateServiceName("service", r.Service); err != nil {
		return err
	}
	if len(r.Name) > 253 {
		return mgmt.Invalid("name", "is %d bytes, more than 253", len(r.Name))
	}
	if err := mgmt.ValidateText("name", r.Name, true); err != nil {
		return err
	}

	if err := r.Labels.Validate("labels"); err != nil {
		return err
	}
	if r.MinReplicas < 0 {
		return mgmt.Invalid("minReplicas", "%d is negative", r.MinReplicas)
	}
	if r.MaxReplicas < 1 {
		return mgmt.Invalid("maxReplicas", "%d must be at least 1", r.MaxReplicas)
	}
	if r.MaxReplicas > maxReplicasLimit {
		return mgmt.Invalid("maxReplicas", "%d is more than %d", r.MaxReplicas, maxReplicasLimit)
	}
	if r.MinReplicas > r.MaxReplicas {
		return mgmt.Invalid("minReplicas", "%d is greater than maxReplicas %d", r.MinReplicas, r.MaxReplicas)
	}
	if len(r.Triggers) == 0 {
		return mgmt.Invalid("trigger", "at least one trigger is required")
	}
	if len(r.Triggers) > 16 {
		return mgmt.Invalid("triggers", "%d triggers, at most 16", len(r.Triggers))
	}
	for i := range r.Triggers {
		if err := r.Triggers[i].validate(triggerField(len(r.Triggers), i)); err != nil {
			return err
		}
	}
	if err := r.Behavior.validate(); err != nil {
		return err
	}
	if f := r.Fallback; f != nil {
		if f.FailureThreshold < 1 {
			return mgmt.Invalid("fallback.failureThreshold", "%d must be at least 1", f.FailureThreshold)
		}
		if f.Replicas < r.MinReplicas || f.Replicas > r.MaxReplicas {
			return mgmt.Invalid("fallback.replicas", "%d is outside minReplicas..maxReplicas (%d..%d)", f.Replicas, r.MinReplicas, r.MaxReplicas)
		}
	}
	return r.validateSchedules()
}

func triggerField(n, i int) string {
	if n == 1 {
		return "trigger"
	}
	return "triggers[" + itoa(i) + "]"
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func (t *Trigger) validate(field string) error {
	if t.Metric == "" {
		return mgmt.Invalid(field+".metric", "is required (a known one: %s; or any metric your source serves, with a metricType)", metricList())
	}
	if !ValidMetricName(t.Metric) {
		return mgmt.Invalid(field+".metric", "%q is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*, at most 253 bytes)", t.Metric)
	}
	kind, known := LookupMetric(t.Metric)
	switch t.MetricType {
	case "":
		if !known && t.Type == Target {
			return mgmt.Invalid(field+".metricType", "is required for %q, not a known metric (%s): AverageValue (a total over the service, the target is per replica), Value or Utilization (already per replica)", t.Metric, metricList())
		}
	case AverageValue, Value:
	case Utilization:
		kind.Max = 100
	default:
		return mgmt.Invalid(field+".metricType", "%q: want AverageValue, Value or Utilization", t.MetricType)
	}
	name := t.Type.String()
	switch t.Type {
	case Threshold, Target:
		if t.Predict != nil {
			return mgmt.Invalid(field+".predictive", "a %s trigger has no forecast settings", name)
		}
	case Predictive:
		if t.Predict == nil {
			return mgmt.Invalid(field+".predictive", "is required for a predictive trigger")
		}
		if aggregationOf(t) != Sum || !known && t.MetricType == "" {
			return mgmt.Invalid(field+".metricType", "a predictive trigger forecasts a total over the service: %q must be AverageValue (http_rps, queue_length, or a metric given metricType AverageValue)", t.Metric)
		}
		if err := t.Predict.validate(field + ".predictive"); err != nil {
			return err
		}
		name = "predictive.target"
	default:
		return mgmt.Invalid(field, "needs a threshold or a target, or predictive settings")
	}
	if math.IsNaN(t.Value) || math.IsInf(t.Value, 0) || t.Value <= 0 {
		return mgmt.Invalid(field+"."+name, "%v must be greater than 0", t.Value)
	}
	if kind.Max > 0 && t.Value > kind.Max {
		return mgmt.Invalid(field+"."+name, "%v is above the largest %s value %v", t.Value, t.Metric, kind.Max)
	}
	if math.IsNaN(t.Activation) || math.IsInf(t.Activation, 0) || t.Activation < 0 {
		return mgmt.Invalid(field+".activationThreshold", "%v must be 0 or more", t.Activation)
	}
	if len(t.Query) > 4096 {
		return mgmt.Invalid(field+".query", "is %d bytes, more than 4096", len(t.Query))
	}
	if err := mgmt.ValidateText(field+".query", t.Query, false); err != nil {
		return err
	}
	if len(t.Source) > 253 {
		return mgmt.Invalid(field+".source", "is %d bytes, more than 253", len(t.Source))
	}
	return mgmt.ValidateText(field+".source", t.Source, true)
}

func (b *Behavior) validate() error {
	if math.IsNaN(b.Tolerance) || b.Tolerance < 0 || b.Tolerance >= 1 {
		return mgmt.Invalid("behavior.tolerance", "%v must be in [0, 1)", b.Tolerance)
	}
	if b.Cooldown < 0 || b.Cooldown > maxCooldown || b.Cooldown%time.Second != 0 {
		return mgmt.Invalid("behavior.cooldownSeconds", "%v must be a whole number of seconds between 0 and %v", b.Cooldown.Seconds(), maxCooldown.Seconds())
	}
	if err := b.ScaleUp.validate("behavior.scaleUp"); err != nil {
		return err
	}
	return b.ScaleDown.validate("behavior.scaleDown")
}

func (s *ScalingRules) validate(field string) error {
	if s.StabilizationWindow < 0 || s.StabilizationWindow > maxStabilizationWindow || s.StabilizationWindow%time.Second != 0 {
		return mgmt.Invalid(field+".stabilizationWindowSeconds", "%v must be a whole number of seconds between 0 and %v", s.StabilizationWindow.Seconds(), maxStabilizationWindow.Seconds())
	}
	if s.SelectPolicy > SelectDisabled {
		return mgmt.Invalid(field+".selectPolicy", "must be Max, Min or Disabled")
	}
	if len(s.Policies) == 0 && s.SelectPolicy != SelectDisabled {
		return mgmt.Invalid(field+".policies", "at least one policy is required unless selectPolicy is Disabled")
	}
	for i, p := range s.Policies {
		pf := field + ".policies[" + itoa(i) + "]"
		if p.Type != Pods && p.Type != Percent {
			return mgmt.Invalid(pf+".type", "must be Pods or Percent")
		}
		if p.Value <= 0 {
			return mgmt.Invalid(pf+".value", "%d must be greater than 0", p.Value)
		}
		if p.Period <= 0 || p.Period > maxPolicyPeriod || p.Period%time.Second != 0 {
			return mgmt.Invalid(pf+".periodSeconds", "%v must be a whole number of seconds between 1 and %v", p.Period.Seconds(), maxPolicyPeriod.Seconds())
		}
	}
	return nil
}

// Clone returns a deep copy of r.
func (r Rule) Clone() Rule {
	c := r
	c.Labels = r.Labels.Clone()
	c.Triggers = append([]Trigger(nil), r.Triggers...)
	for i := range c.Triggers {
		if p := c.Triggers[i].Predict; p != nil {
			cp := *p
			c.Triggers[i].Predict = &cp
		}
	}
	c.Behavior.ScaleUp.Policies = append([]Policy(nil), r.Behavior.ScaleUp.Policies...)
	c.Behavior.ScaleDown.Policies = append([]Policy(nil), r.Behavior.ScaleDown.Policies...)
	if r.Fallback != nil {
		f := *r.Fallback
		c.Fallback = &f
	}
	if r.Schedules != nil {
		c.Schedules = make([]Schedule, len(r.Schedules))
		for i, s := range r.Schedules {
			c.Schedules[i] = s.clone()
		}
	}
	return c
}
