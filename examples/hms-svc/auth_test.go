package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth/authtest"
	"github.com/hms-platform/mgmt/internal/apitest"
)

// edRule is the seed's rule, labelled with tenant ED.
const edRule = `{"service": "eligibility-api", "labels": {"agency": "ED"}, "minReplicas": 4, "maxReplicas": 20,
                 "trigger": {"metric": "http_rps", "threshold": 500}}`

// auditRecords returns the "audit" records of a JSON log.
func auditRecords(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "audit" {
			out = append(out, m)
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// TestServeWithIssuer starts the binary's run with -issuer pointing at a
// test issuer on loopback: requests need a token, a rule of tenant ED
// needs a token of ED with a role that grants rules:write, and every
// decision is an audit record in the log.
func TestServeWithIssuer(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t, authtest.Options{})
	h := apitest.StartHost(t, run, "-addr", "127.0.0.1:0", "-issuer", iss.URL, "-audience", iss.Audience,
		"-log-format", "json", "-trace", "constant:640", "-budget-db", ":memory:")
	base := h.URL
	assert.NotContains(t, h.Stderr.String(), "AUTHENTICATION IS DISABLED")

	ana := iss.Mint(authtest.Claims{Subject: "ana", Tenant: "ED", Roles: []string{"service_operator"}})
	hal := iss.Mint(authtest.Claims{Subject: "hal", Tenant: "HUD", Roles: []string{"service_operator"}})
	bea := iss.Mint(authtest.Claims{Subject: "bea", Tenant: "ED", Roles: []string{"budget_officer"}})

	status, _, _ := apitest.Call(t, "GET", base+"/healthz", "", "")
	assert.Equal(t, http.StatusOK, status, "health checks need no token")

	status, hdr, body := apitest.Call(t, "POST", base+"/autoscale-rules", edRule, "")
	assert.Equal(t, http.StatusUnauthorized, status, body)
	assert.True(t, strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer "), hdr.Get("WWW-Authenticate"))

	status, _, body = apitest.Call(t, "POST", base+"/autoscale-rules", edRule, hal)
	assert.Equal(t, http.StatusNotFound, status, "a token of HUD creates no rule of ED; ED's service does not exist for HUD: %s", body)

	status, _, body = apitest.Call(t, "POST", base+"/autoscale-rules", edRule, ana)
	require.Equal(t, http.StatusCreated, status, body)
	assert.Contains(t, body, `"ruleId":"AR-1"`)

	status, _, body = apitest.Call(t, "GET", base+"/rules/AR-1/status", "", hal)
	assert.Equal(t, http.StatusNotFound, status, body)
	status, _, body = apitest.Call(t, "GET", base+"/rules/AR-1/status", "", ana)
	assert.Equal(t, http.StatusOK, status, body)

	// The budget API: budget_officer, not service_operator.
	status, _, body = apitest.Call(t, "POST", base+"/budgets/eligibility-api", `{"monthlyUSD": 10000}`, ana)
	assert.Equal(t, http.StatusForbidden, status, body)
	status, _, body = apitest.Call(t, "POST", base+"/budgets/eligibility-api", `{"monthlyUSD": 10000}`, bea)
	assert.Equal(t, http.StatusCreated, status, body)

	require.NoError(t, h.Stop())
	log := h.Stderr.String()
	for _, tok := range []string{ana, hal, bea} {
		assert.NotContains(t, log, tok[strings.LastIndexByte(tok, '.')+1:], "the log holds a token's signature")
	}
	// The decisions and every request (the controller's own events left
	// out: when it scales depends on the clock).
	type decision struct{ actor, action, outcome, tenant, detail string }
	var got []decision
	for _, m := range auditRecords(t, log) {
		d := decision{actor: m["actor"].(string), action: m["action"].(string), outcome: m["outcome"].(string)}
		if !strings.HasPrefix(d.action, "auth") && d.action != "http.request" {
			continue
		}
		d.tenant, _ = m["tenant"].(string)
		if details, ok := m["details"].(map[string]any); ok {
			d.detail, _ = details["permission"].(string)
			if d.action == "http.request" {
				d.detail = m["resource"].(string) + " " + details["status"].(string)
			}
		}
		got = append(got, d)
	}
	assert.Equal(t, []decision{
		{"anonymous", "authn.verify", "deny", "", ""},
		{"hal", "authz.decide", "deny", "ED", "rules:write"},
		{"hal", "http.request", "not-found", "HUD", "POST /autoscale-rules 404"},
		{"ana", "authz.decide", "allow", "ED", "rules:write"},
		{"ana", "http.request", "ok", "ED", "POST /autoscale-rules 201"},
		{"hal", "authz.decide", "deny", "ED", "rules:read"},
		{"hal", "http.request", "not-found", "HUD", "GET /rules/AR-1/status 404"},
		{"ana", "authz.decide", "allow", "ED", "rules:read"},
		{"ana", "http.request", "ok", "ED", "GET /rules/AR-1/status 200"},
		{"ana", "authz.decide", "deny", "", "budget:write"}, // refused before the body: no role of ana grants it anywhere
		{"ana", "http.request", "denied", "ED", "POST /budgets/eligibility-api 403"},
		{"bea", "authz.decide", "allow", "ED", "budget:write"},
		{"bea", "http.request", "ok", "ED", "POST /budgets/eligibility-api 201"},
	}, got, "every request is recorded, the health check excepted")
}

// TestStaticKeysAndPolicy: -jwks verifies with the given keys without
// asking the issuer for any, and -auth-policy replaces the default policy.
func TestStaticKeysAndPolicy(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t, authtest.Options{})
	dir := t.TempDir()
	keys := filepath.Join(dir, "jwks.json")
	require.NoError(t, os.WriteFile(keys, iss.JWKS(), 0o600))
	policy := filepath.Join(dir, "policy.yaml")
	require.NoError(t, os.WriteFile(policy, []byte("roles:\n  scaler: [rules:write, rules:read]\n  budget_officer: [budget:write, budget:read]\n"), 0o600))

	cfg, err := parseFlags([]string{"-issuer", iss.URL, "-audience", iss.Audience, "-jwks", keys, "-auth-policy", policy,
		"-trace", "constant:640", "-budget-db", ":memory:"}, io.Discard)
	require.NoError(t, err)
	var mu sync.Mutex
	var events []mgmt.AuditEvent
	cfg.audit = mgmt.AuditFunc(func(_ context.Context, e mgmt.AuditEvent) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
	})
	cfg.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := newApp(context.Background(), cfg, clock.New())
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.close(context.Background()) })
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)

	op := iss.Mint(authtest.Claims{Subject: "ana", Tenant: "ED", Roles: []string{"service_operator"}})
	sc := iss.Mint(authtest.Claims{Subject: "sam", Tenant: "ED", Roles: []string{"scaler"}})
	status, _, body := apitest.Call(t, "POST", srv.URL+"/autoscale-rules", edRule, op)
	assert.Equal(t, http.StatusForbidden, status, "service_operator is not a role of this policy: %s", body)
	status, _, body = apitest.Call(t, "POST", srv.URL+"/autoscale-rules", edRule, sc)
	assert.Equal(t, http.StatusCreated, status, body)
	assert.Zero(t, iss.DiscoveryFetches()+iss.JWKSFetches(), "static keys: nothing fetched")
	mu.Lock()
	var actions []string
	for _, e := range events {
		if e.Action != "autoscale.scale" {
			actions = append(actions, e.Actor+" "+e.Action+" "+e.Outcome)
		}
	}
	assert.Equal(t, []string{"ana authz.decide deny", "ana http.request denied", "sam authz.decide allow", "sam autoscale.rule.create ok", "sam http.request ok"}, actions)
	mu.Unlock()

	cfg.auth.Policy = filepath.Join(dir, "missing.yaml")
	_, err = newApp(context.Background(), cfg, clock.New())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-auth-policy")
}

// TestIssuerUnreachable: without the issuer's keys the command does not
// start.
func TestIssuerUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	err = run(context.Background(), []string{"-addr", "127.0.0.1:0", "-issuer", dead, "-audience", "hms", "-budget-db", ":memory:"},
		io.Discard, func(net.Addr) { t.Error("the server must not start without the issuer's keys") })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-issuer "+dead)
}

// TestTenantTakeoverRefused: an operator of IACB cannot take ED's
// loan-status-api by labelling a rule for it with IACB — the cluster says
// who owns the service — and ED keeps full use of its service: it creates
// its rule, and IACB can neither see nor delete it, nor set a budget cap
// on the service.
func TestTenantTakeoverRefused(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t, authtest.Options{})
	h := apitest.StartHost(t, run, "-addr", "127.0.0.1:0", "-issuer", iss.URL, "-audience", iss.Audience,
		"-trace", "constant:640", "-budget-db", ":memory:")
	base := h.URL
	ivy := iss.Mint(authtest.Claims{Subject: "ivy", Tenant: "IACB", Roles: []string{"service_operator", "budget_officer"}})
	ana := iss.Mint(authtest.Claims{Subject: "ana", Tenant: "ED", Roles: []string{"service_operator"}})
	takeover := `{"service": "loan-status-api", "labels": {"agency": "IACB"}, "minReplicas": 1, "maxReplicas": 20,
	              "trigger": {"metric": "http_rps", "threshold": 500}}`

	status, _, missing := apitest.Call(t, "POST", base+"/autoscale-rules", strings.ReplaceAll(takeover, "loan-status-api", "nosuch-api"), ivy)
	require.Equal(t, http.StatusNotFound, status, missing)
	status, _, body := apitest.Call(t, "POST", base+"/autoscale-rules", takeover, ivy)
	assert.Equal(t, http.StatusNotFound, status, body)
	assert.Equal(t, missing, strings.ReplaceAll(body, "loan-status-api", "nosuch-api"), "ED's service looks to IACB like one that does not exist")
	status, _, body = apitest.Call(t, "POST", base+"/autoscale-rules?dryRun=true", takeover, ivy)
	assert.Equal(t, http.StatusNotFound, status, body)
	status, _, body = apitest.Call(t, "POST", base+"/budgets/loan-status-api", `{"monthlyUSD": 1}`, ivy)
	assert.Equal(t, http.StatusNotFound, status, body)

	// ED is not locked out: its rule needs no label (the owner decides).
	status, _, body = apitest.Call(t, "POST", base+"/autoscale-rules", `{"service": "loan-status-api", "minReplicas": 1, "maxReplicas": 20,
		"trigger": {"metric": "http_rps", "threshold": 500}}`, ana)
	require.Equal(t, http.StatusCreated, status, body)
	assert.Contains(t, body, `"agency":"ED"`)
	status, _, body = apitest.Call(t, "DELETE", base+"/autoscale-rules/AR-1", "", ivy)
	assert.Equal(t, http.StatusNotFound, status, body)
	status, _, body = apitest.Call(t, "GET", base+"/rules/AR-1/status", "", ana)
	assert.Equal(t, http.StatusOK, status, body)
	status, _, body = apitest.Call(t, "DELETE", base+"/autoscale-rules/AR-1", "", ana)
	assert.Equal(t, http.StatusNoContent, status, body)
}
