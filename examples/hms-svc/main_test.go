package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/examples/internal/host"
	"github.com/hms-platform/mgmt/internal/apitest"
	"github.com/hms-platform/mgmt/scaler"
)

func TestRefusesToStartWithoutDev(t *testing.T) {
	t.Parallel()
	var stderr apitest.SyncBuffer
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0"}, &stderr, func(net.Addr) {
		t.Error("the server must not start without -dev")
	})
	require.ErrorIs(t, err, errNoAuth)
	assert.Contains(t, err.Error(), "without authentication")
	assert.Contains(t, err.Error(), "-dev")
	assert.Contains(t, err.Error(), "-issuer")
	assert.Equal(t, 2, host.ExitCode("hms-svc", err, &stderr))
	assert.Contains(t, stderr.String(), "hms-svc: refusing to start")
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	cfg, err := parseFlags([]string{"-dev"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8080", cfg.addr)
	assert.Equal(t, 5*time.Second, cfg.interval)
	require.NotNil(t, cfg.logger)
	assert.Empty(t, cfg.auth.Issuer)
	assert.IsType(t, simcluster.Surge{}, cfg.trace)
	assert.Equal(t, "hms-svc.db", cfg.db, "SQLite in the working directory")
	assert.Equal(t, 5*time.Second, cfg.budgetInterval, "the budget runs at the autoscaler's interval")

	cfg, err = parseFlags([]string{"-dev", "-addr", ":9000", "-interval", "1s", "-log-format", "json", "-log-level", "debug", "-trace", "constant:700"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, ":9000", cfg.addr)
	assert.Equal(t, time.Second, cfg.interval)
	assert.True(t, cfg.logger.Enabled(context.Background(), slog.LevelDebug))
	assert.Equal(t, simcluster.Constant(700), cfg.trace)
	assert.Equal(t, time.Second, cfg.budgetInterval)

	cfg, err = parseFlags([]string{"-issuer", "http://127.0.0.1:8090", "-audience", "hms", "-auth-policy", "p.yaml", "-jwks", "k.json"}, io.Discard)
	require.NoError(t, err, "-issuer replaces -dev")
	assert.Equal(t, host.AuthFlags{Issuer: "http://127.0.0.1:8090", Audience: "hms", Policy: "p.yaml", JWKS: "k.json"}, cfg.auth)
	assert.False(t, cfg.dev)

	cfg, err = parseFlags([]string{"-dev", "-budget-db", ":memory:", "-budget-interval", "30s"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, ":memory:", cfg.db, "-budget-db is the old name of -db")
	assert.Equal(t, 30*time.Second, cfg.budgetInterval)
	cfg, err = parseFlags([]string{"-dev", "-db", "postgres://u:secret@db.example/hms"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "postgres://u:secret@db.example/hms", cfg.db)

	for _, args := range [][]string{
		{"-dev", "-db", "a.db", "-budget-db", "b.db"},
		{"-dev", "-db", ""},
		{"-dev", "-lease-ttl", "0s"},
		{"-dev", "-status-every", "0s"},
		{"-dev", "-interval", "0s"},
		{"-dev", "-interval", "soon"},
		{"-dev", "-log-format", "xml"},
		{"-dev", "-log-level", "loud"},
		{"-dev", "-trace", "square:1"},
		{"-dev", "-shutdown-timeout", "0s"},
		{"-dev", "-budget-interval", "1ms"},
		{"-dev", "-budget-interval", "-1s"},
		{"-dev", "-budget-db", ""},
		{"-dev", "-bogus"},
		{"-dev", "extra"},
		{"-interval", "0s"}, // flag errors come before the -dev check
		{"-dev", "-issuer", "http://127.0.0.1:8090", "-audience", "hms"},
		{"-audience", "hms"},
		{"-dev", "-jwks", "keys.json"},
		{"-auth-policy", "policy.yaml"},
		{"-issuer", "http://127.0.0.1:8090"}, // no -audience
	} {
		_, err := parseFlags(args, io.Discard)
		var ue *host.UsageError
		require.ErrorAs(t, err, &ue, "%v", args)
		assert.NotErrorIs(t, err, errNoAuth, "%v", args)
		assert.Equal(t, 2, host.ExitCode("hms-svc", err, io.Discard), "%v", args)
	}
	_, err = parseFlags([]string{"-h"}, io.Discard)
	assert.ErrorIs(t, err, flag.ErrHelp)
	assert.Equal(t, 0, host.ExitCode("hms-svc", err, io.Discard))
	assert.Equal(t, 1, host.ExitCode("hms-svc", io.ErrUnexpectedEOF, io.Discard))
}

func TestWarnDev(t *testing.T) {
	t.Parallel()
	cfg, err := parseFlags([]string{"-dev"}, io.Discard)
	require.NoError(t, err)
	var out bytes.Buffer
	warnDev := func(w io.Writer, logger *slog.Logger, addr string) {
		host.WarnDev(w, logger, addr, "create, change and delete autoscale rules and budget caps")
	}
	newLogger := func(_ config, w io.Writer) *slog.Logger { return host.Logger("text", slog.LevelInfo, w) }
	warnDev(&out, newLogger(cfg, &out), "127.0.0.1:8080")
	assert.Contains(t, out.String(), "AUTHENTICATION IS DISABLED")
	assert.NotContains(t, out.String(), "other machines")

	out.Reset()
	warnDev(&out, newLogger(cfg, &out), ":8080")
	assert.Contains(t, out.String(), "reachable from other machines")

	for addr, want := range map[string]bool{
		"127.0.0.1:1": true, "[::1]:1": true, "localhost:1": true,
		":1": false, "0.0.0.0:1": false, "10.1.2.3:1": false, "example.gov:1": false, "nonsense": false,
	} {
		assert.Equal(t, want, host.IsLoopback(addr), addr)
	}
}

func TestNewCluster(t *testing.T) {
	t.Parallel()
	mock := clock.NewMock()
	cluster, err := newCluster(mock, simcluster.Constant(640))
	require.NoError(t, err)
	assert.Equal(t, []string{"eligibility-api", "grant-letters-worker", "loan-status-api", "student-aid-portal"}, cluster.Services())
	rps, err := cluster.Metric(context.Background(), scaler.MetricQuery{Service: "eligibility-api", Metric: "http_rps"})
	require.NoError(t, err)
	assert.InDelta(t, 640, rps, 1e-9)
	st, err := cluster.Replicas(context.Background(), "eligibility-api")
	require.NoError(t, err)
	assert.Equal(t, scaler.ReplicaStatus{Desired: 4, Ready: 4, Owner: "ED"}, st)
	labels, err := cluster.Labels("eligibility-api")
	require.NoError(t, err)
	assert.Equal(t, "ED", labels["agency"])
	assert.Equal(t, "FY1970", labels["fiscalYear"], "the mock clock starts at the epoch")
}

// TestServe starts the binary's run on a free port, uses the API as the
// seed does, and shuts it down by cancelling the context (what SIGINT does).
func TestServe(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "budget.db")
	h := apitest.StartHost(t, run, "-addr", "127.0.0.1:0", "-dev", "-interval", "20ms", "-log-format", "json", "-trace", "constant:640", "-budget-db", db)
	base, stderr := h.URL, h.Stderr
	assert.Contains(t, stderr.String(), "AUTHENTICATION IS DISABLED")

	res, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.JSONEq(t, `{"status":"ok"}`, string(body))

	rule := `{"service": "eligibility-api", "minReplicas": 4, "maxReplicas": 20, "trigger": {"metric": "http_rps", "threshold": 500}}`
	res, err = http.Post(base+"/autoscale-rules", "application/json", strings.NewReader(rule))
	require.NoError(t, err)
	var created struct {
		RuleID string `json:"ruleId"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&created))
	res.Body.Close()
	assert.Equal(t, http.StatusCreated, res.StatusCode)
	assert.Equal(t, "AR-1", created.RuleID)

	// The controller runs in the background on the real clock: wait for it
	// to read the metric and scale up (640 rps > 500).
	var status struct {
		Replicas int32    `json:"replicas"`
		Metric   *float64 `json:"metric"`
	}
	require.Eventually(t, func() bool {
		res, err := http.Get(base + "/rules/AR-1/status")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		return json.NewDecoder(res.Body).Decode(&status) == nil && status.Metric != nil && status.Replicas > 4
	}, 10*time.Second, 10*time.Millisecond)
	assert.InDelta(t, 640, *status.Metric, 1e-9)

	// The budget API on the same listener, with the seed's body.
	res, err = http.Post(base+"/budgets/eligibility-api", "application/json", strings.NewReader(`{"monthlyUSD": 10000}`))
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusCreated, res.StatusCode)
	var budgetStatus struct {
		MonthlyUSD json.Number `json:"monthlyUSD"`
		Replicas   int32       `json:"replicas"`
	}
	require.Eventually(t, func() bool {
		res, err := http.Get(base + "/budgets/eligibility-api")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		return json.NewDecoder(res.Body).Decode(&budgetStatus) == nil && budgetStatus.Replicas > 4
	}, 10*time.Second, 10*time.Millisecond, "the meter follows the autoscaler")
	assert.Equal(t, json.Number("10000.00"), budgetStatus.MonthlyUSD)

	res, err = http.Get(base + "/nowhere")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	assert.Equal(t, "application/json", res.Header.Get("Content-Type"))

	require.NoError(t, h.Stop())
	assert.Contains(t, stderr.String(), `"msg":"hms-svc stopped"`)
	assert.Contains(t, stderr.String(), `"msg":"autoscale: scaled"`)
	_, err = http.Get(base + "/healthz")
	assert.Error(t, err, "the server is closed")
	_, err = os.Stat(db)
	assert.NoError(t, err, "the budget was kept in the SQLite file of -budget-db")
}

func TestServeListenError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	err = run(context.Background(), []string{"-addr", ln.Addr().String(), "-dev", "-budget-db", ":memory:"}, io.Discard, nil)
	require.Error(t, err)
	assert.Equal(t, 1, host.ExitCode("hms-svc", err, io.Discard))
}

// t0 is 08:50 UTC on 23 November 2026: 7 days 15 h 10 min (183⅙ h)
// before the end of the month. eligibility-api costs $0.12 per
// replica-hour, so one replica costs $21.98 to the end of the month.
var t0 = time.Date(2026, time.November, 23, 8, 50, 0, 0, time.UTC)

// testApp is the host on a mock clock, served by an httptest server;
// nothing runs in the background: tests tick the controller and flush the
// budget themselves.
type testApp struct {
	*app
	clock *clock.Mock
	srv   *httptest.Server
}

func newTestApp(t *testing.T, budgetDB string) *testApp {
	t.Helper()
	return newTestAppAt(t, budgetDB, t0)
}

// newTestAppAt is newTestApp starting at start.
func newTestAppAt(t *testing.T, budgetDB string, start time.Time) *testApp {
	t.Helper()
	cfg, err := parseFlags([]string{"-dev", "-trace", "constant:640", "-budget-db", budgetDB}, io.Discard)
	require.NoError(t, err)
	mock := clock.NewMock()
	mock.Set(start)
	cfg.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := newApp(context.Background(), cfg, mock)
	require.NoError(t, err)
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	return &testApp{app: a, clock: mock, srv: srv}
}

// do sends a request with a JSON body ("" for none) and decodes the JSON
// answer, numbers as json.Number.
func (a *testApp) do(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := a.srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var m map[string]any
	if res.StatusCode != http.StatusNoContent {
		assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
		dec := json.NewDecoder(res.Body)
		dec.UseNumber()
		require.NoError(t, dec.Decode(&m))
	}
	return res.StatusCode, m
}

const seedRule = `{"service": "eligibility-api", "minReplicas": 4, "maxReplicas": 20, "trigger": {"metric": "http_rps", "threshold": 500}}`

// TestSeedBudgetCap: the seed's section 3.3 against the host, then a look
// at where eligibility-api stands an hour later.
func TestSeedBudgetCap(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, ":memory:")
	status, m := a.do(t, http.MethodPost, "/budgets/eligibility-api", `{"monthlyUSD": 10000}`)
	require.Equal(t, http.StatusCreated, status, "%v", m)
	assert.Equal(t, "eligibility-api/month", m["cap"].(map[string]any)["id"])

	a.clock.Add(time.Hour)
	_, err := a.budget.Flush(context.Background()) // what Budget.Run does every -budget-interval
	require.NoError(t, err)
	status, m = a.do(t, http.MethodGet, "/budgets/eligibility-api", "")
	require.Equal(t, http.StatusOK, status, "%v", m)
	assert.Equal(t, json.Number("10000.00"), m["cap"].(map[string]any)["amountUSD"])
	assert.Equal(t, json.Number("10000.00"), m["monthlyUSD"])
	assert.Equal(t, json.Number("0.48"), m["spendUSD"], "4 replicas × $0.12 for an hour")
	assert.Equal(t, json.Number("87.92"), m["forecastUSD"], "$0.48 + $0.48/h × 182⅙ h")
	assert.Equal(t, json.Number("0.48"), m["burnPerHourUSD"])
	assert.Equal(t, json.Number("4"), m["replicas"])
	assert.Equal(t, json.Number("457"), m["replicaCap"], "($10,000 − $0.48) / ($0.12 × 182⅙ h)")
	assert.Equal(t, "2026-11", m["period"].(map[string]any)["key"])
	assert.Len(t, m["caps"], 1)

	// Every simulated service is metered at its own price.
	status, m = a.do(t, http.MethodPost, "/budgets/student-aid-portal", `{"fiscalYearUSD": 5000}`)
	require.Equal(t, http.StatusCreated, status, "%v", m)
	assert.Equal(t, json.Number("6"), m["replicas"])
	assert.Equal(t, json.Number("0.90"), m["burnPerHourUSD"], "6 replicas × $0.15")
	assert.Equal(t, json.Number("0.90"), m["spendUSD"], "metered from start-up")

	status, m = a.do(t, http.MethodGet, "/budgets/loan-status-api", "")
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, "not_found", m["error"].(map[string]any)["kind"])
}

// TestBudgetStopsScaleUp: a small cap and a surge. The rule would take
// eligibility-api from 4 to 8 replicas; $150 a month allows 6.
func TestBudgetStopsScaleUp(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, ":memory:")
	status, m := a.do(t, http.MethodPost, "/autoscale-rules", seedRule)
	require.Equal(t, http.StatusCreated, status, "%v", m)
	status, m = a.do(t, http.MethodPost, "/budgets/eligibility-api", `{"monthlyUSD": 150}`)
	require.Equal(t, http.StatusCreated, status, "%v", m)
	assert.Equal(t, json.Number("6"), m["replicaCap"])

	a.ctrl.Tick(context.Background()) // what Controller.Run does every -interval
	status, m = a.do(t, http.MethodGet, "/rules/AR-1/status", "")
	require.Equal(t, http.StatusOK, status, "%v", m)
	assert.Equal(t, json.Number("640"), m["metric"])
	last := m["lastDecision"].(map[string]any)
	assert.Equal(t, "budget", last["guard"])
	reason, _ := last["guardReason"].(string)
	assert.True(t, strings.HasPrefix(reason, "capped by budget"), reason)
	assert.Equal(t, "capped by budget eligibility-api/month: 6 replicas forecast $131.88, 8 would forecast $175.84 "+
		"against the cap $150.00 (spend $0.00, $21.98 per replica to the end of 2026-11)", reason)
	assert.Equal(t, json.Number("8"), last["guardFrom"])
	assert.Equal(t, json.Number("6"), m["desired"])

	st, err := a.cluster.Replicas(context.Background(), "eligibility-api")
	require.NoError(t, err)
	assert.Equal(t, int32(6), st.Desired, "the cluster was scaled to the budget's count")
	_, m = a.do(t, http.MethodGet, "/budgets/eligibility-api", "")
	assert.Equal(t, json.Number("6"), m["replicas"], "the meter follows the wrapped scaler")
	assert.Equal(t, json.Number("131.88"), m["forecastUSD"])

	// Without the cap the surge goes on: 6 → 12.
	status, _ = a.do(t, http.MethodDelete, "/budgets/eligibility-api", "")
	require.Equal(t, http.StatusNoContent, status)
	a.clock.Add(15 * time.Second)
	a.ctrl.Tick(context.Background())
	_, m = a.do(t, http.MethodGet, "/rules/AR-1/status", "")
	assert.Equal(t, json.Number("12"), m["desired"])
	assert.Nil(t, m["lastDecision"].(map[string]any)["guard"])
}

// TestBudgetPersistsInSQLite: the default store keeps caps and spend
// across a restart.
func TestBudgetPersistsInSQLite(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "hms-svc-budget.db")
	ctx := context.Background()
	a := newTestApp(t, db)
	status, m := a.do(t, http.MethodPost, "/budgets/eligibility-api", `{"monthlyUSD": 10000}`)
	require.Equal(t, http.StatusCreated, status, "%v", m)
	a.clock.Add(time.Hour)
	require.NoError(t, a.close(ctx), "close flushes the meter")

	// Restarted an hour after the first start.
	b := newTestAppAt(t, db, t0.Add(time.Hour))
	t.Cleanup(func() { _ = b.close(ctx) })
	status, m = b.do(t, http.MethodGet, "/budgets/eligibility-api", "")
	require.Equal(t, http.StatusOK, status, "%v", m)
	assert.Equal(t, json.Number("10000.00"), m["monthlyUSD"])
	assert.Equal(t, json.Number("0.48"), m["spendUSD"], "the first run's hour, from the file")
	b.clock.Add(time.Hour)
	_, m = b.do(t, http.MethodGet, "/budgets/eligibility-api", "")
	assert.Equal(t, json.Number("0.96"), m["spendUSD"], "and the second run's, metered")
}
