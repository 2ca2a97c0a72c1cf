package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/examples/internal/metrics/metricstest"
	"github.com/hms-platform/mgmt/internal/apitest"
	"github.com/hms-platform/mgmt/internal/promtest"
)

// svcMetrics are the families hms-svc serves once a rule has been
// evaluated and a cap set.
var svcMetrics = []string{
	"hms_scaler_tick_duration_seconds",
	"hms_scaler_rules_evaluated_total",
	"hms_scaler_ticks_total",
	"hms_scaler_rules",
	"hms_scaler_rules_by_last_reason",
	"hms_scaler_rule_evaluations_total",
	"hms_scaler_rule_replicas",
	"hms_scaler_rule_desired_replicas",
	"hms_scaler_rule_read_failures",
	"hms_scaler_decisions_total",
	"hms_backend_call_duration_seconds",
	"hms_budget_cap_dollars",
	"hms_budget_spend_dollars",
	"hms_budget_forecast_dollars",
	"hms_budget_burn_dollars_per_hour",
	"hms_budget_alerts",
	"go_goroutines",
	"process_cpu_seconds_total",
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, ":memory:")
	code, _ := a.do(t, http.MethodPost, "/autoscale-rules", seedRule)
	require.Equal(t, http.StatusCreated, code)
	code, _ = a.do(t, http.MethodPost, "/budgets/eligibility-api", `{"monthlyUSD": 150}`)
	require.Equal(t, http.StatusCreated, code)
	a.ctrl.Tick(context.Background())
	a.clock.Add(time.Hour)
	a.ctrl.Tick(context.Background())

	body := metricstest.Scrape(t, a.srv.Client(), a.srv.URL+"/metrics")
	metricstest.RequireNames(t, body, svcMetrics...)
	metricstest.Lint(t, body)
	assert.Contains(t, string(body), `hms_scaler_rule_evaluations_total{rule="AR-1",service="eligibility-api"} 2`)
	assert.Contains(t, string(body), `hms_scaler_ticks_total 2`)
	assert.Contains(t, string(body), `hms_budget_cap_dollars{cap="eligibility-api/month",mode="hard"} 150`)
	assert.Contains(t, string(body), `hms_backend_call_duration_seconds_count{backend="simcluster",operation="metric"} 3`, "one read at creation, one per tick")
}

// Without -dev, /metrics is not on the main listener: it is behind
// authentication there, and served on -metrics-addr only.
func TestMetricsNotOnMainListenerWithAuth(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, ":memory:")
	h, err := newHandler(a.ctrl, a.budget, slog.New(slog.DiscardHandler), auth.AllowAll("test"), mgmt.NopAuditor, a.clock, nil)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.Equal(t, http.StatusNotFound, rec.Code)
}

// A real Prometheus scrapes hms-svc's -metrics-addr listener and a PromQL
// query finds its series.
func TestPrometheusScrapesHost(t *testing.T) {
	t.Parallel()
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	maddr := mln.Addr().String()
	require.NoError(t, mln.Close()) // handed to -metrics-addr
	h := apitest.StartHost(t, run, "-addr", "127.0.0.1:0", "-dev", "-interval", "50ms", "-budget-db", ":memory:", "-metrics-addr", maddr)
	t.Cleanup(func() { _ = h.Stop() })
	res, err := http.Post(h.URL+"/autoscale-rules", "application/json", strings.NewReader(seedRule))
	require.NoError(t, err)
	res.Body.Close()

	body := metricstest.Scrape(t, nil, "http://"+maddr+"/metrics")
	metricstest.RequireNames(t, body, "hms_scaler_ticks_total", "go_goroutines")
	metricstest.Lint(t, body)

	prom := promtest.Start(t, promtest.Config{Targets: []string{maddr}, ScrapeInterval: 200 * time.Millisecond})
	q := prom.URL() + "/api/v1/query?query=" + url.QueryEscape(`hms_scaler_rule_evaluations_total{job="promtest",service="eligibility-api"}`)
	var last string
	require.Eventually(t, func() bool {
		res, err := http.Get(q)
		if err != nil {
			return false
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		last = string(b)
		var r struct {
			Status string
			Data   struct {
				Result []struct {
					Metric map[string]string
				}
			}
		}
		return json.Unmarshal(b, &r) == nil && r.Status == "success" && len(r.Data.Result) == 1 &&
			r.Data.Result[0].Metric["__name__"] == "hms_scaler_rule_evaluations_total"
	}, 30*time.Second, 100*time.Millisecond, "last answer: %s", last)
}
