package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/examples/internal/host/hosttest"
	"github.com/hms-platform/mgmt/internal/apitest"
)

// TestAuditChain: with -audit-db and -audit-key, hms-sys keeps every
// request, the seed and every transfer in the chain, which verifies after
// the host stops.
func TestAuditChain(t *testing.T) {
	t.Parallel()
	chain, db, key := hosttest.ChainFlags(t)
	h := apitest.StartHost(t, run, append([]string{"-addr", "127.0.0.1:0", "-dev", "-seed-accounts", "-budget-db", ":memory:",
		"-ledger-db", ":memory:", "-settlement-dir", t.TempDir()}, chain...)...)
	status, _, body := apitest.Call(t, "POST", h.URL+"/ach/transfer", `{"from": "Treasury", "to": "GPO", "amount": 250000}`, "")
	require.Equal(t, 201, status, body)
	status, _, _ = apitest.Call(t, "GET", h.URL+"/ach/accounts/GPO", "", "")
	require.Equal(t, 200, status)
	status, _, _ = apitest.Call(t, "GET", h.URL+"/healthz", "", "")
	require.Equal(t, 200, status)
	require.NoError(t, h.Stop())

	events := hosttest.ReadChain(t, db, key)
	seen := hosttest.Summaries(events)
	for _, want := range []string{
		"system ledger.seed transfer/1 ok",
		"dev http.request POST /ach/transfer ok",
		"dev http.request GET /ach/accounts/GPO ok",
	} {
		assert.True(t, seen[want], "%q in the chain: %v", want, seen)
	}
	transfers := 0
	for _, e := range events {
		if e.Action == "ledger.transfer" {
			transfers++
		}
		assert.NotEqual(t, "GET /healthz", e.Resource, "health checks are not recorded")
		assert.False(t, strings.Contains(e.Resource, "?"), "no query in %q", e.Resource)
	}
	assert.Equal(t, 1, transfers)
}
