package scaler

import (
	"context"
	"encoding/json"
	"io"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/strictjson"
)

// The JSON shape of a rule. It extends the seed's
//
//	{"service": "eligibility-api", "minReplicas": 4, "maxReplicas": 20,
//	 "trigger": {"metric": "http_rps", "threshold": 500}}
//
// with "name", "labels", "triggers" (a list, instead of "trigger"),
// "target" (instead of "threshold"), "activationThreshold", "query",
// "source", "predictive" (a trigger that scales ahead of a forecast; see
// predictiveJSON), "behavior" (HPA autoscaling/v2 names), "fallback",
// "schedules", "paused" and "version" (the stored rule's, for an update
// that must not overwrite a change made since it was read). A schedule is
//
//	{"name": "business-hours", "cron": "0 8 * * MON-FRI",
//	 "timeZone": "America/New_York", "durationSeconds": 36000,
//	 "minReplicas": 10}
//
// with "maxReplicas" for a ceiling; durations are whole seconds, as
// everywhere in the contract.
// APIVersion names the rule contract: the JSON shape of a rule and of
// its decisions (reason codes included). Every rule written carries it; a
// rule read may leave it out, and one naming another version is refused,
// so the contract can change later under a new name without breaking
// clients of this one.
const APIVersion = "autoscaling.hms/v1"

type ruleJSON struct {
	APIVersion  string         `json:"apiVersion,omitempty"`
	ID          string         `json:"id,omitempty"`
	Version     int64          `json:"version,omitempty"`
	Name        string         `json:"name,omitempty"`
	Service     string         `json:"service"`
	Labels      mgmt.Labels    `json:"labels,omitempty"`
	MinReplicas *int32         `json:"minReplicas"`
	MaxReplicas *int32         `json:"maxReplicas"`
	Trigger     *triggerJSON   `json:"trigger,omitempty"`
	Triggers    []triggerJSON  `json:"triggers,omitempty"`
	Behavior    *behaviorJSON  `json:"behavior,omitempty"`
	Fallback    *fallbackJSON  `json:"fallback,omitempty"`
	Schedules   []scheduleJSON `json:"schedules,omitempty"`
	Paused      bool           `json:"paused,omitempty"`
}

type scheduleJSON struct {
	Name            string `json:"name"`
	Cron            string `json:"cron"`
	TimeZone        string `json:"timeZone,omitempty"`
	DurationSeconds *int64 `json:"durationSeconds"`
	MinReplicas     *int32 `json:"minReplicas,omitempty"`
	MaxReplicas     *int32 `json:"maxReplicas,omitempty"`
}

type triggerJSON struct {
	Metric              string          `json:"metric"`
	MetricType          string          `json:"metricType,omitempty"`
	Threshold           *float64        `json:"threshold,omitempty"`
	Target              *float64        `json:"target,omitempty"`
	ActivationThreshold *float64        `json:"activationThreshold,omitempty"`
	Query               string          `json:"query,omitempty"`
	Source              string          `json:"source,omitempty"`
	Predictive          *predictiveJSON `json:"predictive,omitempty"`
}

// predictiveJSON is a predictive trigger's settings:
//
//	{"metric": "http_rps", "predictive": {"target": 90,
//	 "seasonality": "daily", "model": "holt-winters",
//	 "leadSeconds": 105, "forecastOnly": false}}
//
// target is required; seasonality defaults to daily, model to
// holt-winters, leadSeconds to 60.
type predictiveJSON struct {
	Target       *float64 `json:"target"`
	Seasonality  string   `json:"seasonality,omitempty"`
	Model        string   `json:"model,omitempty"`
	LeadSeconds  *int64   `json:"leadSeconds,omitempty"`
	ForecastOnly bool     `json:"forecastOnly,omitempty"`
}

// DefaultPredictionLead is the lead of a predictive trigger that gives
// none.
const DefaultPredictionLead = 60 * time.Second

func (w *predictiveJSON) prediction(field string) (float64, *Prediction, error) {
	p := &Prediction{Seasonality: Daily, Model: HoltWinters, Lead: DefaultPredictionLead, ForecastOnly: w.ForecastOnly}
	if w.Target == nil {
		return 0, nil, mgmt.Invalid(field+".target", "is required: the load one replica should carry")
	}
	switch w.Seasonality {
	case "", "daily":
	case "weekly":
		p.Seasonality = Weekly
	default:
		return 0, nil, mgmt.Invalid(field+".seasonality", "%q must be daily or weekly", w.Seasonality)
	}
	switch w.Model {
	case "", "holt-winters":
	case "seasonal-naive":
		p.Model = SeasonalNaive
	default:
		return 0, nil, mgmt.Invalid(field+".model", "%q must be holt-winters or seasonal-naive", w.Model)
	}
	if w.LeadSeconds != nil {
		if max := int64(MaxPredictionLead / time.Second); *w.LeadSeconds < 0 || *w.LeadSeconds > max {
			return 0, nil, mgmt.Invalid(field+".leadSeconds", "%d must be between 0 and %d", *w.LeadSeconds, max)
		}
		p.Lead = time.Duration(*w.LeadSeconds) * time.Second
	}
	return *w.Target, p, nil
}

type behaviorJSON struct {
	Tolerance       *float64          `json:"tolerance,omitempty"`
	CooldownSeconds *int64            `json:"cooldownSeconds,omitempty"`
	ScaleUp         *scalingRulesJSON `json:"scaleUp,omitempty"`
	ScaleDown       *scalingRulesJSON `json:"scaleDown,omitempty"`
}

type scalingRulesJSON struct {
	StabilizationWindowSeconds *int32       `json:"stabilizationWindowSeconds,omitempty"`
	SelectPolicy               *string      `json:"selectPolicy,omitempty"`
	Policies                   []policyJSON `json:"policies,omitempty"`
}

type policyJSON struct {
	Type          string `json:"type"`
	Value         int32  `json:"value"`
	PeriodSeconds int32  `json:"periodSeconds"`
}

type fallbackJSON struct {
	FailureThreshold int   `json:"failureThreshold"`
	Replicas         int32 `json:"replicas"`
}

// DecodeRule is DecodeRuleContext without a context, for callers that
// have none (files read at start-up).
func DecodeRule(r io.Reader) (Rule, error) {
	return DecodeRuleContext(context.Background(), r)
}

// DecodeRuleContext reads one rule from JSON, strictly, through the
// module's strict JSON layer (internal/strictjson): syntax errors, unknown
// fields, keys that differ from a field only in case ("MinReplicas"),
// repeated keys, invalid UTF-8, lone surrogate escapes, wrong types,
// trailing data and invalid values are errors (*mgmt.Error of kind invalid
// whose Field is the JSON path, such as "triggers[1].metric"). Omitted
// fields take their defaults: minReplicas 1 and the behavior of
// DefaultBehavior. An "id" in the input is kept in Rule.ID; the Controller
// decides whether to honour it. Once ctx ends, decoding stops with ctx's
// error. The cost is linear in the size of the input.
func DecodeRuleContext(ctx context.Context, r io.Reader) (Rule, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Rule{}, mgmt.Invalid("body", "could not be read: %v", err)
	}
	return decodeRule(ctx, data)
}

// maxRuleKeys bounds the object keys of a rule document: 64 labels, 16
// triggers of 6 fields, a behavior and a fallback need far fewer. A body of
// more keys is refused as soon as the scan meets one too many.
const maxRuleKeys = 1024

func decodeRule(ctx context.Context, data []byte) (Rule, error) {
	var w ruleJSON
	if err := strictjson.DecodeLimited(ctx, data, "", &w, maxRuleKeys); err != nil {
		return Rule{}, err
	}
	rule, err := w.rule()
	if err != nil {
		return Rule{}, err
	}
	if err := rule.Validate(); err != nil {
		return Rule{}, err
	}
	return rule, nil
}

// UnmarshalJSON decodes strictly, as DecodeRule does.
func (r *Rule) UnmarshalJSON(b []byte) error {
	rule, err := decodeRule(context.Background(), b)
	if err != nil {
		return err
	}
	*r = rule
	return nil
}

// MarshalJSON encodes r in the shape DecodeRule reads. A rule with one
// trigger is written with "trigger", as in the seed.
func (r Rule) MarshalJSON() ([]byte, error) {
	w := ruleJSON{
		APIVersion: APIVersion, ID: r.ID, Version: r.Version, Name: r.Name, Service: r.Service, Labels: r.Labels,
		MinReplicas: &r.MinReplicas, MaxReplicas: &r.MaxReplicas, Paused: r.Paused,
	}
	ts := make([]triggerJSON, len(r.Triggers))
	for i, t := range r.Triggers {
		v := t.Value
		tj := triggerJSON{Metric: t.Metric, MetricType: string(t.MetricType), Query: t.Query, Source: t.Source}
		switch t.Type {
		case Threshold:
			tj.Threshold = &v
		case Target:
			tj.Target = &v
		case Predictive:
			lead := int64(t.Predict.Lead / time.Second)
			tj.Predictive = &predictiveJSON{Target: &v, Seasonality: t.Predict.Seasonality.String(),
				Model: t.Predict.Model.String(), LeadSeconds: &lead, ForecastOnly: t.Predict.ForecastOnly}
		}
		if t.Activation != 0 {
			a := t.Activation
			tj.ActivationThreshold = &a
		}
		ts[i] = tj
	}
	if len(ts) == 1 {
		w.Trigger = &ts[0]
	} else {
		w.Triggers = ts
	}
	b := r.Behavior
	tol, cd := b.Tolerance, int64(b.Cooldown/time.Second)
	w.Behavior = &behaviorJSON{
		Tolerance: &tol, CooldownSeconds: &cd,
		ScaleUp: scalingRulesToJSON(b.ScaleUp), ScaleDown: scalingRulesToJSON(b.ScaleDown),
	}
	if r.Fallback != nil {
		w.Fallback = &fallbackJSON{FailureThreshold: r.Fallback.FailureThreshold, Replicas: r.Fallback.Replicas}
	}
	if len(r.Schedules) > 0 {
		w.Schedules = make([]scheduleJSON, len(r.Schedules))
		for i, s := range r.Schedules {
			secs := int64(s.Duration / time.Second)
			w.Schedules[i] = scheduleJSON{Name: s.Name, Cron: s.Cron, TimeZone: s.TimeZone, DurationSeconds: &secs,
				MinReplicas: s.MinReplicas, MaxReplicas: s.MaxReplicas}
		}
	}
	return json.Marshal(w)
}

func scalingRulesToJSON(s ScalingRules) *scalingRulesJSON {
	win := int32(s.StabilizationWindow / time.Second)
	sel := s.SelectPolicy.String()
	out := &scalingRulesJSON{StabilizationWindowSeconds: &win, SelectPolicy: &sel}
	for _, p := range s.Policies {
		out.Policies = append(out.Policies, policyJSON{Type: p.Type.String(), Value: p.Value, PeriodSeconds: int32(p.Period / time.Second)})
	}
	return out
}

func (w *ruleJSON) rule() (Rule, error) {
	if w.APIVersion != "" && w.APIVersion != APIVersion {
		return Rule{}, mgmt.Invalid("apiVersion", "%q is not a version of the rule contract this server speaks (%s)", w.APIVersion, APIVersion)
	}
	if w.Version < 0 {
		return Rule{}, mgmt.Invalid("version", "must be ≥ 0, got %d", w.Version)
	}
	r := Rule{ID: w.ID, Version: w.Version, Name: w.Name, Service: w.Service, Labels: w.Labels, Paused: w.Paused, MinReplicas: 1}
	if w.MinReplicas != nil {
		r.MinReplicas = *w.MinReplicas
	}
	if w.MaxReplicas == nil {
		return Rule{}, mgmt.Invalid("maxReplicas", "is required")
	}
	r.MaxReplicas = *w.MaxReplicas
	switch {
	case w.Trigger != nil && len(w.Triggers) > 0:
		return Rule{}, mgmt.Invalid("trigger", "give either trigger or triggers, not both")
	case w.Trigger != nil:
		t, err := w.Trigger.trigger("trigger")
		if err != nil {
			return Rule{}, err
		}
		r.Triggers = []Trigger{t}
	default:
		for i := range w.Triggers {
			t, err := w.Triggers[i].trigger("triggers[" + itoa(i) + "]")
			if err != nil {
				return Rule{}, err
			}
			r.Triggers = append(r.Triggers, t)
		}
	}
	var err error
	if r.Behavior, err = w.Behavior.behavior(); err != nil {
		return Rule{}, err
	}
	if w.Fallback != nil {
		r.Fallback = &Fallback{FailureThreshold: w.Fallback.FailureThreshold, Replicas: w.Fallback.Replicas}
	}
	if len(w.Schedules) > MaxSchedules {
		return Rule{}, mgmt.Invalid("schedules", "%d schedules, at most %d", len(w.Schedules), MaxSchedules)
	}
	for i := range w.Schedules {
		s, err := w.Schedules[i].schedule(scheduleField(i))
		if err != nil {
			return Rule{}, err
		}
		r.Schedules = append(r.Schedules, s)
	}
	return r, nil
}

func (w *scheduleJSON) schedule(field string) (Schedule, error) {
	s := Schedule{Name: w.Name, Cron: w.Cron, TimeZone: w.TimeZone, MinReplicas: w.MinReplicas, MaxReplicas: w.MaxReplicas}
	if w.DurationSeconds == nil {
		return s, mgmt.Invalid(field+".durationSeconds", "is required")
	}
	if max := int64(MaxScheduleDuration / time.Second); *w.DurationSeconds < 1 || *w.DurationSeconds > max {
		return s, mgmt.Invalid(field+".durationSeconds", "%d must be between 1 and %d", *w.DurationSeconds, max)
	}
	s.Duration = time.Duration(*w.DurationSeconds) * time.Second
	return s, nil
}

func (w *triggerJSON) trigger(field string) (Trigger, error) {
	t := Trigger{Metric: w.Metric, MetricType: MetricType(w.MetricType), Query: w.Query, Source: w.Source}
	given := 0
	for _, ok := range []bool{w.Threshold != nil, w.Target != nil, w.Predictive != nil} {
		if ok {
			given++
		}
	}
	switch {
	case given > 1:
		return t, mgmt.Invalid(field, "give only one of threshold, target and predictive, not both")
	case w.Predictive != nil:
		v, p, err := w.Predictive.prediction(field + ".predictive")
		if err != nil {
			return t, err
		}
		t.Type, t.Value, t.Predict = Predictive, v, p
	case w.Threshold != nil:
		t.Type, t.Value = Threshold, *w.Threshold
	case w.Target != nil:
		t.Type, t.Value = Target, *w.Target
	default:
		return t, mgmt.Invalid(field, "needs a threshold or a target, or predictive settings")
	}
	if w.ActivationThreshold != nil {
		t.Activation = *w.ActivationThreshold
	}
	return t, nil
}

func (w *behaviorJSON) behavior() (Behavior, error) {
	b := DefaultBehavior()
	if w == nil {
		return b, nil
	}
	if w.Tolerance != nil {
		b.Tolerance = *w.Tolerance
	}
	if w.CooldownSeconds != nil {
		if *w.CooldownSeconds < 0 || *w.CooldownSeconds > int64(maxCooldown/time.Second) {
			return b, mgmt.Invalid("behavior.cooldownSeconds", "%d must be between 0 and %d", *w.CooldownSeconds, int64(maxCooldown/time.Second))
		}
		b.Cooldown = time.Duration(*w.CooldownSeconds) * time.Second
	}
	var err error
	if b.ScaleUp, err = w.ScaleUp.rules("behavior.scaleUp", b.ScaleUp); err != nil {
		return b, err
	}
	b.ScaleDown, err = w.ScaleDown.rules("behavior.scaleDown", b.ScaleDown)
	return b, err
}

func (w *scalingRulesJSON) rules(field string, def ScalingRules) (ScalingRules, error) {
	if w == nil {
		return def, nil
	}
	s := def
	if w.StabilizationWindowSeconds != nil {
		s.StabilizationWindow = time.Duration(*w.StabilizationWindowSeconds) * time.Second
	}
	if w.SelectPolicy != nil {
		switch *w.SelectPolicy {
		case "Max":
			s.SelectPolicy = SelectMax
		case "Min":
			s.SelectPolicy = SelectMin
		case "Disabled":
			s.SelectPolicy = SelectDisabled
		default:
			return s, mgmt.Invalid(field+".selectPolicy", "%q must be Max, Min or Disabled", *w.SelectPolicy)
		}
	}
	if w.Policies != nil {
		s.Policies = make([]Policy, len(w.Policies))
		for i, p := range w.Policies {
			pf := field + ".policies[" + itoa(i) + "]"
			switch p.Type {
			case "Pods":
				s.Policies[i].Type = Pods
			case "Percent":
				s.Policies[i].Type = Percent
			default:
				return s, mgmt.Invalid(pf+".type", "%q must be Pods or Percent", p.Type)
			}
			s.Policies[i].Value = p.Value
			s.Policies[i].Period = time.Duration(p.PeriodSeconds) * time.Second
		}
	}
	return s, nil
}
