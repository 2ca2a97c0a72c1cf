package budgethttp

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/internal/httperr"
)

// DefaultMaxBody is the request body limit when Options.MaxBody is 0:
// 64 KiB, far more than any cap needs.
const DefaultMaxBody int64 = 64 << 10

// Options configure the handler.
type Options struct {
	// Authorize decides who may do what (see the package documentation for
	// the permission and tenant each route asks for). Required:
	// auth.Authorizer.HTTP() behind auth.Middleware, or auth.AllowAll for
	// development.
	Authorize auth.HTTPAuthorizer
	// Owners tells which tenant owns a service; nil means the budget's own
	// record of the service (budget.Budget.ServiceTenant: the labels the
	// host registered with SetService). A host over a cluster passes the
	// cluster's answer (scaler.Controller implements Owners).
	Owners Owners
	// Logger receives one debug record per request (method, path, status,
	// size, duration; never bodies, headers or query strings) and an error
	// record per internal error. Default: slog.Default().
	Logger *slog.Logger
	// MaxBody is the request body limit in bytes; 0 or less means
	// DefaultMaxBody (64 KiB).
	MaxBody int64
	// Auditor receives a "budget.cap.set" or "budget.cap.delete" event
	// for every cap set or deleted, with the actor the authorizer named;
	// nil discards them.
	Auditor mgmt.Auditor
	// Clock stamps the events; nil means the real clock.
	Clock clock.Clock
}

// Owners tells which tenant owns a service: "" for a service without an
// owner, an error wrapping mgmt.ErrNotFound for an unknown one (which has
// no owner either).
type Owners interface {
	Owner(ctx context.Context, service string) (string, error)
}

// The permissions the routes ask Options.Authorize for.
const (
	PermRead  = "budget:read"
	PermWrite = "budget:write"
)

type handler struct {
	b       *budget.Budget
	owners  Owners
	log     *slog.Logger
	maxBody int64
	authz   auth.HTTPAuthorizer
	auditor mgmt.Auditor
	clock   clock.Clock
}

// budgetOwners answers Owners from the budget's registered services.
type budgetOwners struct{ b *budget.Budget }

func (o budgetOwners) Owner(_ context.Context, svc string) (string, error) {
	return o.b.ServiceTenant(svc), nil
}

func (h *handler) routes() []httperr.Route {
	return []httperr.Route{
		{Pattern: "POST /budgets/{svc}", Perm: PermWrite, Fn: h.set},
		{Pattern: "GET /budgets/{svc}", Perm: PermRead, Fn: h.get},
		{Pattern: "DELETE /budgets/{svc}", Perm: PermWrite, Fn: h.delete},
	}
}

// Routes returns the API's route patterns ("POST /budgets/{svc}"), for
// checks that every route is covered (authtest.EndpointOptions.Routes).
func Routes() []string {
	return httperr.Patterns((&handler{}).routes())
}

// NewHandler returns the HTTP API over b. It returns an error when b or
// opts.Authorize is missing.
func NewHandler(b *budget.Budget, opts Options) (http.Handler, error) {
	if b == nil {
		return nil, mgmt.Invalid("budget", "is required")
	}
	if opts.Authorize == nil {
		return nil, mgmt.Invalid("Options.Authorize", "is required (auth.AllowAll for development)")
	}
	h := &handler{b: b, owners: opts.Owners, log: opts.Logger, maxBody: opts.MaxBody, authz: opts.Authorize,
		auditor: opts.Auditor, clock: opts.Clock}
	if h.auditor == nil {
		h.auditor = mgmt.NopAuditor
	}
	if h.clock == nil {
		h.clock = clock.New()
	}
	if h.owners == nil {
		h.owners = budgetOwners{b}
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBody
	}
	return httperr.API("budgethttp", h.log, h.authz.Permitted, h.routes()...), nil
}

// noService is the answer for a service the request may not see: one of
// another tenant, and one that no tenant owns (to all but a principal
// acting for every tenant) alike.
func noService(svc string) error { return mgmt.NotFound("service", "no service %q", svc) }

// service returns the checked service name of the path, its tenant (the
// owner) and the actor, once the request is authorized for perm on that
// tenant.
func (h *handler) service(r *http.Request, perm string) (svc, tenant, actor string, err error) {
	svc = r.PathValue("svc")
	if err := budget.ValidateService("service", svc); err != nil {
		return "", "", "", err
	}
	owner, err := h.owners.Owner(r.Context(), svc)
	if err != nil && mgmt.KindOf(err) != mgmt.KindNotFound {
		return "", "", "", err
	}
	if actor, err = h.authz.Authorize(r, perm, owner); err != nil {
		if auth.IsInvisible(err) {
			return "", "", "", noService(svc)
		}
		return "", "", "", err
	}
	return svc, owner, actor, nil
}

// audit records that actor set (or deleted) cap c of tenant.
func (h *handler) audit(r *http.Request, actor, action, tenant string, c budget.Cap) {
	h.auditor.Audit(r.Context(), mgmt.AuditEvent{
		At: h.clock.Now(), Actor: actor, Action: action, Resource: "cap/" + c.ID, Tenant: tenant, Outcome: "ok",
		Details: map[string]string{"target": c.Target(), "period": c.Period.String(), "amountUSD": c.Amount.String(), "mode": c.Mode.String()},
	})
}

// visible drops from sts the caps of another tenant than the service's —
// selector caps that cover services of several tenants — unless the
// request is authorized to read caps of tenant "" (every tenant).
func (h *handler) visible(r *http.Request, tenant string, sts []budget.Status) ([]budget.Status, error) {
	out := sts[:0:0]
	asked, allowed := false, false
	for _, st := range sts {
		if h.capTenant(r.Context(), st.Cap) == tenant {
			out = append(out, st)
			continue
		}
		if !asked {
			asked = true
			_, err := h.authz.Authorize(r, PermRead, "")
			switch {
			case err == nil:
				allowed = true
			case mgmt.KindOf(err) != mgmt.KindForbidden:
				return nil, err
			}
		}
		if allowed {
			out = append(out, st)
		}
	}
	return out, nil
}

// capTenant is the tenant of a cap: its service's owner, or the agency a
// selector cap requires.
func (h *handler) capTenant(ctx context.Context, c budget.Cap) string {
	if c.Service == "" {
		return c.Selector[mgmt.LabelAgency]
	}
	owner, _ := h.owners.Owner(ctx, c.Service)
	return owner
}

// capView is the status of one cap, as the API shows it.
type capView struct {
	Cap           budget.Cap  `json:"cap"`
	MonthlyUSD    *mgmt.Money `json:"monthlyUSD,omitempty"`
	FiscalYearUSD *mgmt.Money `json:"fiscalYearUSD,omitempty"`
	Spend         mgmt.Money  `json:"spendUSD"`
	Forecast      mgmt.Money  `json:"forecastUSD"`
	Burn          mgmt.Money  `json:"burnPerHourUSD"`
	// Replicas and ReplicaCap are the service's under this cap; null when
	// the budget has not seen the service (Replicas) or when nothing
	// limits it (ReplicaCap).
	Replicas         *int32         `json:"replicas"`
	ReplicaCap       *int32         `json:"replicaCap"`
	ExceptionApplies bool           `json:"exceptionApplies"`
	Alerts           []budget.Alert `json:"alerts"`
	Period           periodView     `json:"period"`
}

type periodView struct {
	Key   string    `json:"key"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// view builds the API's view of st for service svc.
func view(svc string, st budget.Status) capView {
	v := capView{
		Cap: st.Cap, Spend: st.Spend, Forecast: st.Forecast, Burn: st.Burn,
		Alerts: st.Alerts, Period: periodView{Key: st.Period, Start: st.Start, End: st.End},
	}
	amount := st.Cap.Amount
	if st.Cap.Period == budget.FiscalYear {
		v.FiscalYearUSD = &amount
	} else {
		v.MonthlyUSD = &amount
	}
	if v.Alerts == nil {
		v.Alerts = []budget.Alert{}
	}
	for _, s := range st.Services {
		if s.Service == svc {
			n := s.Replicas
			v.Replicas, v.ReplicaCap, v.ExceptionApplies = &n, s.ReplicaCap, s.Exception
			break
		}
	}
	return v
}

// setResponse is the answer to a POST: the cap set and its status.
type setResponse struct {
	Service string `json:"service"`
	capView
}

func (h *handler) set(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	svc, tenant, actor, err := h.service(r, PermWrite)
	if err != nil {
		return err
	}
	body, err := httperr.ReadBody(w, r, h.maxBody)
	if err != nil {
		return err
	}
	c, err := decodeCap(r.Context(), body, svc)
	if err != nil {
		return err
	}
	stored, err := h.b.SetCap(r.Context(), c)
	if err != nil {
		if mgmt.FieldOf(err) == "amountUSD" { // checked above; named as the request names it
			field := "monthlyUSD"
			if c.Period == budget.FiscalYear {
				field = "fiscalYearUSD"
			}
			return mgmt.Errorf(mgmt.KindOf(err), field, "%s", strings.TrimPrefix(err.Error(), "amountUSD: "))
		}
		return err
	}
	h.audit(r, actor, "budget.cap.set", tenant, stored)
	st, err := h.b.Status(r.Context(), stored.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/budgets/"+url.PathEscape(svc))
	httperr.WriteJSON(w, http.StatusCreated, setResponse{Service: svc, capView: view(svc, st)})
	return nil
}

// getResponse is the answer to a GET: the service's main cap at the top
// level, and every cap covering it.
type getResponse struct {
	Service string `json:"service"`
	capView
	Caps []capView `json:"caps"`
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	svc, tenant, _, err := h.service(r, PermRead)
	if err != nil {
		return err
	}
	sts, err := h.b.StatusFor(r.Context(), svc)
	if err != nil {
		return err
	}
	if sts, err = h.visible(r, tenant, sts); err != nil {
		return err
	}
	if len(sts) == 0 {
		return mgmt.NotFound("service", "no budget cap covers service %q; POST /budgets/%s {\"monthlyUSD\": …} sets one", svc, svc)
	}
	out := getResponse{Service: svc, Caps: make([]capView, len(sts))}
	for i, st := range sts {
		out.Caps[i] = view(svc, st)
	}
	out.capView = out.Caps[topCap(svc, sts)]
	httperr.WriteJSON(w, http.StatusOK, out)
	return nil
}

// topCap picks the cap GET shows at the top level: the service's monthly
// cap, else its fiscal-year cap, else the first cap covering it.
func topCap(svc string, sts []budget.Status) int {
	for _, id := range []string{capID(svc, budget.Month), capID(svc, budget.FiscalYear)} {
		for i := range sts {
			if sts[i].Cap.ID == id {
				return i
			}
		}
	}
	return 0
}

// capID is the ID of a service's own cap for period p, as Cap.Normalize
// assigns it.
func capID(svc string, p budget.Period) string { return svc + "/" + p.String() }

func (h *handler) delete(w http.ResponseWriter, r *http.Request) error {
	q, err := httperr.Query(r, []string{"period"})
	if err != nil {
		return err
	}
	svc, tenant, actor, err := h.service(r, PermWrite)
	if err != nil {
		return err
	}
	p := budget.Month
	if v, ok := q["period"]; ok {
		if v[0] == "" {
			return mgmt.Invalid("period", "is empty: want month or fiscal_year")
		}
		if p, err = budget.ParsePeriod(v[0]); err != nil {
			return err
		}
	}
	id := capID(svc, p)
	c, err := h.b.Cap(id)
	if err != nil {
		if mgmt.KindOf(err) == mgmt.KindNotFound {
			return mgmt.NotFound("service", "service %q has no cap for period %s", svc, p)
		}
		return err
	}
	if err := h.b.DeleteCap(r.Context(), id); err != nil {
		return err
	}
	h.audit(r, actor, "budget.cap.delete", tenant, c)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
