package scalerhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
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

// Options configure the handler.
type Options struct {
	// Authorize decides who may do what (see the package documentation for
	// the permission and tenant each route asks for). Required:
	// auth.Authorizer.HTTP() behind auth.Middleware, or auth.AllowAll for
	// development.
	Authorize auth.HTTPAuthorizer
	// Owners tells which tenant owns a service; nil means the controller's
	// Scaler (scaler.Controller.Owner: the service's own labels in the
	// cluster). A host with a service catalog may answer from it.
	Owners Owners
	// Logger receives one debug record per request (method, path, status,
	// size, duration; never bodies, headers or query strings) and an error
	// record per internal error. Default: slog.Default().
	Logger *slog.Logger
	// MaxBody is the request body limit in bytes; 0 or less means
	// DefaultMaxBody (1 MiB).
	MaxBody int64
	// Auditor receives an event for every rule created, replaced,
	// deleted, paused or resumed ("autoscale.rule.create", ….update,
	// ….delete, ….pause, ….resume), with the actor the authorizer named;
	// nil discards them.
	Auditor mgmt.Auditor
	// Clock stamps the events; nil means the real clock.
	Clock clock.Clock
	// Prices, when set, prices the replica-hours of a preview: each step's
	// cost and the trace's total (budget.Budget implements it).
	Prices Prices
}

// Prices tells the price of one replica-hour of a service; false when it
// is not known.
type Prices interface {
	PricePerReplicaHour(service string) (mgmt.Money, bool)
}

// Owners tells which tenant owns a service: "" for a service without an
// owner, an error wrapping mgmt.ErrNotFound for an unknown one.
// *scaler.Controller implements it.
type Owners interface {
	Owner(ctx context.Context, service string) (string, error)
}

// The permissions the routes ask Options.Authorize for.
const (
	PermRead  = "rules:read"
	PermWrite = "rules:write"
)

type handler struct {
	ctrl    *scaler.Controller
	owners  Owners
	log     *slog.Logger
	maxBody int64
	authz   auth.HTTPAuthorizer
	auditor mgmt.Auditor
	clock   clock.Clock
	prices  Prices
}

func (h *handler) routes() []httperr.Route {
	return []httperr.Route{
		{Pattern: "GET /healthz", Fn: h.healthz},
		{Pattern: "POST /autoscale-rules", Perm: PermWrite, Fn: h.create},
		{Pattern: "GET /autoscale-rules", Perm: PermRead, Fn: h.list},
		{Pattern: "POST /autoscale-rules/preview", Perm: PermRead, Fn: h.preview},
		{Pattern: "GET /autoscale-rules/{id}", Perm: PermRead, Fn: h.get},
		{Pattern: "PUT /autoscale-rules/{id}", Perm: PermWrite, Fn: h.replace},
		{Pattern: "DELETE /autoscale-rules/{id}", Perm: PermWrite, Fn: h.delete},
		{Pattern: "POST /autoscale-rules/{id}/pause", Perm: PermWrite, Fn: h.pause},
		{Pattern: "POST /autoscale-rules/{id}/resume", Perm: PermWrite, Fn: h.resume},
		{Pattern: "GET /autoscale-rules/{id}/status", Perm: PermRead, Fn: h.status},
		{Pattern: "GET /rules/{id}/status", Perm: PermRead, Fn: h.status},
	}
}

// Routes returns the API's route patterns ("POST /autoscale-rules"), for
// checks that every route is covered (authtest.EndpointOptions.Routes).
func Routes() []string {
	return httperr.Patterns((&handler{}).routes())
}

// NewHandler returns the HTTP API over ctrl. It returns an error when ctrl
// or opts.Authorize is missing.
func NewHandler(ctrl *scaler.Controller, opts Options) (http.Handler, error) {
	if ctrl == nil {
		return nil, mgmt.Invalid("ctrl", "is required")
	}
	if opts.Authorize == nil {
		return nil, mgmt.Invalid("Options.Authorize", "is required (auth.AllowAll for development)")
	}
	h := &handler{ctrl: ctrl, owners: opts.Owners, log: opts.Logger, maxBody: opts.MaxBody, authz: opts.Authorize,
		auditor: opts.Auditor, clock: opts.Clock, prices: opts.Prices}
	if h.auditor == nil {
		h.auditor = mgmt.NopAuditor
	}
	if h.clock == nil {
		h.clock = clock.New()
	}
	if h.owners == nil {
		h.owners = ctrl
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBody
	}
	return httperr.API("scalerhttp", h.log, h.authz.Permitted, h.routes()...), nil
}

// audit records that actor did action to rule.
func (h *handler) audit(r *http.Request, actor, action string, rule scaler.Rule) {
	h.auditor.Audit(r.Context(), mgmt.AuditEvent{
		At: h.clock.Now(), Actor: actor, Action: action, Resource: "rule/" + rule.ID, Tenant: rule.Tenant(), Outcome: "ok",
		Details: map[string]string{
			"service": rule.Service, "name": rule.Name, "paused": strconv.FormatBool(rule.Paused),
			"minReplicas": strconv.Itoa(int(rule.MinReplicas)), "maxReplicas": strconv.Itoa(int(rule.MaxReplicas)),
		},
	})
}

// noRule is the answer for a rule that does not exist, and for one of
// another tenant: the two are indistinguishable.
func noRule(id string) error { return mgmt.NotFound("id", "no rule %s", id) }

// noService is the answer for a service that does not exist, and for one
// of another tenant.
func noService(field, svc string) error {
	return mgmt.NotFound(field, "no service %q", svc)
}

// authorizeService authorizes perm on the tenant that owns svc and returns
// that tenant and the actor. A service the cluster does not know has no owner: only a
// principal acting for every tenant may write rules for it before it is
// deployed. A service that the request may not see is noService(field,
// svc), whether it exists or not.
func (h *handler) authorizeService(r *http.Request, perm, field, svc string) (owner, actor string, err error) {
	owner, err = h.owners.Owner(r.Context(), svc)
	if err != nil && mgmt.KindOf(err) != mgmt.KindNotFound {
		return "", "", err
	}
	if actor, err = h.authz.Authorize(r, perm, owner); err != nil {
		if auth.IsInvisible(err) {
			return "", "", noService(field, svc)
		}
		return "", "", err
	}
	return owner, actor, nil
}

// ownRule authorizes perm on the service of rule (field names it in
// errors) and makes the rule its owner's: the agency label is the owner,
// filled in when missing; one that names another tenant is refused. A
// service without an owner (which only a principal acting for every
// tenant may reach) keeps the label it is given. It returns the actor.
func (h *handler) ownRule(r *http.Request, perm, field string, rule *scaler.Rule) (actor string, err error) {
	owner, actor, err := h.authorizeService(r, perm, httperr.Join(field, "service"), rule.Service)
	if err != nil || owner == "" {
		return actor, err
	}
	if got, ok := rule.Labels[mgmt.LabelAgency]; ok {
		if got != owner {
			return "", mgmt.Errorf(mgmt.KindForbidden, httperr.Join(field, "labels."+mgmt.LabelAgency),
				"is %q, but service %q belongs to tenant %q: a rule's tenant is its service's owner (leave the label out)", got, rule.Service, owner)
		}
		return actor, nil
	}
	labels := rule.Labels.Clone()
	if labels == nil {
		labels = mgmt.Labels{}
	}
	labels[mgmt.LabelAgency] = owner
	rule.Labels = labels
	return actor, nil
}

// ruleTenant is the tenant of a stored rule: its service's owner, or, when
// the service is gone from the cluster, the tenant the rule was created
// for.
func (h *handler) ruleTenant(ctx context.Context, rule scaler.Rule) (string, error) {
	owner, err := h.owners.Owner(ctx, rule.Service)
	if err != nil {
		if mgmt.KindOf(err) == mgmt.KindNotFound {
			return rule.Tenant(), nil
		}
		return "", err
	}
	return owner, nil
}

// authorizeRule loads rule id, authorizes perm on its tenant and returns
// the rule and the actor. A rule that does not exist, or that the request
// may not see, is noRule(id).
func (h *handler) authorizeRule(r *http.Request, perm, id string) (scaler.Rule, string, error) {
	rule, err := h.ctrl.Rule(r.Context(), id)
	if err != nil {
		if mgmt.KindOf(err) == mgmt.KindNotFound {
			return scaler.Rule{}, "", noRule(id)
		}
		return scaler.Rule{}, "", err
	}
	tenant, err := h.ruleTenant(r.Context(), rule)
	if err != nil {
		return scaler.Rule{}, "", err
	}
	actor, err := h.authz.Authorize(r, perm, tenant)
	if err != nil {
		if auth.IsInvisible(err) {
			return scaler.Rule{}, "", noRule(id)
		}
		return scaler.Rule{}, "", err
	}
	return rule, actor, nil
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
	actor, err := h.ownRule(r, PermWrite, "", &rule)
	if err != nil {
		return err
	}
	if dryRun {
		return h.dryRun(w, r, rule)
	}
	stored, err := h.ctrl.AddRule(r.Context(), rule)
	if err != nil {
		return err
	}
	h.audit(r, actor, "autoscale.rule.create", stored)
	w.Header().Set("Location", "/autoscale-rules/"+stored.ID)
	httperr.WriteJSON(w, http.StatusCreated, createResponse{RuleID: stored.ID, Rule: stored})
	return nil
}

// dryRun answers what creating rule would do now, without storing it. It
// refuses what the real request would refuse.
func (h *handler) dryRun(w http.ResponseWriter, r *http.Request, rule scaler.Rule) error {
	other, err := h.ctrl.Rules(r.Context(), scaler.Filter{Service: rule.Service})
	if err != nil {
		return err
	}
	if len(other) > 0 {
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
	if _, err := h.authz.Authorize(r, PermRead, f.Labels[mgmt.LabelAgency]); err != nil {
		return err
	}
	rules, err := h.ctrl.Rules(r.Context(), f)
	if err != nil {
		return err
	}
	httperr.WriteJSON(w, http.StatusOK, listResponse{Rules: rules})
	return nil
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	rule, _, err := h.authorizeRule(r, PermRead, r.PathValue("id"))
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
	if _, _, err := h.authorizeRule(r, PermWrite, id); err != nil {
		return err
	}
	// The rule may move to another service: it needs the permission on
	// that one's owner too.
	actor, err := h.ownRule(r, PermWrite, "", &rule)
	if err != nil {
		return err
	}
	stored, err := h.ctrl.UpdateRule(r.Context(), id, rule)
	if err != nil {
		return err
	}
	h.audit(r, actor, "autoscale.rule.update", stored)
	httperr.WriteJSON(w, http.StatusOK, stored)
	return nil
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	rule, actor, err := h.authorizeRule(r, PermWrite, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := h.ctrl.DeleteRule(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	h.audit(r, actor, "autoscale.rule.delete", rule)
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
	_, actor, err := h.authorizeRule(r, PermWrite, r.PathValue("id"))
	if err != nil {
		return err
	}
	rule, err := h.ctrl.SetPaused(r.Context(), r.PathValue("id"), paused)
	if err != nil {
		return err
	}
	action := "autoscale.rule.resume"
	if paused {
		action = "autoscale.rule.pause"
	}
	h.audit(r, actor, action, rule)
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
	Error  any        `json:"error"` // {"kind", "message"}; null when the read succeeded
	At     *time.Time `json:"at,omitempty"`
}

func (h *handler) status(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	if _, _, err := h.authorizeRule(r, PermRead, r.PathValue("id")); err != nil {
		return err
	}
	st, err := h.ctrl.CurrentStatus(r.Context(), r.PathValue("id"))
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
			mo.Error = scaler.ErrorJSON(m.Err)
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
