package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/auditlog"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/examples/internal/host"
	"github.com/hms-platform/mgmt/examples/internal/metrics/metricstest"
	"github.com/hms-platform/mgmt/internal/apitest"
)

// TestAuditChain: with -audit-db and -audit-key, every request and every
// scaling change of hms-svc is in the chain, which verifies after the
// host stops.
func TestAuditChain(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key, db := filepath.Join(dir, "audit.key"), filepath.Join(dir, "audit.db")
	require.NoError(t, host.WriteKeyPair(key))
	h := apitest.StartHost(t, run, "-addr", "127.0.0.1:0", "-dev", "-interval", "20ms", "-trace", "constant:640",
		"-budget-db", ":memory:", "-audit-db", db, "-audit-key", key)
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
	body = string(metricstest.Scrape(t, nil, h.URL+"/metrics"))
	metricstest.RequireNames(t, []byte(body), "hms_audit_chain_length", "hms_audit_chain_last_checkpoint_seq", "hms_audit_chain_appended_total")
	metricstest.Lint(t, []byte(body))
	require.NoError(t, h.Stop())

	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Options{Path: db})
	require.NoError(t, err)
	defer s.Close()
	pub, err := host.ReadPublicKey(key + ".pub")
	require.NoError(t, err)
	rep, err := auditlog.Verify(ctx, s.Audit(), pub)
	require.NoError(t, err)
	require.True(t, rep.OK(), rep.String())
	assert.Zero(t, rep.Unsigned, "the host signs the head when it stops")
	seen := map[string]bool{}
	require.NoError(t, s.Audit().Scan(ctx, 1, func(r auditlog.Record) error {
		e, err := r.Entry()
		if err != nil {
			return err
		}
		seen[e.Event.Actor+" "+e.Event.Action+" "+e.Event.Resource+" "+e.Event.Outcome] = true
		return nil
	}))
	for _, want := range []string{
		"dev http.request POST /autoscale-rules ok",
		"dev http.request GET /rules/AR-1/status ok",
		"dev http.request GET /rules/AR-7/status not-found",
		"system autoscale.scale service/eligibility-api ok",
	} {
		assert.True(t, seen[want], "%q in the chain: %v", want, seen)
	}
}
