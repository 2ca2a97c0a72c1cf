package scalerhttp

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/httperr"
	"github.com/hms-platform/mgmt/scaler"
)

// DefaultMaxBody is the request body limit when Options.MaxBody is 0.
const DefaultMaxBody = httperr.DefaultMaxBody

// MaxTracePoints is the largest trace a preview accepts.
const MaxTracePoints = 10000

// maxStartReplicas bounds a preview's startReplicas (the largest
// maxReplicas a rule may have).
const maxStartReplicas = 100000

// Options configure the handler. The zero value is ready to use.
type Options struct {
	// Logger receives one debug record per request (method, path, status,
	// size, duration; never bodies, headers or query strings) and an error
	// record per internal error. Default: slog.Default().
	Logger *slog.Logger
	// MaxBody is the request body limit in bytes; 0 or less means
	// DefaultMaxBody (1 MiB).
	MaxBody int64
	// Authorize, when set, is asked before every request but GET /healthz
	// does anything (see the package documentation for which permission
	// and tenant each route asks for). Its error is the response: an error
	// of kind mgmt.KindUnauthenticated is 401, mgmt.KindForbidden 403. Nil
	// means no authorization: put the handler behind one.
	// auth.Authorizer.HTTPHook returns one.
	Authorize Authorize
}

// Authorize authorizes the request r for permission perm (PermRead or
// PermWrite) on a resource of tenant ("" for a rule without an agency
// label) and returns who is acting. It is the shape of
// budgethttp.Authorize and patchhttp.Authorize too.
type Authorize func(r *http.Request, perm, tenant string) (actor string, err error)

// The permissions the routes ask Options.Authorize for.
const (
	PermRead  = "rules:read"
	PermWrite = "rules:write"
)

type handler struct {
	ctrl    *scaler.Controller
	log     *slog.Logger
	maxBody int64
	authz   Authorize
}

// NewHandler returns the HTTP API over ctrl. It panics if ctrl is nil, a
// programming error.
func NewHandler(ctrl *scaler.Controller, opts Options) http.Handler {
	if ctrl == nil {
		panic("scalerhttp: NewHandler needs a non-nil *scaler.Controller")
	}
	h := &handler{ctrl: ctrl, log: opts.Logger, maxBody: opts.MaxBody, authz: opts.Authorize}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBody
	}
	return httperr.API("scalerhttp", h.log,
		httperr.Route{Pattern: "GET /healthz", Fn: h.healthz},
		httperr.Route{Pattern: "POST /autoscale-rules", Fn: h.create},
		httperr.Route{Pattern: "GET /autoscale-rules", Fn: h.list},
		httperr.Route{Pattern: "POST /autoscale-rules/preview", Fn: h.preview},
		httperr.Route{Pattern: "GET /autoscale-rules/{id}", Fn: h.get},
		httperr.Route{Pattern: "PUT /autoscale-rules/{id}", Fn: h.replace},
		httperr.Route{Pattern: "DELETE /autoscale-rules/{id}", Fn: h.delete},
		httperr.Route{Pattern: "POST /autoscale-rules/{id}/pause", Fn: h.pause},
		httperr.Route{Pattern: "POST /autoscale-rules/{id}/resume", Fn: h.resume},
		httperr.Route{Pattern: "GET /autoscale-rules/{id}/status", Fn: h.status},
		httperr.Route{Pattern: "GET /rules/{id}/status", Fn: h.status},
	)
}

// authorize asks Options.Authorize, if set, for perm on each tenant in
// turn (a tenant given twice is asked once).
func (h *handler) authorize(r *http.Request, perm string, tenants ...string) error {
	if h.authz == nil {
		return nil
	}
	for i, t := range tenants {
		if i > 0 && t == tenants[i-1] {
			continue
		}
		if _, err := h.authz(r, perm, t); err != nil {
			return err
		}
	}
	return nil
}

// authorizeRule loads rule id and authorizes perm on its tenant.
func (h *handler) authorizeRule(r *http.Request, perm, id string) (scaler.Rule, error) {
	rule, err := h.ctrl.Rule(id)
	if err != nil {
		return scaler.Rule{}, err
	}
	return rule, h.authorize(r, perm, rule.Tenant())
}

func (h *handler) healthz(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	httperr.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readRule reads a rule from the request body, strictly.
func (h *handler) readRule(w http.ResponseWriter, r *http.Request) (scaler.Rule, error) {
	body, err := httperr.ReadBody(w, r, h.maxBody)
	if err != nil {
		return scaler.Rule{}, err
	}
	return scaler.DecodeRuleContext(r.Context(), bytes.NewReader(body))
}

type createResponse struct {
	RuleID string      `json:"ruleId"`
	Rule   scaler.Rule `json:"rule"`
}

type dryRunResponse struct {
	DryRun   bool         `json:"dryRun"`
	Rule     scaler.Rule  `json:"rule"`
	Replicas *int32       `json:"replicas"` // the current count; null when it could not be read
	Desired  *int32       `json:"desired"`
	Decision *decisionOut `json:"decision"`
	Error    string       `json:"error,omitempty"` // why replicas and desired are null
}

func (h *handler) create(w http.ResponseWriter, r *http.Request) error {
	q, err := httperr.Query(r, []string{"dryRun"})
	if err != nil {
		return err
	}
	dryRun := false
	if v, ok := q["dryRun"]; ok {
		if dryRun, err = strconv.ParseBool(v[0]); err != nil {
			return mgmt.Invalid("dryRun", "%q is not true or false", v[0])
		}
	}
	rule, err := h.readRule(w, r)
	if err != nil {
		return err
	}
	if rule.ID != "" {
		return mgmt.Invalid("id", "is assigned by the server; leave it out (to change rule %s, PUT /autoscale-rules/%s)", rule.ID, rule.ID)
	}
	if err := h.authorize(r, PermWrite, rule.Tenant()); err != nil {
		return err
	}
	if dryRun {
		return h.dryRun(w, r, rule)
	}
	stored, err := h.ctrl.AddRule(rule)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/autoscale-rules/"+stored.ID)
	httperr.WriteJSON(w, http.StatusCreated, createResponse{RuleID: stored.ID, Rule: stored})
	return nil
}

// dryRun answers what creating rule would do now, without storing it. It
// refuses what the real request would refuse.
func (h *handler) dryRun(w http.ResponseWriter, r *http.Request, rule scaler.Rule) error {
	if other := h.ctrl.Rules(scaler.Filter{Service: rule.Service}); len(other) > 0 {
		return mgmt.Conflict("service", "service %q already has rule %s", rule.Service, other[0].ID)
	}
	res, err := h.ctrl.Preview(r.Context(), rule, nil, -1)
	if err != nil {
		return err
	}
	out := dryRunResponse{DryRun: true, Rule: rule}
	if res.Now != nil {
		d := decisionOut(*res.Now)
		out.Replicas, out.Desired, out.Decision = &d.Current, &d.Desired, &d
	} else {
		out.Error = res.NowError
	}
	httperr.WriteJSON(w, http.StatusOK, out)
	return nil
}

type listResponse struct {
	Rules []scaler.Rule `json:"rules"`
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) error {
	q, err := httperr.Query(r, []string{"name", "service", "label", "tenant"}, "label")
	if err != nil {
		return err
	}
	f := scaler.Filter{Name: q.Get("name"), Service: q.Get("service")}
	tenant, byTenant := q["tenant"]
	if byTenant {
		if tenant[0] == "" {
			return mgmt.Invalid("tenant", "is empty: give an agency, such as tenant=ED")
		}
		f.Labels = mgmt.Labels{mgmt.LabelAgency: tenant[0]}
	}
	for _, l := range q["label"] {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			return mgmt.Invalid("label", "%q must be key:value", l)
		}
		if f.Labels == nil {
			f.Labels = mgmt.Labels{}
		}
		if old, dup := f.Labels[k]; dup && old != v {
			if byTenant && k == mgmt.LabelAgency {
				return mgmt.Invalid("label", "%q contradicts tenant=%s; no rule can match", l, tenant[0])
			}
			return mgmt.Invalid("label", "key %q is given twice with different values; no rule can match", k)
		}
		f.Labels[k] = v
	}
	if err := f.Labels.Validate("label"); err != nil {
		return err
	}
	if err := h.authorize(r, PermRead, f.Labels[mgmt.LabelAgency]); err != nil {
		return err
	}
	httperr.WriteJSON(w, http.StatusOK, listResponse{Rules: h.ctrl.Rules(f)})
	return nil
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	rule, err := h.authorizeRule(r, PermRead, r.PathValue("id"))
	if err != nil {
		return err
	}
	httperr.WriteJSON(w, http.StatusOK, rule)
	return nil
}

func (h *handler) replace(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	id := r.PathValue("id")
	rule, err := h.readRule(w, r)
	if err != nil {
		return err
	}
	if rule.ID != "" && rule.ID != id {
		return mgmt.Invalid("id", "%q does not match the rule %q in the path; leave it out or make them equal", rule.ID, id)
	}
	old, err := h.authorizeRule(r, PermWrite, id)
	if err != nil {
		return err
	}
	// Moving a rule to another tenant needs the permission in both.
	if rule.Tenant() != old.Tenant() {
		if err := h.authorize(r, PermWrite, rule.Tenant()); err != nil {
			return err
		}
	}
	stored, err := h.ctrl.UpdateRule(id, rule)
	if err != nil {
		return err
	}
	httperr.WriteJSON(w, http.StatusOK, stored)
	return nil
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	if _, err := h.authorizeRule(r, PermWrite, r.PathValue("id")); err != nil {
		return err
	}
	if err := h.ctrl.DeleteRule(r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) pause(w http.ResponseWriter, r *http.Request) error {
	return h.setPaused(w, r, true)
}

func (h *handler) resume(w http.ResponseWriter, r *http.Request) error {
	return h.setPaused(w, r, false)
}

func (h *handler) setPaused(w http.ResponseWriter, r *http.Request, paused bool) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	if _, err := h.authorizeRule(r, PermWrite, r.PathValue("id")); err != nil {
		return err
	}
	rule, err := h.ctrl.SetPaused(r.PathValue("id"), paused)
	if err != nil {
		return err
	}
	httperr.WriteJSON(w, http.StatusOK, rule)
	return nil
}

type statusResponse struct {
	RuleID       string        `json:"ruleId"`
	Service      string        `json:"service"`
	Paused       bool          `json:"paused"`
	Replicas     int32         `json:"replicas"`
	Ready        int32         `json:"ready"`
	Desired      int32         `json:"desired"`
	Metric       *float64      `json:"metric"`
	Metrics      []metricOut   `json:"metrics"`
	LastDecision *decisionOut  `json:"lastDecision"`
	History      []decisionOut `json:"history"`
	Failures     int           `json:"failures"`
	Evaluations  int64         `json:"evaluations"`
}

type metricOut struct {
	Metric string     `json:"metric"`
	Value  *float64   `json:"value"` // null when the read failed
	Error  *string    `json:"error"` // null when the read succeeded
	At     *time.Time `json:"at,omitempty"`
}

func (h *handler) status(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	if _, err := h.authorizeRule(r, PermRead, r.PathValue("id")); err != nil {
		return err
	}
	st, err := h.ctrl.Status(r.PathValue("id"))
	if err != nil {
		return err
	}
	out := statusResponse{
		RuleID: st.RuleID, Service: st.Service, Paused: st.Paused,
		Replicas: st.Replicas, Ready: st.Ready, Desired: st.Desired,
		Metrics:  make([]metricOut, len(st.Metrics)),
		History:  make([]decisionOut, len(st.History)),
		Failures: st.Failures, Evaluations: st.Evaluations,
	}
	for i, m := range st.Metrics {
		mo := metricOut{Metric: m.Metric}
		if !m.At.IsZero() {
			at := m.At
			mo.At = &at
		}
		if m.Err != nil {
			msg := m.Err.Error()
			mo.Error = &msg
		} else {
			mo.Value = finite(m.Value)
		}
		out.Metrics[i] = mo
	}
	if len(out.Metrics) > 0 {
		out.Metric = out.Metrics[0].Value
	}
	if st.Evaluations > 0 {
		d := decisionOut(st.Last)
		out.LastDecision = &d
	}
	for i, d := range st.History {
		out.History[i] = decisionOut(d)
	}
	httperr.WriteJSON(w, http.StatusOK, out)
	return nil
}

// finite returns a pointer to v, or nil when v is NaN or infinite (which
// JSON cannot carry).
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// decisionOut writes a scaler.Decision in its own JSON shape, except that
// a NaN or infinite value (which a MetricSource may return and JSON cannot
// carry) is written as null instead of failing the whole response.
type decisionOut scaler.Decision

// MarshalJSON implements json.Marshaler.
func (d decisionOut) MarshalJSON() ([]byte, error) {
	sd := scaler.Decision(d)
	if finite(sd.Value) != nil {
		return sd.MarshalJSON()
	}
	sd.Value = 0
	b, err := sd.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["value"] = json.RawMessage("null")
	return json.Marshal(m)
}
