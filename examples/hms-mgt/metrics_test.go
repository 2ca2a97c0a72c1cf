package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/examples/internal/metrics/metricstest"
	"github.com/hms-platform/mgmt/internal/apitest"
)

// mgtMetrics are the families hms-mgt serves once a patch has been
// submitted.
var mgtMetrics = []string{
	"hms_patches",
	"hms_audit_events_total",
	"hms_lease_leader",
	"go_goroutines",
	"process_cpu_seconds_total",
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	h := apitest.StartHost(t, run, "-dev", "-addr", "127.0.0.1:0", "-db", ":memory:", "-interval", "20ms")
	t.Cleanup(func() { _ = h.Stop() })
	now := time.Now().UTC()
	body := `{"service": "ARTIST_REGISTRY_API", "version_selector": ">=2.1.0", "changes": {"rate_limit_rps": 200},
	  "tenant": "IACB", "window": {"start": "` + now.Format(time.RFC3339) + `", "end": "` + now.Add(time.Hour).Format(time.RFC3339) + `"}}`
	res, err := http.Post(h.URL+"/api/patch", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode, "%s", b)

	var m []byte
	require.Eventually(t, func() bool {
		m = metricstest.Scrape(t, nil, h.URL+"/metrics")
		return strings.Contains(string(m), `hms_lease_leader{lease="hms-mgt/patches"} 1`)
	}, 10*time.Second, 20*time.Millisecond, "the only replica leads the patch loop")
	metricstest.RequireNames(t, m, mgtMetrics...)
	metricstest.Lint(t, m)
	assert.Contains(t, string(m), `hms_patches{state="REJECTED"} 0`)
	assert.Contains(t, string(m), `hms_audit_events_total{action="patch.queued"`)
}
