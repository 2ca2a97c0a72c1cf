package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/auth/authtest"
	"github.com/hms-platform/mgmt/internal/apitest"
)

// TestServeWithIssuer runs hms-mgt with -issuer: only a release_manager of
// IACB submits IACB's patch, only a governance_approver of IACB (not the
// author) approves it, a token of another tenant sees nothing of it, and
// every decision is an audit record.
func TestServeWithIssuer(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t, authtest.Options{})
	h := apitest.StartHost(t, run, "-addr", "127.0.0.1:0", "-issuer", iss.URL, "-audience", iss.Audience,
		"-log-format", "json", "-db", ":memory:")
	base := h.URL
	assert.NotContains(t, h.Stderr.String(), "AUTHENTICATION IS DISABLED")

	ana := iss.Mint(authtest.Claims{Subject: "ana", Tenant: "IACB", Roles: []string{"release_manager"}})
	olga := iss.Mint(authtest.Claims{Subject: "olga", Tenant: "IACB", Roles: []string{"governance_approver"}})
	both := iss.Mint(authtest.Claims{Subject: "ana", Tenant: "IACB", Roles: []string{"release_manager", "governance_approver"}})
	vera := iss.Mint(authtest.Claims{Subject: "vera", Tenant: "VA", Roles: []string{"release_manager", "governance_approver", "viewer"}})
	viewer := iss.Mint(authtest.Claims{Subject: "vic", Tenant: "IACB", Roles: []string{"viewer"}})

	now := time.Now().UTC()
	body := `{"service": "ARTIST_REGISTRY_API", "version_selector": ">=2.1.0", "changes": {"rate_limit_rps": 200},
	  "tenant": "IACB", "window": {"start": "` + now.Format(time.RFC3339) + `", "end": "` + now.Add(time.Hour).Format(time.RFC3339) + `"}}`

	status, _, out := apitest.Call(t, "POST", base+"/api/patch", body, "")
	assert.Equal(t, http.StatusUnauthorized, status, out)
	status, _, out = apitest.Call(t, "POST", base+"/api/patch", body, vera)
	assert.Equal(t, http.StatusForbidden, status, "a token of VA submits nothing for IACB: %s", out)
	status, _, out = apitest.Call(t, "POST", base+"/api/patch", body, olga)
	assert.Equal(t, http.StatusForbidden, status, "an approver is not a release manager: %s", out)
	status, _, out = apitest.Call(t, "POST", base+"/api/patch", strings.Replace(body, `"tenant"`, `"author": "someone-else", "tenant"`, 1), ana)
	assert.Equal(t, http.StatusForbidden, status, "the author is the token's subject: %s", out)
	status, _, out = apitest.Call(t, "POST", base+"/api/patch", body, ana)
	require.Equal(t, http.StatusCreated, status, out)
	assert.JSONEq(t, `{"patch_id": 1, "status": "QUEUED"}`, out, "without -dev nothing approves automatically")

	status, _, out = apitest.Call(t, "GET", base+"/api/patch/1", "", vera)
	assert.Equal(t, http.StatusNotFound, status, "IACB's patch does not exist for VA: %s", out)
	_, _, missing := apitest.Call(t, "GET", base+"/api/patch/2", "", vera)
	assert.Equal(t, strings.Replace(missing, "2", "1", 1), out, "exactly as a missing one")
	status, _, out = apitest.Call(t, "GET", base+"/api/patch/1", "", viewer)
	assert.Equal(t, http.StatusOK, status, out)
	assert.Contains(t, out, `"author":"ana"`)
	status, _, out = apitest.Call(t, "GET", base+"/api/patch?tenant=IACB", "", viewer)
	assert.Equal(t, http.StatusOK, status, out)
	status, _, out = apitest.Call(t, "GET", base+"/api/patch", "", viewer)
	assert.Equal(t, http.StatusForbidden, status, "listing every tenant needs an all-tenants role: %s", out)
	status, _, out = apitest.Call(t, "GET", base+"/api/catalog", "", vera)
	assert.Equal(t, http.StatusOK, status, "the catalog is shared: %s", out)

	status, _, out = apitest.Call(t, "POST", base+"/api/patch/1/approve", "", vera)
	assert.Equal(t, http.StatusNotFound, status, out)
	status, _, out = apitest.Call(t, "POST", base+"/api/patch/1/approve", "", both)
	assert.Equal(t, http.StatusForbidden, status, "the author may not approve, whatever her roles: %s", out)
	status, _, out = apitest.Call(t, "POST", base+"/api/patch/1/approve", `{"reason": "holiday market"}`, olga)
	require.Equal(t, http.StatusOK, status, out)
	assert.Contains(t, out, `"actor":"olga"`)
	status, _, out = apitest.Call(t, "POST", base+"/api/patch/1/rollback", "", olga)
	assert.Equal(t, http.StatusForbidden, status, "rollback is the release manager's: %s", out)
	status, _, out = apitest.Call(t, "POST", base+"/api/patch/1/rollback", "", ana)
	assert.Equal(t, http.StatusOK, status, out)

	require.NoError(t, h.Stop())
	log := h.Stderr.String()
	for _, tok := range []string{ana, olga, both, vera, viewer} {
		assert.NotContains(t, log, tok[strings.LastIndexByte(tok, '.')+1:], "the log holds a token's signature")
	}
	assert.Contains(t, log, `"action":"authz.decide"`)
	assert.Contains(t, log, `"action":"patch.approved"`)
	assert.Contains(t, log, `"action":"patch.rolled_back"`)
}
