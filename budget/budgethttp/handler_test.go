package budgethttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/budget/budgethttp"
	"github.com/hms-platform/mgmt/scaler"
)

// recordInvoice books $7,360 of eligibility-api spend two days before t0,
// as in the seed's story: the $10,000 cap then allows 15 replicas.
func (e *env) recordInvoice() {
	e.t.Helper()
	_, err := e.b.Record(context.Background(), budget.Record{
		ID: "invoice-1", Service: "eligibility-api", Amount: 736_000, At: t0.Add(-48 * time.Hour),
	})
	require.NoError(e.t, err)
}

func TestSeedPostThenGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.recordInvoice()

	res := e.do(http.MethodPost, "/budgets/eligibility-api", seedCap)
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	assert.Equal(t, "application/json", res.header.Get("Content-Type"))
	assert.Equal(t, "/budgets/eligibility-api", res.header.Get("Location"))
	assert.JSONEq(t, `{
		"service": "eligibility-api",
		"cap": {"id": "eligibility-api/month", "service": "eligibility-api", "period": "month",
		        "amountUSD": 10000.00, "currency": "USD", "mode": "hard", "overCap": "hold",
		        "thresholds": [{"percent": 50}, {"percent": 80}, {"percent": 100}, {"forecast": true, "percent": 100}]},
		"monthlyUSD": 10000.00,
		"spendUSD": 7360.00,
		"forecastUSD": 8063.36,
		"burnPerHourUSD": 3.84,
		"replicas": 4,
		"replicaCap": 15,
		"exceptionApplies": false,
		"alerts": [],
		"period": {"key": "2026-11", "start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"}
	}`, string(res.body))

	c, err := e.b.Cap("eligibility-api/month")
	require.NoError(t, err)
	assert.Equal(t, mgmt.Money(1_000_000), c.Amount, "exact cents")

	// An hour later the meter has run 4 replicas for an hour.
	e.clock.Add(time.Hour)
	_, err = e.b.Flush(context.Background())
	require.NoError(t, err)
	res = e.do(http.MethodGet, "/budgets/eligibility-api", "")
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	m := res.json(t)
	assert.Equal(t, "eligibility-api", m["service"])
	assert.Equal(t, json.Number("10000.00"), get(t, m, "cap.amountUSD"))
	assert.Equal(t, json.Number("10000.00"), m["monthlyUSD"])
	assert.NotContains(t, m, "fiscalYearUSD")
	assert.Equal(t, json.Number("7363.84"), m["spendUSD"], "$7,360 invoiced + 4 × $0.96 metered")
	assert.Equal(t, json.Number("8063.36"), m["forecastUSD"], "the same forecast: nothing changed but the clock")
	assert.Equal(t, json.Number("3.84"), m["burnPerHourUSD"])
	assert.Equal(t, json.Number("15"), m["replicaCap"])
	assert.Equal(t, json.Number("4"), m["replicas"])
	assert.Equal(t, "2026-11", get(t, m, "period.key"))
	caps, ok := m["caps"].([]any)
	require.True(t, ok)
	require.Len(t, caps, 1)
	assert.Equal(t, "eligibility-api/month", get(t, caps[0].(map[string]any), "cap.id"))
}

func TestAlertsShowInStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.recordInvoice()
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/budgets/eligibility-api",
		`{"monthlyUSD": 8000, "thresholds": [{"percent": 80}, {"percent": 100, "forecast": true}]}`).status)
	alerts, err := e.b.CheckAlerts(context.Background())
	require.NoError(t, err)
	require.Len(t, alerts, 2, "$7,360 is 92 %% of $8,000; the forecast $8,063.36 is over it")

	m := e.do(http.MethodGet, "/budgets/eligibility-api", "").json(t)
	got := m["alerts"].([]any)
	require.Len(t, got, 2)
	first := got[0].(map[string]any)
	assert.Equal(t, "eligibility-api/month", first["capId"])
	assert.Equal(t, "2026-11", first["period"])
	assert.Equal(t, json.Number("80"), get(t, first, "threshold.percent"))
	assert.Equal(t, json.Number("7360.00"), first["valueUSD"])
	assert.Equal(t, json.Number("8000.00"), first["amountUSD"])
	assert.Equal(t, json.Number("3"), m["replicaCap"], "$640 left, $175.84 per replica to the end of the month")
}

func TestFiscalYearAndOptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := `{"fiscalYearUSD": 120000.5, "mode": "soft", "overCap": "step_down",
	          "exception": {"when": "labels.program == \"student-loan-forgiveness\"", "overrunPercent": 10},
	          "thresholds": [{"percent": 90}, {"percent": 100, "forecast": true}]}`
	res := e.do(http.MethodPost, "/budgets/eligibility-api", body)
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	m := res.json(t)
	assert.Equal(t, "eligibility-api/fiscal_year", get(t, m, "cap.id"))
	assert.Equal(t, "fiscal_year", get(t, m, "cap.period"))
	assert.Equal(t, "soft", get(t, m, "cap.mode"))
	assert.Equal(t, "step_down", get(t, m, "cap.overCap"))
	assert.Equal(t, json.Number("10"), get(t, m, "cap.exception.overrunPercent"))
	assert.Equal(t, json.Number("120000.50"), m["fiscalYearUSD"])
	assert.NotContains(t, m, "monthlyUSD")
	assert.Nil(t, m["replicaCap"], "a soft cap sets no replica cap")
	assert.Equal(t, true, m["exceptionApplies"])
	assert.Equal(t, "FY2027", get(t, m, "period.key"))
	assert.Equal(t, "2026-10-01T00:00:00Z", get(t, m, "period.start"))
	assert.Equal(t, "2027-10-01T00:00:00Z", get(t, m, "period.end"))

	c, err := e.b.Cap("eligibility-api/fiscal_year")
	require.NoError(t, err)
	assert.Equal(t, budget.Cap{
		ID: "eligibility-api/fiscal_year", Service: "eligibility-api", Period: budget.FiscalYear,
		Amount: 12_000_050, Currency: "USD", Mode: budget.Soft, OverCap: budget.StepDown,
		Exception:  &budget.Exception{When: `labels.program == "student-loan-forgiveness"`, OverrunPercent: 10},
		Thresholds: []budget.Threshold{{Percent: 90}, {Percent: 100, Forecast: true}},
	}, c)
}

func TestGetShowsEveryCapCoveringTheService(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	// An agency-wide cap by label selector covers both services.
	_, err := e.b.SetCap(ctx, budget.Cap{Selector: budget.Selector{"agency": "ED"}, Amount: 5_000_000})
	require.NoError(t, err)

	m := e.do(http.MethodGet, "/budgets/student-aid-portal", "").json(t)
	assert.Equal(t, "agency=ED/month", get(t, m, "cap.id"), "without a cap of its own: the first cap covering it")
	assert.Equal(t, json.Number("2"), m["replicas"])
	assert.Equal(t, json.Number("4.84"), m["burnPerHourUSD"], "the selector cap's burn: 4 × $0.96 + 2 × $0.50")

	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/budgets/student-aid-portal", `{"fiscalYearUSD": 90000}`).status)
	m = e.do(http.MethodGet, "/budgets/student-aid-portal", "").json(t)
	assert.Equal(t, "student-aid-portal/fiscal_year", get(t, m, "cap.id"), "its own fiscal-year cap before a selector cap")

	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/budgets/student-aid-portal", `{"monthlyUSD": 900}`).status)
	m = e.do(http.MethodGet, "/budgets/student-aid-portal", "").json(t)
	assert.Equal(t, "student-aid-portal/month", get(t, m, "cap.id"), "its own monthly cap first")
	var ids []string
	for _, c := range m["caps"].([]any) {
		ids = append(ids, get(t, c.(map[string]any), "cap.id").(string))
	}
	assert.Equal(t, []string{"agency=ED/month", "student-aid-portal/fiscal_year", "student-aid-portal/month"}, ids)
}

func TestCapOnUnseenService(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.do(http.MethodPost, "/budgets/loan-status-api", `{"monthlyUSD": 0.07}`)
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	m := res.json(t)
	assert.Equal(t, json.Number("0.07"), m["monthlyUSD"])
	assert.Nil(t, m["replicas"], "the budget has not seen the service")
	assert.Nil(t, m["replicaCap"])
	assert.Equal(t, json.Number("0.00"), m["spendUSD"])
}

func TestReplaceAndDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/budgets/eligibility-api", seedCap).status)
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/budgets/eligibility-api", `{"monthlyUSD": 12500.25, "mode": "soft"}`).status)
	c, err := e.b.Cap("eligibility-api/month")
	require.NoError(t, err)
	assert.Equal(t, mgmt.Money(1_250_025), c.Amount)
	assert.Equal(t, budget.Soft, c.Mode, "replaced whole")
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/budgets/eligibility-api", `{"fiscalYearUSD": 100000}`).status)
	assert.Len(t, e.b.Caps(), 2)

	res := e.do(http.MethodDelete, "/budgets/eligibility-api", "")
	assert.Equal(t, http.StatusNoContent, res.status)
	assert.Empty(t, res.body)
	_, err = e.b.Cap("eligibility-api/month")
	assert.ErrorIs(t, err, mgmt.ErrNotFound)
	_, err = e.store.Cap(context.Background(), "eligibility-api/month")
	assert.ErrorIs(t, err, mgmt.ErrNotFound)

	m := e.do(http.MethodGet, "/budgets/eligibility-api", "").json(t)
	assert.Equal(t, "eligibility-api/fiscal_year", get(t, m, "cap.id"))

	res = e.do(http.MethodDelete, "/budgets/eligibility-api", "")
	assert.Equal(t, http.StatusNotFound, res.status)
	assert.Equal(t, "service", res.errorDetail(t).Field)

	assert.Equal(t, http.StatusNoContent, e.do(http.MethodDelete, "/budgets/eligibility-api?period=fiscal_year", "").status)
	res = e.do(http.MethodGet, "/budgets/eligibility-api", "")
	assert.Equal(t, http.StatusNotFound, res.status)
	d := res.errorDetail(t)
	assert.Equal(t, "not_found", d.Kind)
	assert.Equal(t, "service", d.Field)
	assert.Empty(t, e.b.Caps())
}

// TestCapStopsScaleUp: a cap set over HTTP limits the autoscaler through
// the budget's guard.
func TestCapStopsScaleUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.recordInvoice()
	cluster := scaler.NewMemory()
	cluster.SetMetric("eligibility-api", "http_rps", 5000)
	ctx := context.Background()
	ms := e.b.WrapScaler(cluster)
	require.NoError(t, ms.SetReplicas(ctx, "eligibility-api", 4, "start"))
	ctrl, err := scaler.New(scaler.Options{
		Clock: e.clock, Sources: map[string]scaler.MetricSource{"": cluster}, Scaler: ms,
		Guards: []scaler.Guard{e.b.Guard()}, Logger: quiet(),
	})
	require.NoError(t, err)
	rule, err := scaler.DecodeRule(strings.NewReader(`{"service": "eligibility-api", "minReplicas": 4, "maxReplicas": 50,
		"trigger": {"metric": "http_rps", "threshold": 500}}`))
	require.NoError(t, err)
	rule, err = ctrl.AddRule(context.Background(), rule)
	require.NoError(t, err)

	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/budgets/eligibility-api", seedCap).status)
	// The scale-up policy doubles the count every 15 s: 4 → 8 → 16, which
	// the cap trims to 15.
	var st scaler.Status
	for i := 0; i < 4 && st.Last.Guard == ""; i++ {
		ctrl.Tick(ctx)
		st, err = ctrl.Status(rule.ID)
		require.NoError(t, err)
		e.clock.Add(15 * time.Second)
	}
	assert.Equal(t, int32(15), st.Desired, "the seed: stop at 15 replicas, even if demand is higher")
	rs, err := cluster.Replicas(ctx, "eligibility-api")
	require.NoError(t, err)
	assert.Equal(t, int32(15), rs.Desired)
	assert.Equal(t, "budget", st.Last.Guard)
	assert.Equal(t, int32(16), st.Last.GuardFrom)
	assert.True(t, strings.HasPrefix(st.Last.GuardReason, "capped by budget eligibility-api/month: 15 replicas"), st.Last.GuardReason)

	m := e.do(http.MethodGet, "/budgets/eligibility-api", "").json(t)
	assert.Equal(t, json.Number("15"), m["replicas"], "the meter follows the wrapped scaler")
	assert.Equal(t, json.Number("15"), m["replicaCap"])
}

// syncWriter serializes writes from the server's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func TestMethodsAndPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.do(http.MethodPut, "/budgets/eligibility-api", seedCap)
	assert.Equal(t, http.StatusMethodNotAllowed, res.status)
	assert.Equal(t, "DELETE, GET, HEAD, POST", res.header.Get("Allow"))
	assert.Equal(t, "method", res.errorDetail(t).Field)

	for _, path := range []string{"/budgets", "/budgets/", "/budgets/eligibility-api/month", "/"} {
		res = e.do(http.MethodGet, path, "")
		assert.Equal(t, http.StatusNotFound, res.status, path)
		assert.Equal(t, "path", res.errorDetail(t).Field, path)
	}
	res = e.do(http.MethodHead, "/budgets/nobody", "")
	assert.Equal(t, http.StatusNotFound, res.status)
}

func TestLogsNeitherBodiesNorQueries(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&syncWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, envOptions{logger: logger})
	e.do(http.MethodPost, "/budgets/eligibility-api?secret=querysecret", `{"monthlyUSD": "bodysecret"}`)
	e.do(http.MethodPost, "/budgets/eligibility-api", `{"monthlyUSD": 1, "mode": "bodysecret"}`)
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/budgets/eligibility-api", seedCap).status)
	out := logs.String()
	assert.Contains(t, out, `"msg":"http request"`)
	assert.NotContains(t, out, "querysecret")
	assert.NotContains(t, out, "bodysecret")
}

func TestMaxBodyOption(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{maxBody: 16})
	res := e.do(http.MethodPost, "/budgets/eligibility-api", `{"monthlyUSD":   10000}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.status)
	assert.Equal(t, "body", res.errorDetail(t).Field)
	assert.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/budgets/eligibility-api", `{"monthlyUSD":1}`).status)
}

func TestNewHandlerNeedsABudget(t *testing.T) {
	t.Parallel()
	_, err := budgethttp.NewHandler(nil, budgethttp.Options{Authorize: auth.AllowAll("test")})
	require.ErrorIs(t, err, mgmt.ErrInvalid)
	e := newEnv(t)
	_, err = budgethttp.NewHandler(e.b, budgethttp.Options{})
	require.ErrorIs(t, err, mgmt.ErrInvalid, "no authorizer is not allow-everything")
	assert.Equal(t, "Options.Authorize", mgmt.FieldOf(err))
}

// TestStoreFailureIs503: an unavailable store is the server's problem,
// reported without its details.
func TestStoreFailureIs503(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	store := &failingStore{Store: budget.NewMemory()}
	b, err := budget.New(context.Background(), budget.Options{Store: store, Clock: e.clock, Logger: quiet()})
	require.NoError(t, err)
	h, err := budgethttp.NewHandler(b, budgethttp.Options{Logger: quiet(), Authorize: auth.AllowAll("test")})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	store.fail.Store(true)
	res, err := http.Post(srv.URL+"/budgets/eligibility-api", "application/json", strings.NewReader(seedCap))
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	assert.Empty(t, b.Caps())
}

type failingStore struct {
	budget.Store
	fail atomic.Bool
}

func (s *failingStore) Spend(ctx context.Context, f budget.SpendFilter) (mgmt.Money, error) {
	if s.fail.Load() {
		return 0, mgmt.Unavailable("database is down")
	}
	return s.Store.Spend(ctx, f)
}
