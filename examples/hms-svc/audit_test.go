package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/examples/internal/host/hosttest"
	"github.com/hms-platform/mgmt/examples/internal/metrics/metricstest"
	"github.com/hms-platform/mgmt/internal/apitest"
)

// TestAuditChain: with -audit-db and -audit-key, every request and every
// scaling change of hms-svc is in the chain, which verifies after the
// host stops.
func TestAuditChain(t *testing.T) {
	t.Parallel()
	chain, db, key := hosttest.ChainFlags(t)
	h := apitest.StartHost(t, run, append([]string{"-addr", "127.0.0.1:0", "-dev", "-interval", "20ms", "-trace", "constant:640",
		"-budget-db", ":memory:"}, chain...)...)
	status, _, body := apitest.Call(t, "POST", h.URL+"/autoscale-rules", edRule, "")
	require.Equal(t, 201, status, body)
	status, _, _ = apitest.Call(t, "GET", h.URL+"/rules/AR-1/status", "", "")
	require.Equal(t, 200, status)
	status, _, _ = apitest.Call(t, "GET", h.URL+"/rules/AR-7/status", "", "")
	require.Equal(t, 404, status)
	// 640 rps against the rule's 500: the controller, on the real clock,
	// scales up.
	require.Eventually(t, func() bool {
		var st struct{ Replicas int32 }
		_, _, body := apitest.Call(t, "GET", h.URL+"/rules/AR-1/status", "", "")
		return json.Unmarshal([]byte(body), &st) == nil && st.Replicas > 4
	}, 10*time.Second, 10*time.Millisecond)
	scraped := metricstest.Scrape(t, nil, h.URL+"/metrics")
	metricstest.RequireNames(t, scraped, "hms_audit_chain_length", "hms_audit_chain_last_checkpoint_seq", "hms_audit_chain_appended_total")
	metricstest.Lint(t, scraped)
	require.NoError(t, h.Stop())

	seen := hosttest.Summaries(hosttest.ReadChain(t, db, key))
	for _, want := range []string{
		"dev http.request POST /autoscale-rules ok",
		"dev autoscale.rule.create rule/AR-1 ok",
		"dev http.request GET /rules/AR-1/status ok",
		"dev http.request GET /rules/AR-7/status not-found",
		"dev http.request GET /metrics ok",
		"system autoscale.scale service/eligibility-api ok",
	} {
		assert.True(t, seen[want], "%q in the chain: %v", want, seen)
	}
}
