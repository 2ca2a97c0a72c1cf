package scalerhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/httperr"
	"github.com/hms-platform/mgmt/scaler"
)

// previewRequest is the body of POST /autoscale-rules/preview.
type previewRequest struct {
	Rule          json.RawMessage   `json:"rule"`
	Trace         []json.RawMessage `json:"trace"`
	StartReplicas *int32            `json:"startReplicas"`
}

// pointIn is one trace point as sent.
type pointIn struct {
	T      *string            `json:"t"`
	Values map[string]float64 `json:"values"`
}

type previewResponse struct {
	Rule scaler.Rule `json:"rule"`
	// StartReplicas is the count the trace started from.
	StartReplicas *int32 `json:"startReplicas,omitempty"`
	// Now is what the rule would decide at this moment; NowError says why
	// it could not be computed.
	Now      *decisionOut `json:"now"`
	NowError string       `json:"nowError,omitempty"`
	Trace    []stepOut    `json:"trace"`
	// With a price for the service (Options.Prices): the price, the cost
	// of the whole trace, and the steps the budget's guard capped.
	PricePerReplicaHour *mgmt.Money `json:"pricePerReplicaHourUSD,omitempty"`
	TotalCost           *mgmt.Money `json:"totalCostUSD,omitempty"`
	CappedByBudget      *int        `json:"stepsCappedByBudget,omitempty"`
}

type stepOut struct {
	T        time.Time     `json:"t"`
	Replicas int32         `json:"replicas"` // before the decision
	Desired  int32         `json:"desired"`
	Action   scaler.Action `json:"action"`
	Reason   scaler.Reason `json:"reason"`
	Decision decisionOut   `json:"decision"`
	// Cost is what the desired replicas cost until the next step (the
	// last step: nothing), with a price for the service.
	Cost *mgmt.Money `json:"costUSD,omitempty"`
}

func (h *handler) preview(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	body, err := httperr.ReadBody(w, r, h.maxBody)
	if err != nil {
		return err
	}
	var req previewRequest
	if err := httperr.DecodeContext(r.Context(), body, "", &req); err != nil {
		return err
	}
	if len(req.Rule) == 0 || string(req.Rule) == "null" {
		return mgmt.Invalid("rule", "is required")
	}
	rule, err := scaler.DecodeRuleContext(r.Context(), bytes.NewReader(req.Rule))
	if err != nil {
		return underRule(err)
	}
	if rule.ID != "" {
		if _, _, err := h.authorizeRule(r, PermRead, rule.ID); err != nil {
			return underRule(err)
		}
	}
	if _, err := h.ownRule(r, PermRead, "rule", &rule); err != nil {
		return err
	}
	start := int32(-1)
	if req.StartReplicas != nil {
		start = *req.StartReplicas
		if start < 0 {
			return mgmt.Invalid("startReplicas", "%d is negative", start)
		}
		if start > maxStartReplicas {
			return mgmt.Invalid("startReplicas", "%d is more than %d", start, maxStartReplicas)
		}
	}
	trace, err := decodeTrace(r.Context(), req.Trace)
	if err != nil {
		return err
	}
	res, err := h.ctrl.Preview(r.Context(), rule, trace, start)
	if err != nil {
		if f := mgmt.FieldOf(err); f == "trace" || strings.HasPrefix(f, "trace[") {
			return err
		}
		return underRule(err)
	}
	out := previewResponse{Rule: rule, NowError: res.NowError, Trace: make([]stepOut, len(res.Trace))}
	if res.Now != nil {
		d := decisionOut(*res.Now)
		out.Now = &d
	}
	if len(res.Trace) > 0 {
		s := res.Trace[0].Replicas
		out.StartReplicas = &s
	}
	for i, st := range res.Trace {
		out.Trace[i] = stepOut{
			T: st.At, Replicas: st.Replicas, Desired: st.Desired,
			Action: st.Decision.Action(), Reason: st.Decision.Reason, Decision: decisionOut(st.Decision),
		}
	}
	if err := h.price(&out, rule.Service); err != nil {
		return err
	}
	httperr.WriteJSON(w, http.StatusOK, out)
	return nil
}

// decodeTrace decodes and checks the trace points: each has an RFC 3339
// time and non-negative values of known metrics.
func decodeTrace(ctx context.Context, raw []json.RawMessage) ([]scaler.TracePoint, error) {
	if len(raw) > MaxTracePoints {
		return nil, mgmt.Invalid("trace", "has %d points, at most %d", len(raw), MaxTracePoints)
	}
	trace := make([]scaler.TracePoint, len(raw))
	for i, pr := range raw {
		field := "trace[" + strconv.Itoa(i) + "]"
		var p pointIn
		if err := httperr.DecodeContext(ctx, pr, field, &p); err != nil {
			return nil, err
		}
		if p.T == nil {
			return nil, mgmt.Invalid(field+".t", "is required")
		}
		at, err := time.Parse(time.RFC3339Nano, *p.T)
		if err != nil {
			return nil, mgmt.Invalid(field+".t", "%q is not an RFC 3339 time such as 2024-11-20T09:00:00Z", *p.T)
		}
		names := make([]string, 0, len(p.Values))
		for name := range p.Values {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if !scaler.ValidMetricName(name) {
				return nil, mgmt.Invalid(field+".values."+name, "%q is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)", name)
			}
			if v := p.Values[name]; v < 0 {
				return nil, mgmt.Invalid(field+".values."+name, "%v is negative", v)
			}
		}
		trace[i] = scaler.TracePoint{At: at, Values: p.Values}
	}
	return trace, nil
}

// underRule moves an error about the rule under the "rule" field: "body"
// (the rule as a whole) becomes "rule", "maxReplicas" "rule.maxReplicas".
func underRule(err error) error {
	var me *mgmt.Error
	if errors.As(err, &me) && me.Field == "body" {
		return mgmt.Errorf(me.Kind, "rule", "%s", strings.TrimPrefix(me.Error(), "body: "))
	}
	return httperr.PrefixField("rule", err)
}

// price fills in the costs of out's steps, their total and the steps the
// budget capped, when Options.Prices knows service's price: each step's
// desired replicas run until the next step's time.
func (h *handler) price(out *previewResponse, service string) error {
	if h.prices == nil {
		return nil
	}
	price, ok := h.prices.PricePerReplicaHour(service)
	if !ok {
		return nil
	}
	var total mgmt.Money
	capped := 0
	for i := range out.Trace {
		st := &out.Trace[i]
		if st.Reason == scaler.ReasonCappedByBudget {
			capped++
		}
		var cost mgmt.Money
		if i+1 < len(out.Trace) {
			span := int64(out.Trace[i+1].T.Sub(st.T))
			if st.Desired > 0 && span > math.MaxInt64/int64(st.Desired) {
				return mgmt.Invalid("trace", "step %d to %d spans too long to price", i, i+1)
			}
			c, err := price.MulDiv(span*int64(st.Desired), int64(time.Hour))
			if err != nil {
				return mgmt.Invalid("trace", "its cost is beyond range: %v", err)
			}
			cost = c
		}
		st.Cost = &cost
		sum, err := total.Add(cost)
		if err != nil {
			return mgmt.Invalid("trace", "its cost is beyond range: %v", err)
		}
		total = sum
	}
	out.PricePerReplicaHour, out.TotalCost, out.CappedByBudget = &price, &total, &capped
	return nil
}
