package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/internal/apitest"
	"github.com/hms-platform/mgmt/internal/promtest"
)

// Two days of a service's load, written into Prometheus before it starts:
// 100 requests/s, except for half an hour each day starting a few minutes
// after the test's start, at 2,000.
const (
	warmQuiet = 100.0
	warmBusy  = 2000.0
	warmRule  = `{"service": "eligibility-api", "minReplicas": 1, "maxReplicas": 40,
	  "triggers": [
	    {"metric": "http_rps", "target": 100},
	    {"metric": "http_rps", "predictive": {"target": 100, "seasonality": "daily",
	      "model": "seasonal-naive", "leadSeconds": 600}}]}`
	warmQueries = `{"http_rps": "max(hms_test_rps{service=\"{{service}}\"})"}`
)

// warmHistory renders two days of hms_test_rps up to now, a sample every
// 30 s, as OpenMetrics: warmBusy in the half hour from busyFrom's time of
// day (each of the two days before), warmQuiet else.
func warmHistory(now, busyFrom time.Time) []byte {
	var b bytes.Buffer
	b.WriteString("# HELP hms_test_rps The requests per second of a service.\n# TYPE hms_test_rps gauge\n")
	start := now.Add(-48 * time.Hour).Truncate(30 * time.Second)
	for at := start; at.Before(now); at = at.Add(30 * time.Second) {
		v := warmQuiet
		for d := 1; d <= 2; d++ {
			from := busyFrom.Add(-time.Duration(d) * 24 * time.Hour)
			if !at.Before(from) && at.Before(from.Add(30*time.Minute)) {
				v = warmBusy
			}
		}
		fmt.Fprintf(&b, "hms_test_rps{service=%q} %g %d\n", e2eService, v, at.Unix())
	}
	b.WriteString("# EOF\n")
	return b.Bytes()
}

// TestPredictiveWarmStartFromPrometheus runs hms-svc on -metrics
// prometheus:URL over a real Prometheus holding two days of the service's
// load (backfilled with promtool): a busy half hour each day, starting 5
// minutes after now. A rule with a predictive trigger, created now while
// the load is quiet, reads the two days from Prometheus when it starts
// (scaler.HistorySource) and asks at once for the busy half hour's
// replicas, ahead of it — reason PredictedLoad, the forecast in the
// decision — where the reactive trigger alone asks for 1, and the trend a
// trigger without history forecasts would stay at the quiet load.
func TestPredictiveWarmStartFromPrometheus(t *testing.T) {
	t.Parallel()
	now := time.Now()
	busyFrom := now.Add(5 * time.Minute).Truncate(time.Minute)
	// The quiet load now, scraped live; the past is backfilled.
	reg := promclient.NewRegistry()
	rps := promclient.NewGaugeVec(promclient.GaugeOpts{Name: "hms_test_rps", Help: "The requests per second of a service."}, []string{"service"})
	reg.MustRegister(rps)
	rps.WithLabelValues(e2eService).Set(warmQuiet)
	target := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(target.Close)
	prom := promtest.Start(t, promtest.Config{Targets: []string{target.Listener.Addr().String()}, ScrapeInterval: time.Second,
		Backfill: warmHistory(now.Add(-time.Minute), busyFrom)})
	queries := filepath.Join(t.TempDir(), "queries.json")
	require.NoError(t, os.WriteFile(queries, []byte(warmQueries), 0o600))

	h := apitest.StartHost(t, run, "-addr", "127.0.0.1:0", "-dev", "-db", ":memory:", "-interval", "50ms",
		"-metrics", "prometheus:"+prom.URL(), "-metrics-queries", queries)
	code, _, body := apitest.Call(t, "POST", h.URL+"/autoscale-rules", warmRule, "")
	require.Equal(t, http.StatusCreated, code, body)
	var created struct {
		RuleID string `json:"ruleId"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &created))

	type decision struct {
		Desired  int32   `json:"desired"`
		Reason   string  `json:"reason"`
		Value    float64 `json:"value"`
		Forecast *struct {
			Metric   string  `json:"metric"`
			Load     float64 `json:"load"`
			Replicas int32   `json:"replicas"`
		} `json:"forecast"`
	}
	var last decision
	read := func() bool {
		code, _, body := apitest.Call(t, "GET", h.URL+"/rules/"+created.RuleID+"/status", "", "")
		var st struct {
			LastDecision *decision `json:"lastDecision"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil || st.LastDecision == nil {
			return false
		}
		last = *st.LastDecision
		return true
	}
	require.Eventually(t, func() bool { return read() && last.Forecast != nil }, 60*time.Second, 50*time.Millisecond,
		"a decision with a forecast: %+v", last)
	// The first decision with a forecast already has the two days.
	assert.Equal(t, warmQuiet, last.Value, "the load read now is the quiet one")
	assert.Equal(t, "http_rps", last.Forecast.Metric)
	assert.Equal(t, warmBusy, last.Forecast.Load, "the busy half hour of the days before, within the lead: %+v", last)
	assert.Equal(t, int32(20), last.Forecast.Replicas)
	// The scale-up policy takes the count there in steps.
	require.Eventually(t, func() bool { return read() && last.Desired == 20 }, 60*time.Second, 50*time.Millisecond,
		"the forecast's 20 replicas: %+v", last)
	assert.Equal(t, "PredictedLoad", last.Reason, "ahead of the load: the reactive trigger asks for 1")
	assert.Equal(t, warmQuiet, last.Value)
	require.True(t, time.Now().Before(busyFrom), "the count came before the busy half hour")
	require.NoError(t, h.Stop())
}
