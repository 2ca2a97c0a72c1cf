package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/examples/internal/metrics/metricstest"
	"github.com/hms-platform/mgmt/internal/apitest"
)

// sysMetrics are the families hms-sys serves once a transfer has been
// made and a cap set.
var sysMetrics = []string{
	"hms_ledger_transfers_total",
	"hms_ledger_group_events",
	"hms_ledger_group_commit_duration_seconds",
	"hms_ledger_group_commit_failures_total",
	"hms_backend_call_duration_seconds",
	"hms_budget_cap_dollars",
	"hms_budget_spend_dollars",
	"hms_budget_forecast_dollars",
	"hms_budget_burn_dollars_per_hour",
	"hms_budget_alerts",
	"hms_job_runs_total",
	"go_goroutines",
	"process_cpu_seconds_total",
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	a, _ := newTestApp(t, "-dev", "-seed-accounts", "-ledger-db", filepath.Join(t.TempDir(), "ledger.db"))
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	status, _, body := apitest.Call(t, "POST", srv.URL+"/ach/transfer", `{"from": "Treasury", "to": "GPO", "amount": 25}`, "")
	require.Equal(t, http.StatusCreated, status, body)
	status, _, body = apitest.Call(t, "POST", srv.URL+"/budgets/eligibility-api", `{"monthlyUSD": 10000}`, "")
	require.Equal(t, http.StatusCreated, status, body)

	m := metricstest.Scrape(t, srv.Client(), srv.URL+"/metrics")
	metricstest.RequireNames(t, m, sysMetrics...)
	metricstest.Lint(t, m)
	assert.Contains(t, string(m), `hms_ledger_transfers_total{result="ok"}`)
	assert.Contains(t, string(m), `hms_backend_call_duration_seconds_count{backend="ledger",operation="create_transfers"}`)
	assert.Contains(t, string(m), `hms_budget_cap_dollars{cap="eligibility-api/month",mode="hard"} 10000`)
	assert.Contains(t, string(m), `hms_ledger_group_commit_failures_total 0`)
	assert.Contains(t, string(m), `hms_job_runs_total{outcome="started"} 0`)
}

// Without -dev the host builds its handler without /metrics (it is on
// -metrics-addr only).
func TestNoMetricsOnMainListenerWithoutDev(t *testing.T) {
	t.Parallel()
	a, _ := newTestApp(t, "-dev")
	cfg, err := parseFlags([]string{"-dev", "-budget-db", ":memory:", "-ledger-db", ":memory:", "-settlement-dir", t.TempDir()}, io.Discard)
	require.NoError(t, err)
	h, err := newHandler(cfg, a.clock, a.ledger, a.settler, a.budget, auth.AllowAll("test"), mgmt.NopAuditor, nil, nil)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.Equal(t, http.StatusNotFound, rec.Code)
}
