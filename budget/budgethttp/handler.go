package budgethttp

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/internal/httperr"
)

// DefaultMaxBody is the request body limit when Options.MaxBody is 0:
// 64 KiB, far more than any cap needs.
const DefaultMaxBody int64 = 64 << 10

// Options configure the handler. The zero value is ready to use.
type Options struct {
	// Logger receives one debug record per request (method, path, status,
	// size, duration; never bodies, headers or query strings) and an error
	// record per internal error. Default: slog.Default().
	Logger *slog.Logger
	// MaxBody is the request body limit in bytes; 0 or less means
	// DefaultMaxBody (64 KiB).
	MaxBody int64
	// Authorize, when set, is asked before every request does anything
	// (see the package documentation for which permission and tenant each
	// route asks for). Its error is the response: an error of kind
	// mgmt.KindUnauthenticated is 401, mgmt.KindForbidden 403. Nil means no
	// authorization: put the handler behind one. auth.Authorizer.HTTPHook
	// returns one.
	Authorize Authorize
}

// Authorize authorizes the request r for permission perm (PermRead or
// PermWrite) on a resource of tenant ("" for a service without an agency
// label) and returns who is acting. It is the shape of
// scalerhttp.Authorize and patchhttp.Authorize too.
type Authorize func(r *http.Request, perm, tenant string) (actor string, err error)

// The permissions the routes ask Options.Authorize for.
const (
	PermRead  = "budget:read"
	PermWrite = "budget:write"
)

type handler struct {
	b       *budget.Budget
	log     *slog.Logger
	maxBody int64
	authz   Authorize
}

// NewHandler returns the HTTP API over b. It panics if b is nil, a
// programming error.
func NewHandler(b *budget.Budget, opts Options) http.Handler {
	if b == nil {
		panic("budgethttp: NewHandler needs a non-nil *budget.Budget")
	}
	h := &handler{b: b, log: opts.Logger, maxBody: opts.MaxBody, authz: opts.Authorize}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBody
	}
	return httperr.API("budgethttp", h.log,
		httperr.Route{Pattern: "POST /budgets/{svc}", Fn: h.set},
		httperr.Route{Pattern: "GET /budgets/{svc}", Fn: h.get},
		httperr.Route{Pattern: "DELETE /budgets/{svc}", Fn: h.delete},
	)
}

// service returns the checked service name of the path, once the request
// is authorized for perm on the service's tenant.
func (h *handler) service(r *http.Request, perm string) (string, error) {
	svc := r.PathValue("svc")
	if err := budget.ValidateService("service", svc); err != nil {
		return "", err
	}
	if h.authz != nil {
		if _, err := h.authz(r, perm, h.b.ServiceTenant(svc)); err != nil {
			return "", err
		}
	}
	return svc, nil
}

// visible drops from sts the caps of another tenant than the service's —
// selector caps that cover services of several tenants — unless the
// request is authorized to read caps of tenant "" (every tenant).
func (h *handler) visible(r *http.Request, svc string, sts []budget.Status) ([]budget.Status, error) {
	if h.authz == nil {
		return sts, nil
	}
	tenant := h.b.ServiceTenant(svc)
	out := sts[:0:0]
	asked, allowed := false, false
	for _, st := range sts {
		if h.b.Tenant(st.Cap) == tenant {
			out = append(out, st)
			continue
		}
		if !asked {
			asked = true
			_, err := h.authz(r, PermRead, "")
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
	svc, err := h.service(r, PermWrite)
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
	svc, err := h.service(r, PermRead)
	if err != nil {
		return err
	}
	sts, err := h.b.StatusFor(r.Context(), svc)
	if err != nil {
		return err
	}
	if sts, err = h.visible(r, svc, sts); err != nil {
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
	svc, err := h.service(r, PermWrite)
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
	if _, err := h.b.Cap(id); err != nil {
		if mgmt.KindOf(err) == mgmt.KindNotFound {
			return mgmt.NotFound("service", "service %q has no cap for period %s", svc, p)
		}
		return err
	}
	if err := h.b.DeleteCap(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
