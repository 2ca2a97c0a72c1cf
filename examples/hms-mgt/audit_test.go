package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/auth/authtest"
	"github.com/hms-platform/mgmt/examples/internal/host/hosttest"
	"github.com/hms-platform/mgmt/internal/apitest"
)

// TestAuditChain: with -audit-db and -audit-key, hms-mgt keeps every
// request (who: the token's subject), every authorization decision and
// every patch transition in the chain, which verifies after it stops.
func TestAuditChain(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t, authtest.Options{})
	chain, db, key := hosttest.ChainFlags(t)
	h := apitest.StartHost(t, run, append([]string{"-addr", "127.0.0.1:0", "-issuer", iss.URL, "-audience", iss.Audience,
		"-db", ":memory:"}, chain...)...)
	ana := iss.Mint(authtest.Claims{Subject: "ana", Tenant: "IACB", Roles: []string{"release_manager"}})
	olga := iss.Mint(authtest.Claims{Subject: "olga", Tenant: "IACB", Roles: []string{"governance_approver"}})
	vera := iss.Mint(authtest.Claims{Subject: "vera", Tenant: "VA", Roles: []string{"viewer"}})
	now := time.Now().UTC()
	body := `{"service": "ARTIST_REGISTRY_API", "version_selector": ">=2.1.0", "changes": {"rate_limit_rps": 200},
	  "tenant": "IACB", "window": {"start": "` + now.Format(time.RFC3339) + `", "end": "` + now.Add(time.Hour).Format(time.RFC3339) + `"}}`
	status, _, out := apitest.Call(t, "POST", h.URL+"/api/patch", body, ana)
	require.Equal(t, http.StatusCreated, status, out)
	status, _, out = apitest.Call(t, "GET", h.URL+"/api/patch/1", "", vera)
	require.Equal(t, http.StatusNotFound, status, out)
	status, _, out = apitest.Call(t, "POST", h.URL+"/api/patch/1/approve", `{"reason": "holiday market"}`, olga)
	require.Equal(t, http.StatusOK, status, out)
	status, _, _ = apitest.Call(t, "GET", h.URL+"/api/patch/1", "", "")
	require.Equal(t, http.StatusUnauthorized, status)
	require.NoError(t, h.Stop())

	events := hosttest.ReadChain(t, db, key)
	seen := hosttest.Summaries(events)
	for _, want := range []string{
		"ana http.request POST /api/patch ok",
		"vera http.request GET /api/patch/1 not-found",
		"olga http.request POST /api/patch/1/approve ok",
		"anonymous authn.verify GET /api/patch/1 deny",
	} {
		assert.True(t, seen[want], "%q in the chain: %v", want, seen)
	}
	actions := map[string]int{}
	for _, e := range events {
		actions[e.Action]++
		if e.Action == "http.request" && e.Actor == "ana" {
			assert.Equal(t, "IACB", e.Tenant)
			assert.Equal(t, "POST /api/patch", e.Details["route"])
		}
	}
	assert.Equal(t, 3, actions["http.request"], "every request that passed authentication, once")
	assert.Positive(t, actions["authz.decide"])
	assert.Positive(t, actions["patch.approved"], "the transitions: %v", actions)
}
