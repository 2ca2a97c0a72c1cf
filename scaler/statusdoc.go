package scaler

import (
	"encoding/json"
	"math"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// statusDoc is a rule's status as the Controller saves it in the
// RuleStore: what another replica serves, and what a restarted host
// starts from.
type statusDoc struct {
	Rule        string        `json:"rule"`
	Version     int64         `json:"version"` // the rule's, when evaluated
	Replicas    int32         `json:"replicas"`
	Ready       int32         `json:"ready"`
	Readings    []readingDoc  `json:"readings"`
	Last        *decisionDoc  `json:"last,omitempty"`
	History     []decisionDoc `json:"history"`
	Failures    int           `json:"failures"`
	Evaluations int64         `json:"evaluations"`
}

type readingDoc struct {
	Metric    string    `json:"metric"`
	Value     *float64  `json:"value,omitempty"`
	Error     string    `json:"error,omitempty"`
	ErrorKind string    `json:"errorKind,omitempty"`
	At        time.Time `json:"at"`
}

type decisionDoc struct {
	At          time.Time     `json:"at"`
	Current     int32         `json:"current"`
	Ready       int32         `json:"ready"`
	Recommended int32         `json:"recommended"`
	Desired     int32         `json:"desired"` // the action follows from current and desired
	Reason      Reason        `json:"reason"`
	Metric      string        `json:"metric,omitempty"`
	Value       *float64      `json:"value,omitempty"`
	Guard       string        `json:"guard,omitempty"`
	GuardReason string        `json:"guardReason,omitempty"`
	GuardFrom   int32         `json:"guardFrom,omitempty"`
	Schedule    string        `json:"schedule,omitempty"`
	Forecast    *forecastJSON `json:"forecast,omitempty"`
	Error       string        `json:"error,omitempty"`
	ErrorKind   string        `json:"errorKind,omitempty"`
	Applied     bool          `json:"applied"`
}

func finiteOrNil(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func toDecisionDoc(d Decision) decisionDoc {
	doc := decisionDoc{At: d.At, Current: d.Current, Ready: d.Ready, Recommended: d.Recommended, Desired: d.Desired,
		Reason: d.Reason, Metric: d.Metric, Value: finiteOrNil(d.Value), Guard: d.Guard,
		GuardReason: d.GuardReason, GuardFrom: d.GuardFrom, Schedule: d.Schedule, Error: d.Error, ErrorKind: kindCode(d), Applied: d.Applied}
	if f := d.Forecast; f.Metric != "" && !math.IsNaN(f.Load) && !math.IsInf(f.Load, 0) {
		doc.Forecast = &forecastJSON{Metric: f.Metric, Load: f.Load, Replicas: f.Replicas, ForecastOnly: f.ForecastOnly}
	}
	return doc
}

// kindCode is the code of d's error kind, "" without an error.
func kindCode(d Decision) string {
	if d.Error == "" {
		return ""
	}
	return d.ErrorKind.Code()
}

func (d decisionDoc) decision() Decision {
	out := Decision{At: d.At, Current: d.Current, Ready: d.Ready, Recommended: d.Recommended, Desired: d.Desired,
		Reason: d.Reason, Metric: d.Metric, Value: math.NaN(), Guard: d.Guard,
		GuardReason: d.GuardReason, GuardFrom: d.GuardFrom, Schedule: d.Schedule, Error: d.Error, Applied: d.Applied}
	if k, ok := mgmt.ParseKindCode(d.ErrorKind); ok {
		out.ErrorKind = k
	}
	if d.Value != nil {
		out.Value = *d.Value
	}
	if f := d.Forecast; f != nil {
		out.Forecast = Forecast{Metric: f.Metric, Load: f.Load, Replicas: f.Replicas, ForecastOnly: f.ForecastOnly}
	}
	return out
}

// encodeStatus encodes st, the status of rule version version.
func encodeStatus(st Status, version int64) ([]byte, error) {
	doc := statusDoc{Rule: st.RuleID, Version: version, Replicas: st.Replicas, Ready: st.Ready,
		Readings: make([]readingDoc, len(st.Metrics)), History: make([]decisionDoc, len(st.History)),
		Failures: st.Failures, Evaluations: st.Evaluations}
	for i, m := range st.Metrics {
		doc.Readings[i] = readingDoc{Metric: m.Metric, At: m.At}
		if m.Err != nil {
			doc.Readings[i].Error, doc.Readings[i].ErrorKind = m.Err.Error(), mgmt.KindOf(m.Err).Code()
		} else {
			doc.Readings[i].Value = finiteOrNil(m.Value)
		}
	}
	if st.Evaluations > 0 {
		d := toDecisionDoc(st.Last)
		doc.Last = &d
	}
	for i, d := range st.History {
		doc.History[i] = toDecisionDoc(d)
	}
	return json.Marshal(doc)
}

// decodeStatus reads what encodeStatus wrote.
func decodeStatus(b []byte) (statusDoc, error) {
	var doc statusDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return statusDoc{}, err
	}
	return doc, nil
}

// readings returns the readings of doc; a failed read's error keeps its
// text only.
func (doc statusDoc) readings() []Reading {
	out := make([]Reading, len(doc.Readings))
	for i, r := range doc.Readings {
		out[i] = Reading{Metric: r.Metric, Value: math.NaN(), At: r.At}
		switch {
		case r.Error != "":
			kind, _ := mgmt.ParseKindCode(r.ErrorKind)
			out[i].Err = mgmt.Errorf(kind, "", "%s", r.Error)
		case r.Value != nil:
			out[i].Value = *r.Value
		}
	}
	return out
}

// status returns doc as a Status of rule r.
func (doc statusDoc) status(r *Rule) Status {
	st := Status{RuleID: r.ID, Service: r.Service, Paused: r.Paused, Replicas: doc.Replicas, Ready: doc.Ready,
		Desired: doc.Replicas, Metrics: doc.readings(), History: make([]Decision, len(doc.History)),
		Failures: doc.Failures, Evaluations: doc.Evaluations}
	if doc.Last != nil {
		st.Last = doc.Last.decision()
		st.Desired = st.Last.Desired
	}
	for i, d := range doc.History {
		st.History[i] = d.decision()
	}
	return st
}
