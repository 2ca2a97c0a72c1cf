package scalerhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/scaler"
	"github.com/hms-platform/mgmt/scaler/scalerhttp"
)

// TestSeedSections31And32 reproduces the seed's two Python snippets: POST
// the rule, get "AR-1", then watch /rules/AR-1/status while replicas climb
// with the surge and fall after it.
func TestSeedSections31And32(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	// 3.1: r = requests.post(".../autoscale-rules", json=rule); print(r.json())
	res := e.do(http.MethodPost, "/autoscale-rules", seedRule)
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	created := res.json(t)
	assert.Equal(t, "AR-1", created["ruleId"])
	assert.Equal(t, "/autoscale-rules/AR-1", res.header.Get("Location"))
	rule := created["rule"].(map[string]any)
	assert.Equal(t, "AR-1", rule["id"])
	assert.Equal(t, "eligibility-api", rule["service"])
	assert.EqualValues(t, 4, rule["minReplicas"])
	assert.EqualValues(t, 20, rule["maxReplicas"])
	assert.Equal(t, map[string]any{"metric": "http_rps", "threshold": 500.0}, rule["trigger"])

	// 3.2: stat = requests.get(".../rules/AR-1/status").json(), every few seconds.
	status := func() map[string]any {
		res := e.do(http.MethodGet, "/rules/AR-1/status", "")
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		return res.json(t)
	}
	e.tick()
	st := status()
	assert.EqualValues(t, 8, st["replicas"], "640 rps > 500: up by the default policy (max of 4 pods, 100%%)")
	assert.EqualValues(t, 640, st["metric"])
	assert.Equal(t, "AR-1", st["ruleId"])
	assert.Equal(t, "eligibility-api", st["service"])
	assert.Equal(t, false, st["paused"])
	assert.EqualValues(t, 8, st["desired"])
	assert.EqualValues(t, 0, st["failures"])
	assert.Equal(t, []any{map[string]any{"metric": "http_rps", "value": 640.0, "error": nil, "at": "2024-11-20T09:00:00Z"}}, st["metrics"])
	last := st["lastDecision"].(map[string]any)
	assert.Equal(t, "scale_up", last["action"])
	assert.Equal(t, true, last["applied"])
	assert.Len(t, st["history"], 1)

	// Replicas climb to maxReplicas while the surge lasts…
	seen := []float64{st["replicas"].(float64)}
	for range 5 {
		e.clock.Add(15 * time.Second)
		e.tick()
		seen = append(seen, status()["replicas"].(float64))
	}
	assert.Equal(t, []float64{8, 16, 20, 20, 20, 20}, seen)
	assert.EqualValues(t, 20, e.cluster.count("eligibility-api"))

	// …and fall back to minReplicas once it has been over for the
	// scale-down stabilization window (300 s).
	e.cluster.setMetric("eligibility-api", "http_rps", 120)
	for range 21 {
		e.clock.Add(15 * time.Second)
		e.tick()
	}
	st = status()
	assert.EqualValues(t, 4, st["replicas"])
	assert.EqualValues(t, 120, st["metric"])
	var actions []string
	for _, d := range st["history"].([]any) {
		actions = append(actions, d.(map[string]any)["action"].(string))
	}
	assert.Contains(t, actions, "scale_down")
	assert.Equal(t, "scale_up", actions[0])

	// The alias under /autoscale-rules answers the same.
	res = e.do(http.MethodGet, "/autoscale-rules/AR-1/status", "")
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, st, res.json(t))
}

// TestStatusBeforeFirstTick: right after the rule is created, before its
// first tick, its status shows the service's real replicas and metric,
// read at creation, and no decision.
func TestStatusBeforeFirstTick(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/autoscale-rules", seedRule).status)
	st := e.do(http.MethodGet, "/rules/AR-1/status", "").json(t)
	assert.EqualValues(t, 640, st["metric"])
	assert.EqualValues(t, 4, st["replicas"])
	assert.Nil(t, st["lastDecision"])
	assert.Len(t, st["metrics"], 1)
	assert.Equal(t, []any{}, st["history"])
	assert.EqualValues(t, 0, st["evaluations"])
}

func TestStatusMetricFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/autoscale-rules", seedRule).status)
	e.cluster.failMetric("eligibility-api", "http_rps", mgmt.Unavailable("prometheus is down"))
	e.tick()
	res := e.do(http.MethodGet, "/rules/AR-1/status", "")
	require.Equal(t, http.StatusOK, res.status)
	st := res.json(t)
	assert.Nil(t, st["metric"], "a failed read has no value")
	m := st["metrics"].([]any)[0].(map[string]any)
	assert.Nil(t, m["value"])
	assert.Equal(t, map[string]any{"kind": "unavailable", "message": "prometheus is down"}, m["error"], "an error as everywhere: its kind survives")
	assert.EqualValues(t, 4, st["replicas"], "the count holds on missing data")
	assert.EqualValues(t, 1, st["failures"])
	last := st["lastDecision"].(map[string]any)
	assert.Equal(t, "MetricUnavailable", last["reason"])
	assert.Equal(t, map[string]any{"kind": "unavailable", "message": "prometheus is down"}, last["error"])
}

// A MetricSource may return NaN or ±Inf; JSON cannot carry them, and the
// status must still be served.
func TestStatusNonFiniteMetric(t *testing.T) {
	t.Parallel()
	for _, v := range []float64{math.NaN(), math.Inf(1)} {
		e := newEnv(t)
		e.cluster.setMetric("eligibility-api", "http_rps", v)
		res := e.do(http.MethodPost, "/autoscale-rules?dryRun=true", seedRule)
		require.Equal(t, http.StatusOK, res.status, "%v: %s", v, res.body)
		assert.Nil(t, res.json(t)["decision"].(map[string]any)["value"])

		require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/autoscale-rules", seedRule).status)
		e.tick()
		res = e.do(http.MethodGet, "/rules/AR-1/status", "")
		require.Equal(t, http.StatusOK, res.status, "%v: %s", v, res.body)
		st := res.json(t)
		assert.Nil(t, st["metric"])
		assert.Nil(t, st["metrics"].([]any)[0].(map[string]any)["value"])
		assert.Contains(t, st["lastDecision"], "value")
	}
}

func TestDryRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.do(http.MethodPost, "/autoscale-rules?dryRun=true", seedRule)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	out := res.json(t)
	assert.Equal(t, true, out["dryRun"])
	assert.EqualValues(t, 4, out["replicas"])
	assert.EqualValues(t, 8, out["desired"])
	d := out["decision"].(map[string]any)
	assert.Equal(t, "scale_up", d["action"])
	assert.EqualValues(t, 640, d["value"])
	assert.Equal(t, false, d["applied"])
	assert.NotContains(t, out["rule"], "id", "a dry-run rule has no ID")
	assert.Empty(t, listRules(t, e.ctrl, scaler.Filter{}), "a dry run stores nothing")
	assert.EqualValues(t, 4, e.cluster.count("eligibility-api"), "and scales nothing")

	// dryRun=false is an ordinary create, and gets AR-1: the dry run used no ID.
	res = e.do(http.MethodPost, "/autoscale-rules?dryRun=false", seedRule)
	require.Equal(t, http.StatusCreated, res.status)
	assert.Equal(t, "AR-1", res.json(t)["ruleId"])

	// A dry run refuses what the real request would refuse.
	res = e.do(http.MethodPost, "/autoscale-rules?dryRun=1", seedRule)
	assert.Equal(t, http.StatusConflict, res.status)
	assert.Equal(t, "service", res.errorDetail(t).Field)

	// A service the cluster does not know: 200, but no counts and the reason.
	res = e.do(http.MethodPost, "/autoscale-rules?dryRun=true", strings.Replace(seedRule, "eligibility-api", "ghost-api", 1))
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	out = res.json(t)
	assert.Nil(t, out["replicas"])
	assert.Nil(t, out["desired"])
	assert.Nil(t, out["decision"])
	assert.Contains(t, out["error"], "ghost-api")
	assert.Len(t, listRules(t, e.ctrl, scaler.Filter{}), 1)
}

func TestPreview(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := `{
	  "rule": ` + seedRule + `,
	  "trace": [
	    {"t": "2024-11-20T09:00:00Z", "values": {"http_rps": 640}},
	    {"t": "2024-11-20T09:00:15Z", "values": {"http_rps": 640}},
	    {"t": "2024-11-20T09:00:30Z", "values": {"http_rps": 640}},
	    {"t": "2024-11-20T09:01:00Z", "values": {"http_rps": 100}}
	  ],
	  "startReplicas": 4
	}`
	res := e.do(http.MethodPost, "/autoscale-rules/preview", body)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	out := res.json(t)
	type step struct {
		T        string `json:"t"`
		Replicas int32  `json:"replicas"`
		Desired  int32  `json:"desired"`
		Action   string `json:"action"`
		Reason   string `json:"reason"`
	}
	var steps []step
	raw, err := json.Marshal(out["trace"])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &steps))
	assert.Equal(t, []step{
		{"2024-11-20T09:00:00Z", 4, 8, "scale_up", string(scaler.ReasonScaleUpLimited)},
		{"2024-11-20T09:00:15Z", 8, 16, "scale_up", string(scaler.ReasonScaleUpLimited)},
		{"2024-11-20T09:00:30Z", 16, 20, "scale_up", string(scaler.ReasonScaleUp)},
		{"2024-11-20T09:01:00Z", 20, 20, "hold", string(scaler.ReasonScaleDownStabilized)},
	}, steps)
	assert.EqualValues(t, 4, out["startReplicas"])
	assert.Equal(t, "scale_up", out["now"].(map[string]any)["action"], "now: 640 rps live")
	assert.Empty(t, listRules(t, e.ctrl, scaler.Filter{}), "a preview stores nothing")

	// Without a trace: only "now"; without startReplicas: the live count.
	res = e.do(http.MethodPost, "/autoscale-rules/preview", `{"rule": `+seedRule+`}`)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	out = res.json(t)
	assert.Equal(t, []any{}, out["trace"])
	assert.NotContains(t, out, "startReplicas")
	assert.EqualValues(t, 4, out["now"].(map[string]any)["current"])
}

func TestSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, r := range []string{
		`{"name":"eligibility-surge-Q3","service":"eligibility-api","labels":{"agency":"ED","fiscalYear":"FY2025"},"maxReplicas":20,"trigger":{"metric":"http_rps","threshold":500}}`,
		`{"name":"Eligibility nightly","service":"eligibility-batch","labels":{"agency":"ED","fiscalYear":"FY2024"},"maxReplicas":5,"trigger":{"metric":"queue_length","target":100}}`,
		`{"name":"passport-surge","service":"passport-api","labels":{"agency":"DOS"},"maxReplicas":9,"trigger":{"metric":"cpu_utilization","target":70}}`,
	} {
		res := e.do(http.MethodPost, "/autoscale-rules", r)
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	}
	ids := func(path string) []string {
		t.Helper()
		res := e.do(http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var out struct {
			Rules []scaler.Rule `json:"rules"`
		}
		require.NoError(t, json.Unmarshal(res.body, &out))
		got := []string{}
		for _, r := range out.Rules {
			got = append(got, r.ID)
		}
		return got
	}
	assert.Equal(t, []string{"AR-1", "AR-2", "AR-3"}, ids("/autoscale-rules"))
	assert.Equal(t, []string{"AR-1", "AR-2"}, ids("/autoscale-rules?name=ELIGIBILITY"))
	assert.Equal(t, []string{"AR-1", "AR-3"}, ids("/autoscale-rules?name=surge"))
	assert.Equal(t, []string{"AR-1"}, ids("/autoscale-rules?name=surge-q3"))
	assert.Equal(t, []string{"AR-2"}, ids("/autoscale-rules?service=eligibility-batch"))
	assert.Equal(t, []string{"AR-1", "AR-2"}, ids("/autoscale-rules?label=agency:ED"))
	assert.Equal(t, []string{"AR-2"}, ids("/autoscale-rules?label=agency:ED&label=fiscalYear:FY2024"))
	assert.Equal(t, []string{"AR-3"}, ids("/autoscale-rules?name=surge&label=agency:DOS"))
	assert.Equal(t, []string{}, ids("/autoscale-rules?name=nothing-matches"))
	assert.Equal(t, []string{"AR-1"}, ids("/autoscale-rules?name=eligibility-surge%2DQ3"))
}

func TestGetPutDeletePauseResume(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/autoscale-rules", seedRule).status)

	res := e.do(http.MethodGet, "/autoscale-rules/AR-1", "")
	require.Equal(t, http.StatusOK, res.status)
	got, err := scaler.DecodeRule(bytes.NewReader(res.body))
	require.NoError(t, err, "GET returns the rule in the shape POST and PUT read")
	assert.Equal(t, "AR-1", got.ID)
	assert.EqualValues(t, 20, got.MaxReplicas)

	// PUT replaces; an "id" equal to the path is fine, the GET output round-trips.
	put := strings.Replace(string(res.body), `"maxReplicas":20`, `"maxReplicas":12`, 1)
	res = e.do(http.MethodPut, "/autoscale-rules/AR-1", put)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	r, err := e.ctrl.Rule(context.Background(), "AR-1")
	require.NoError(t, err)
	assert.EqualValues(t, 12, r.MaxReplicas)
	res = e.do(http.MethodPut, "/autoscale-rules/AR-1", strings.Replace(seedRule, `"maxReplicas": 20`, `"maxReplicas": 15, "name": "surge"`, 1))
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.Equal(t, "surge", res.json(t)["name"])

	// Pause and resume.
	res = e.do(http.MethodPost, "/autoscale-rules/AR-1/pause", "")
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.Equal(t, true, res.json(t)["paused"])
	e.tick()
	st := e.do(http.MethodGet, "/rules/AR-1/status", "").json(t)
	assert.Equal(t, true, st["paused"])
	assert.Equal(t, string(scaler.ReasonPaused), st["lastDecision"].(map[string]any)["reason"])
	assert.EqualValues(t, 4, e.cluster.count("eligibility-api"), "a paused rule scales nothing")
	res = e.do(http.MethodPost, "/autoscale-rules/AR-1/resume", "")
	require.Equal(t, http.StatusOK, res.status)
	assert.NotContains(t, res.json(t), "paused")
	e.tick()
	assert.EqualValues(t, 8, e.cluster.count("eligibility-api"))

	// Delete, then it is gone.
	res = e.do(http.MethodDelete, "/autoscale-rules/AR-1", "")
	assert.Equal(t, http.StatusNoContent, res.status)
	assert.Empty(t, res.body)
	res = e.do(http.MethodGet, "/autoscale-rules/AR-1", "")
	assert.Equal(t, http.StatusNotFound, res.status)
	assert.Equal(t, "id", res.errorDetail(t).Field)
	res = e.do(http.MethodDelete, "/autoscale-rules/AR-1", "")
	assert.Equal(t, http.StatusNotFound, res.status)
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.do(http.MethodGet, "/healthz", "")
	assert.Equal(t, http.StatusOK, res.status)
	assert.JSONEq(t, `{"status":"ok"}`, string(res.body))
	assert.Equal(t, "application/json", res.header.Get("Content-Type"))
	res = e.do(http.MethodHead, "/healthz", "")
	assert.Equal(t, http.StatusOK, res.status)
}

func TestMaxBodyOption(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{maxBody: 64})
	res := e.do(http.MethodPost, "/autoscale-rules", seedRule) // > 64 bytes
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.status)
	assert.Equal(t, "body", res.errorDetail(t).Field)
	assert.Empty(t, listRules(t, e.ctrl, scaler.Filter{}))
}

// lockedBuffer is a bytes.Buffer for a logger written from server goroutines.
type lockedBuffer struct {
	mu chan struct{}
	b  bytes.Buffer
}

func newLockedBuffer() *lockedBuffer { return &lockedBuffer{mu: make(chan struct{}, 1)} }

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu <- struct{}{}
	defer func() { <-l.mu }()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu <- struct{}{}
	defer func() { <-l.mu }()
	return l.b.String()
}

func TestLogsRequestsWithoutBodies(t *testing.T) {
	t.Parallel()
	logs := newLockedBuffer()
	e := newEnv(t, envOptions{logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	body := strings.Replace(seedRule, `"service"`, `"name": "bodysecret", "service"`, 1)
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/autoscale-rules?dryRun=false", body).status)
	require.Equal(t, http.StatusBadRequest, e.do(http.MethodPost, "/autoscale-rules", `{"colour":"querysecret"}`).status)
	out := logs.String()
	assert.Contains(t, out, `"msg":"http request"`)
	assert.Contains(t, out, `"path":"/autoscale-rules"`)
	assert.Contains(t, out, `"status":201`)
	assert.Contains(t, out, `"status":400`)
	assert.NotContains(t, out, "bodysecret")
	assert.NotContains(t, out, "querysecret")
	assert.NotContains(t, out, "dryRun")
}

// A panic in a backend is a 500 with no detail, not a dropped connection.
func TestPanicIsInternalError(t *testing.T) {
	t.Parallel()
	logs := newLockedBuffer()
	e := newEnv(t, envOptions{logger: slog.New(slog.NewJSONHandler(logs, nil))})
	e.cluster.mu.Lock()
	e.cluster.panicky = true
	e.cluster.mu.Unlock()
	res := e.do(http.MethodPost, "/autoscale-rules?dryRun=true", seedRule)
	assert.Equal(t, http.StatusInternalServerError, res.status)
	assert.Equal(t, "internal error", res.errorDetail(t).Message)
	assert.NotContains(t, string(res.body), "exploded")
	assert.Contains(t, logs.String(), "exploded")
}

func TestNewHandlerNilController(t *testing.T) {
	t.Parallel()
	_, err := scalerhttp.NewHandler(nil, scalerhttp.Options{Authorize: auth.AllowAll("test")})
	require.ErrorIs(t, err, mgmt.ErrInvalid)
	e := newEnv(t)
	_, err = scalerhttp.NewHandler(e.ctrl, scalerhttp.Options{})
	require.ErrorIs(t, err, mgmt.ErrInvalid, "no authorizer is not allow-everything")
	assert.Equal(t, "Options.Authorize", mgmt.FieldOf(err))
}

// Many clients at once: the race detector checks the handler and the
// controller underneath.
func TestConcurrentRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	errs := make(chan error, 40)
	for i := range 20 {
		go func() {
			body := strings.Replace(seedRule, "eligibility-api", fmt.Sprintf("svc-%d", i), 1)
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/autoscale-rules", strings.NewReader(body))
			res, err := e.srv.Client().Do(req)
			if err == nil {
				res.Body.Close()
				if res.StatusCode != http.StatusCreated {
					err = fmt.Errorf("status %d", res.StatusCode)
				}
			}
			errs <- err
		}()
		go func() {
			res, err := e.srv.Client().Get(e.srv.URL + "/autoscale-rules?name=x")
			if err == nil {
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					err = errors.New(res.Status)
				}
			}
			errs <- err
		}()
	}
	for range 40 {
		require.NoError(t, <-errs)
	}
	assert.Len(t, listRules(t, e.ctrl, scaler.Filter{}), 20)
}

// TestStaleUpdateRefused: a PUT carrying the version it read is refused
// with 409 once someone else changed the rule; without a version it
// replaces whatever is stored.
func TestStaleUpdateRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/autoscale-rules", seedRule).status)
	read := e.do(http.MethodGet, "/autoscale-rules/AR-1", "")
	require.Equal(t, http.StatusOK, read.status)
	assert.EqualValues(t, 1, read.json(t)["version"])

	first := strings.Replace(string(read.body), `"maxReplicas":20`, `"maxReplicas":12`, 1)
	res := e.do(http.MethodPut, "/autoscale-rules/AR-1", first)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.EqualValues(t, 2, res.json(t)["version"])

	before := e.snapshot()
	second := strings.Replace(string(read.body), `"maxReplicas":20`, `"maxReplicas":30`, 1)
	res = e.do(http.MethodPut, "/autoscale-rules/AR-1", second)
	require.Equal(t, http.StatusConflict, res.status, "%s", res.body)
	d := res.errorDetail(t)
	assert.Equal(t, "version", d.Field)
	assert.Contains(t, d.Message, "version 2")
	assert.Equal(t, before, e.snapshot(), "nothing changed")

	res = e.do(http.MethodPut, "/autoscale-rules/AR-1", strings.Replace(seedRule, `"maxReplicas": 20`, `"maxReplicas": 30`, 1))
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.EqualValues(t, 3, res.json(t)["version"])
	res = e.do(http.MethodPut, "/autoscale-rules/AR-1", strings.Replace(seedRule, `"maxReplicas": 20`, `"version": -1, "maxReplicas": 30`, 1))
	require.Equal(t, http.StatusBadRequest, res.status, "%s", res.body)
	assert.Equal(t, "version", res.errorDetail(t).Field)
}

// priceList prices services by name.
type priceList map[string]mgmt.Money

func (p priceList) PricePerReplicaHour(svc string) (mgmt.Money, bool) {
	m, ok := p[svc]
	return m, ok
}

// TestPreviewInDollars: with prices, a preview says what each step's
// replicas cost until the next step, and the trace's total.
func TestPreviewInDollars(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{prices: priceList{"eligibility-api": 12}}) // $0.12 per replica-hour
	body := `{
	  "rule": ` + seedRule + `,
	  "trace": [
	    {"t": "2024-11-20T09:00:00Z", "values": {"http_rps": 640}},
	    {"t": "2024-11-20T10:00:00Z", "values": {"http_rps": 640}},
	    {"t": "2024-11-20T11:00:00Z", "values": {"http_rps": 640}}
	  ],
	  "startReplicas": 4
	}`
	res := e.do(http.MethodPost, "/autoscale-rules/preview", body)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	var out struct {
		Price  json.Number `json:"pricePerReplicaHourUSD"`
		Total  json.Number `json:"totalCostUSD"`
		Capped *int        `json:"stepsCappedByBudget"`
		Trace  []struct {
			Desired int32       `json:"desired"`
			Cost    json.Number `json:"costUSD"`
		} `json:"trace"`
	}
	dec := json.NewDecoder(bytes.NewReader(res.body))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&out))
	require.Len(t, out.Trace, 3)
	// 8 replicas for an hour: $0.96; 16 for an hour: $1.92; the last step
	// ends the trace.
	assert.Equal(t, int32(8), out.Trace[0].Desired)
	assert.Equal(t, json.Number("0.96"), out.Trace[0].Cost)
	assert.Equal(t, json.Number("1.92"), out.Trace[1].Cost)
	assert.Equal(t, json.Number("0.00"), out.Trace[2].Cost)
	assert.Equal(t, json.Number("2.88"), out.Total)
	assert.Equal(t, json.Number("0.12"), out.Price)
	require.NotNil(t, out.Capped)
	assert.Zero(t, *out.Capped)

	// A service without a price: no dollars.
	other := newEnv(t, envOptions{prices: priceList{}})
	res = other.do(http.MethodPost, "/autoscale-rules/preview", body)
	require.Equal(t, http.StatusOK, res.status)
	assert.NotContains(t, string(res.body), "costUSD")
}
