package scaler

import (
	"encoding/json"
	"math"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// Action is what a decision does to the replica count.
type Action uint8

// The actions.
const (
	Hold Action = iota
	ScaleUp
	ScaleDown
)

// String returns "hold", "scale_up" or "scale_down".
func (a Action) String() string {
	switch a {
	case ScaleUp:
		return "scale_up"
	case ScaleDown:
		return "scale_down"
	}
	return "hold"
}

// MarshalText writes the action's name.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// Reason explains a decision. Reasons are fixed strings; the numbers behind
// them are in the Decision's fields.
type Reason string

// The reasons a decision records: stable codes in CamelCase, as
// Kubernetes' HPA conditions have them, for programs (they go to
// Scaler.SetReplicas and to audit events, and do not change); Message
// says each in words for people.
const (
	ReasonPaused              Reason = "Paused"
	ReasonSteady              Reason = "WithinTolerance"
	ReasonNotReady            Reason = "NotEnoughReadyReplicas"
	ReasonScaleUp             Reason = "MetricAboveTarget"
	ReasonScaleDown           Reason = "MetricBelowTarget"
	ReasonInactive            Reason = "ScaledToZero"
	ReasonActivated           Reason = "ActivatedFromZero"
	ReasonScaleUpStabilized   Reason = "ScaleUpStabilized"
	ReasonScaleDownStabilized Reason = "ScaleDownStabilized"
	ReasonScaleUpLimited      Reason = "ScaleUpLimitedByPolicy"
	ReasonScaleDownLimited    Reason = "ScaleDownLimitedByPolicy"
	ReasonCooldown            Reason = "CooldownActive"
	ReasonGuarded             Reason = "LimitedByGuard"
	ReasonTooManyReplicas     Reason = "TooManyReplicas"
	ReasonTooFewReplicas      Reason = "TooFewReplicas"
	ReasonCappedByBudget      Reason = "CappedByBudget"
	ReasonGuardFailed         Reason = "GuardFailed"
	ReasonMetricUnavailable   Reason = "MetricUnavailable"
	ReasonReplicasUnavailable Reason = "ReplicasUnavailable"
	ReasonFallback            Reason = "FallbackActive"
	ReasonScaleFailed         Reason = "ScaleFailed"
	ReasonScheduledMinimum    Reason = "ScheduledMinimum"
	ReasonScheduledMaximum    Reason = "ScheduledMaximum"
	ReasonPredictedLoad       Reason = "PredictedLoad"
)

var reasonMessages = map[Reason]string{
	ReasonPaused:              "rule is paused",
	ReasonSteady:              "metrics are within tolerance of the target",
	ReasonNotReady:            "too few replicas are ready to trust the metric's signal; holding",
	ReasonScaleUp:             "metric is above its target or threshold",
	ReasonScaleDown:           "metric is below its target or threshold",
	ReasonInactive:            "no trigger is above its activation threshold; scaling to zero",
	ReasonActivated:           "a trigger is above its activation threshold; scaling from zero",
	ReasonScaleUpStabilized:   "held by the scale-up stabilization window",
	ReasonScaleDownStabilized: "held by the stabilization window",
	ReasonScaleUpLimited:      "limited by the scale-up rate policy",
	ReasonScaleDownLimited:    "limited by the scale-down rate policy",
	ReasonCooldown:            "held by the cooldown after the last change",
	ReasonGuarded:             "limited by a guard",
	ReasonTooManyReplicas:     "capped at the rule's maxReplicas",
	ReasonTooFewReplicas:      "raised to the rule's minReplicas",
	ReasonCappedByBudget:      "capped by the budget",
	ReasonGuardFailed:         "a guard failed; holding the current count",
	ReasonMetricUnavailable:   "a metric could not be read; holding the current count",
	ReasonReplicasUnavailable: "the replica count could not be read; holding",
	ReasonFallback:            "metrics failed repeatedly; using the fallback replica count",
	ReasonScaleFailed:         "the cluster did not accept the change",
	ReasonScheduledMinimum:    "raised to, or held at, the minReplicas of an active schedule",
	ReasonScheduledMaximum:    "capped at the maxReplicas of an active schedule",
	ReasonPredictedLoad:       "scaling ahead of the load a predictive trigger forecasts",
}

// Message says the reason in words, e.g. "held by the stabilization
// window"; the code itself for a reason this package does not know.
func (r Reason) Message() string {
	if m, ok := reasonMessages[r]; ok {
		return m
	}
	return string(r)
}

// Decision is the outcome of evaluating one rule once.
type Decision struct {
	At time.Time
	// Current and Ready are what the cluster reported before the decision.
	Current int32
	Ready   int32
	// Recommended is the largest trigger recommendation, before
	// stabilization, rate policies and guards.
	Recommended int32
	// Desired is the final count (equal to Current when holding); the
	// action follows from the two (Action).
	Desired int32
	Reason  Reason
	// Metric and Value name the trigger that won and the value it read.
	// When a read failed they name the first metric that failed, with Value
	// NaN (null in JSON).
	Metric string
	Value  float64
	// Guard names the guard that changed the count, GuardReason says why
	// (with numbers), and GuardFrom is the count the guard was offered.
	Guard       string
	GuardReason string
	GuardFrom   int32
	// Schedule names the active schedule whose bound set the count
	// (ReasonScheduledMinimum, ReasonScheduledMaximum); a guard may still
	// have changed the count after it (Guard).
	Schedule string
	// Error is the text of the error behind a failure reason, and
	// ErrorKind its kind (mgmt.KindOf: unavailable, not found, …).
	Error     string
	ErrorKind mgmt.Kind
	// Forecast is what the rule's predictive triggers forecast, acted on
	// or not (Forecast.ForecastOnly); its Metric is "" when none had a
	// forecast.
	Forecast Forecast
	// Applied reports whether the change reached the cluster.
	Applied bool
}

// Action is what the decision does to the count: derived from Current
// and Desired, never stored apart from them.
func (d Decision) Action() Action { return actionOf(d.Current, d.Desired) }

// MarshalJSON writes the decision with lowerCamel names.
func (d Decision) MarshalJSON() ([]byte, error) {
	type decisionJSON struct {
		At          time.Time     `json:"at"`
		Current     int32         `json:"current"`
		Ready       int32         `json:"ready"`
		Recommended int32         `json:"recommended"`
		Desired     int32         `json:"desired"`
		Action      Action        `json:"action"`
		Reason      Reason        `json:"reason"`
		Message     string        `json:"message"`
		Metric      string        `json:"metric,omitempty"`
		Value       *float64      `json:"value"`
		Guard       string        `json:"guard,omitempty"`
		GuardReason string        `json:"guardReason,omitempty"`
		GuardFrom   int32         `json:"guardFrom,omitempty"`
		Schedule    string        `json:"schedule,omitempty"`
		Error       *errorJSON    `json:"error,omitempty"`
		Forecast    *forecastJSON `json:"forecast,omitempty"`
		Applied     bool          `json:"applied"`
	}
	out := decisionJSON{At: d.At, Current: d.Current, Ready: d.Ready, Recommended: d.Recommended,
		Desired: d.Desired, Action: d.Action(), Reason: d.Reason, Message: d.Reason.Message(), Metric: d.Metric, Guard: d.Guard,
		GuardReason: d.GuardReason, GuardFrom: d.GuardFrom, Schedule: d.Schedule, Error: newErrorJSON(d.ErrorKind, d.Error), Applied: d.Applied}
	if !math.IsNaN(d.Value) && !math.IsInf(d.Value, 0) {
		out.Value = &d.Value
	}
	if d.Forecast.Metric != "" {
		out.Forecast = &forecastJSON{Metric: d.Forecast.Metric, Load: d.Forecast.Load, Replicas: d.Forecast.Replicas, ForecastOnly: d.Forecast.ForecastOnly}
	}
	return json.Marshal(out)
}

// forecastJSON is Decision.Forecast in JSON.
type forecastJSON struct {
	Metric       string  `json:"metric"`
	Load         float64 `json:"load"`
	Replicas     int32   `json:"replicas"`
	ForecastOnly bool    `json:"forecastOnly"`
}

// errorJSON is an error as the API writes it everywhere: its kind's code
// and its message.
type errorJSON struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// newErrorJSON is msg of kind k, or nil for no message.
func newErrorJSON(k mgmt.Kind, msg string) *errorJSON {
	if msg == "" {
		return nil
	}
	return &errorJSON{Kind: k.Code(), Message: msg}
}

// ErrorJSON returns err as the API writes it: {"kind", "message"}, or nil
// for nil.
func ErrorJSON(err error) any {
	if err == nil {
		return nil
	}
	return newErrorJSON(mgmt.KindOf(err), err.Error())
}

// Reading is the last value read for one trigger.
type Reading struct {
	Metric string
	Value  float64
	Err    error
	At     time.Time
}
