package scalerhttp_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth/authtest"
	"github.com/hms-platform/mgmt/scaler"
	"github.com/hms-platform/mgmt/scaler/scalerhttp"
)

// authEnv is the handler behind auth.Middleware with the default policy,
// trusting iss, over a controller holding rule AR-1 of tenant ED on
// eligibility-api. The cluster's services are owned by ED
// (eligibility-api, student-aid-portal, loan-status-api) and HUD
// (housing-api); unowned-api has no owner.
type authEnv struct {
	iss   *authtest.Issuer
	ctrl  *scaler.Controller
	h     http.Handler
	audit *authtest.AuditLog
}

func newAuthEnv(t *testing.T) *authEnv {
	t.Helper()
	e := newEnv(t)
	iss := authtest.NewIssuer(t, authtest.Options{})
	g := iss.Guard(t, nil)
	for svc, owner := range map[string]string{
		"eligibility-api": "ED", "student-aid-portal": "ED", "loan-status-api": "ED",
		"housing-api": "HUD", "unowned-api": "",
	} {
		e.cluster.addService(svc, 2)
		e.cluster.setOwner(svc, owner)
	}
	rule, err := scaler.DecodeRule(strings.NewReader(edRule("eligibility-api")))
	require.NoError(t, err)
	_, err = e.ctrl.AddRule(context.Background(), rule)
	require.NoError(t, err)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := scalerhttp.NewHandler(e.ctrl, scalerhttp.Options{Logger: quiet, Authorize: g.Authorize, Auditor: g.Audit})
	require.NoError(t, err)
	return &authEnv{iss: iss, ctrl: e.ctrl, h: g.Protect(h), audit: g.Audit}
}

// edRule is a rule for service labelled with tenant ED.
func edRule(service string) string { return labelledRule(service, "ED") }

// labelledRule is a rule for service labelled with agency.
func labelledRule(service, agency string) string {
	return `{"service": "` + service + `", "labels": {"agency": "` + agency + `"}, "minReplicas": 2, "maxReplicas": 20,
	         "trigger": {"metric": "http_rps", "threshold": 500}}`
}

// do serves one request with token tok ("" for none).
func (e *authEnv) do(method, path, body, tok string) *httptest.ResponseRecorder {
	return authtest.Serve(e.h, method, path, body, tok)
}

// TestAuthEveryEndpoint: every route refuses requests without a valid
// token or without the permission (before reading the body), answers a
// token of another tenant exactly as it answers a missing rule or service
// — also when the body names the intruder's own tenant — and lets the
// right role through. Reads come first, the delete last: the allowed
// requests change the rules.
func TestAuthEveryEndpoint(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	own := authtest.TenantPlaceholder
	preview := `{"rule": ` + labelledRule("eligibility-api", own) + `, "trace": [{"t": "2024-11-20T09:00:00Z", "values": {"http_rps": 640}}]}`
	read, write := scalerhttp.PermRead, scalerhttp.PermWrite
	authtest.CheckEndpoints(t, e.h, e.iss, []authtest.Endpoint{
		{Method: "GET", Path: "/autoscale-rules?tenant=ED", Tenant: "ED", Permission: read},
		{Method: "GET", Path: "/autoscale-rules?label=agency:ED&service=eligibility-api", Tenant: "ED", Permission: read},
		{Method: "GET", Path: "/autoscale-rules/AR-1", Tenant: "ED", Permission: read, ID: "AR-1", MissingID: "AR-99"},
		{Method: "GET", Path: "/autoscale-rules/AR-1/status", Tenant: "ED", Permission: read, ID: "AR-1", MissingID: "AR-99"},
		{Method: "GET", Path: "/rules/AR-1/status", Tenant: "ED", Permission: read, ID: "AR-1", MissingID: "AR-99"},
		{Method: "POST", Path: "/autoscale-rules/preview", Body: preview, Tenant: "ED", Permission: read, ID: "eligibility-api", MissingID: "nosuch-api"},
		{Name: "dry run on a service with a rule", Method: "POST", Path: "/autoscale-rules?dryRun=true", Body: labelledRule("eligibility-api", own),
			Tenant: "ED", Permission: write, ID: "eligibility-api", MissingID: "nosuch-api"},
		{Method: "POST", Path: "/autoscale-rules?dryRun=true", Body: labelledRule("student-aid-portal", own), Tenant: "ED", Permission: write, ID: "student-aid-portal", MissingID: "nosuch-api"},
		{Method: "POST", Path: "/autoscale-rules", Body: labelledRule("student-aid-portal", own), Tenant: "ED", Permission: write, ID: "student-aid-portal", MissingID: "nosuch-api"},
		{Method: "PUT", Path: "/autoscale-rules/AR-1", Body: labelledRule("eligibility-api", own), Tenant: "ED", Permission: write, ID: "AR-1", MissingID: "AR-99"},
		{Method: "POST", Path: "/autoscale-rules/AR-1/pause", Tenant: "ED", Permission: write, ID: "AR-1", MissingID: "AR-99"},
		{Method: "POST", Path: "/autoscale-rules/AR-1/resume", Tenant: "ED", Permission: write, ID: "AR-1", MissingID: "AR-99"},
		{Method: "DELETE", Path: "/autoscale-rules/AR-1", Tenant: "ED", Permission: write, ID: "AR-1", MissingID: "AR-99"},
	}, authtest.EndpointOptions{Routes: scalerhttp.Routes(), Public: []string{"GET /healthz"}})

	events := e.audit.Events()
	var allow, deny int
	for _, ev := range events {
		if ev.Action == "authz.decide" {
			switch ev.Outcome {
			case "allow":
				allow++
			case "deny":
				deny++
			}
		}
	}
	assert.Positive(t, allow)
	assert.Positive(t, deny)
	_, err := e.ctrl.Rule(context.Background(), "AR-1")
	require.ErrorIs(t, err, mgmt.ErrNotFound, "the operator of ED deleted it")
}

// TestAuthTakeover: an operator of IACB cannot take ED's service by
// labelling a rule for it with IACB; ED keeps its service.
func TestAuthTakeover(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	iacb := e.iss.Mint(authtest.Claims{Subject: "ivy", Tenant: "IACB", Roles: []string{"service_operator"}})
	ed := e.iss.Mint(authtest.Claims{Subject: "ana", Tenant: "ED", Roles: []string{"service_operator"}})

	missing := e.do("POST", "/autoscale-rules", labelledRule("nosuch-api", "IACB"), iacb)
	for _, path := range []string{"/autoscale-rules", "/autoscale-rules?dryRun=true"} {
		w := e.do("POST", path, labelledRule("loan-status-api", "IACB"), iacb)
		assert.Equal(t, http.StatusNotFound, w.Code, w.Body.String())
		assert.Equal(t, strings.ReplaceAll(w.Body.String(), "loan-status-api", "nosuch-api"), missing.Body.String(),
			"ED's service looks to IACB exactly like a missing one")
		assert.NotContains(t, w.Body.String(), "ED")
	}
	assert.Empty(t, listRules(t, e.ctrl, scaler.Filter{Service: "loan-status-api"}), "nothing was stored")

	// ED creates its rule, without a label: the owner is its tenant.
	w := e.do("POST", "/autoscale-rules", `{"service": "loan-status-api", "minReplicas": 2, "maxReplicas": 20,
		"trigger": {"metric": "http_rps", "threshold": 500}}`, ed)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	var created struct {
		RuleID string      `json:"ruleId"`
		Rule   scaler.Rule `json:"rule"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &created))
	assert.Equal(t, "ED", created.Rule.Tenant(), "the agency label is the service's owner")

	// IACB cannot see, scale, pause or delete it, nor dry-run against it
	// (which would name ED's rule).
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/autoscale-rules/" + created.RuleID, ""},
		{"GET", "/rules/" + created.RuleID + "/status", ""},
		{"POST", "/autoscale-rules/" + created.RuleID + "/pause", ""},
		{"PUT", "/autoscale-rules/" + created.RuleID, labelledRule("loan-status-api", "IACB")},
		{"DELETE", "/autoscale-rules/" + created.RuleID, ""},
		{"POST", "/autoscale-rules?dryRun=true", labelledRule("loan-status-api", "IACB")},
	} {
		w := e.do(req.method, req.path, req.body, iacb)
		assert.Equal(t, http.StatusNotFound, w.Code, "%s %s: %s", req.method, req.path, w.Body.String())
		assert.NotContains(t, w.Body.String(), created.RuleID+" ", "%s %s names ED's rule", req.method, req.path)
		assert.NotContains(t, w.Body.String(), "ED", "%s %s", req.method, req.path)
	}
	_, err := e.ctrl.Rule(context.Background(), created.RuleID)
	require.NoError(t, err, "ED's rule is still there")
	w = e.do("DELETE", "/autoscale-rules/"+created.RuleID, "", ed)
	assert.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
}

// TestAuthTenancy: the cases CheckEndpoints does not cover.
func TestAuthTenancy(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	ed := e.iss.Mint(authtest.Claims{Subject: "ana", Tenant: "ED", Roles: []string{"service_operator"}})
	hud := e.iss.Mint(authtest.Claims{Subject: "hal", Tenant: "HUD", Roles: []string{"service_operator"}})
	viewer := e.iss.Mint(authtest.Claims{Subject: "vic", Tenant: "ED", Roles: []string{"viewer"}})

	// A label that contradicts the owner is refused, naming the field,
	// to a caller who may see the service.
	w := e.do("POST", "/autoscale-rules", labelledRule("student-aid-portal", "HUD"), ed)
	assert.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), `"field":"labels.agency"`)
	assert.Empty(t, listRules(t, e.ctrl, scaler.Filter{Service: "student-aid-portal"}), "nothing was stored")

	// Moving ED's rule to HUD's service needs rules:write in both tenants.
	moved := labelledRule("housing-api", "HUD")
	w = e.do("PUT", "/autoscale-rules/AR-1", moved, ed)
	assert.Equal(t, http.StatusNotFound, w.Code, w.Body.String())
	w = e.do("PUT", "/autoscale-rules/AR-1", moved, hud)
	assert.Equal(t, http.StatusNotFound, w.Code, w.Body.String())
	both := e.iss.Mint(authtest.Claims{Subject: "bo", Tenants: []string{"ED", "HUD"}, Roles: []string{"service_operator"}})
	w = e.do("PUT", "/autoscale-rules/AR-1", moved, both)
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	w = e.do("GET", "/autoscale-rules/AR-1", "", ed)
	assert.Equal(t, http.StatusNotFound, w.Code, "AR-1 is HUD's now")
	w = e.do("GET", "/autoscale-rules/AR-1", "", hud)
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())

	// A service without an owner is only for a principal acting for every
	// tenant; the default policy has none. To others it does not exist.
	w = e.do("POST", "/autoscale-rules", labelledRule("unowned-api", "ED"), ed)
	assert.Equal(t, http.StatusNotFound, w.Code, w.Body.String())

	// Listing needs a tenant; the list holds only that tenant's rules.
	w = e.do("GET", "/autoscale-rules", "", viewer)
	assert.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
	w = e.do("GET", "/autoscale-rules?tenant=HUD", "", hud)
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), `"AR-1"`)
	w = e.do("GET", "/autoscale-rules?tenant=ED", "", viewer)
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.JSONEq(t, `{"rules": []}`, w.Body.String())
	w = e.do("GET", "/autoscale-rules?tenant=ED&label=agency:HUD", "", viewer)
	assert.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())

	// A viewer reads but does not write.
	w = e.do("POST", "/autoscale-rules", edRule("student-aid-portal"), viewer)
	assert.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
	assert.Equal(t, "forbidden", decodeKind(t, w))

	// Health checks need no authorization from the handler.
	w = httptest.NewRecorder()
	h, err := scalerhttp.NewHandler(e.ctrl, scalerhttp.Options{Authorize: &recorder{t: t, deny: "never asked"}})
	require.NoError(t, err)
	h.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	assert.Equal(t, http.StatusOK, w.Code)
}

// decodeKind returns the kind of an error response.
func decodeKind(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Error struct {
			Kind string `json:"kind"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), w.Body.String())
	return body.Error.Kind
}

// recorder is an auth.HTTPAuthorizer that records what it is asked and
// answers as deny says: "" allows, "401" and "403" deny, "never asked"
// fails the test when asked.
type recorder struct {
	t     *testing.T
	mu    sync.Mutex
	calls []string
	deny  string
}

func (a *recorder) answer(call string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, call)
	switch a.deny {
	case "401":
		return mgmt.Errorf(mgmt.KindUnauthenticated, "", "who are you")
	case "403":
		return mgmt.Errorf(mgmt.KindForbidden, "", "not you")
	case "never asked":
		a.t.Errorf("asked %s", call)
		return mgmt.Errorf(mgmt.KindForbidden, "", "no")
	}
	return nil
}

func (a *recorder) Permitted(_ *http.Request, perm string) error {
	return a.answer("permitted " + perm)
}

func (a *recorder) Authorize(_ *http.Request, perm, tenant string) (string, error) {
	if err := a.answer(perm + " " + tenant); err != nil {
		return "", err
	}
	return "ana", nil
}

func (a *recorder) set(deny string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.deny, a.calls = deny, nil
}

func (a *recorder) asked() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}

// TestAuthorizeHook: the authorizer is asked with the route's permission
// first, then with the tenant that owns the rule's service, and its
// errors are the responses.
func TestAuthorizeHook(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cluster.setOwner("eligibility-api", "ED")
	authz := &recorder{t: t}
	h, err := scalerhttp.NewHandler(e.ctrl, scalerhttp.Options{Authorize: authz})
	require.NoError(t, err)
	serve := func(method, path, body string) int {
		return authtest.Serve(h, method, path, body, "").Code
	}
	assert.Equal(t, http.StatusCreated, serve("POST", "/autoscale-rules", seedRule))
	assert.Equal(t, http.StatusOK, serve("GET", "/autoscale-rules/AR-1", ""))
	assert.Equal(t, http.StatusOK, serve("GET", "/autoscale-rules", ""))
	assert.Equal(t, []string{
		"permitted rules:write", "rules:write ED",
		"permitted rules:read", "rules:read ED",
		"permitted rules:read", "rules:read ",
	}, authz.asked())
	authz.set("401")
	assert.Equal(t, http.StatusUnauthorized, serve("GET", "/autoscale-rules/AR-1", ""))
	authz.set("403")
	assert.Equal(t, http.StatusForbidden, serve("DELETE", "/autoscale-rules/AR-1", ""))
	assert.Equal(t, []string{"permitted rules:write"}, authz.asked(), "refused before anything else")
	_, err = e.ctrl.Rule(context.Background(), "AR-1")
	assert.NoError(t, err, "a denied delete deletes nothing")
	authz.set("")
	assert.Equal(t, http.StatusNotFound, serve("GET", "/autoscale-rules/AR-9", ""))
}

// TestRuleChangesAudited: every rule created, replaced, paused, resumed
// and deleted is an audit event naming the token's subject, the rule and
// its tenant; reads and refused writes are not.
func TestRuleChangesAudited(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	ana := e.iss.Mint(authtest.Claims{Subject: "ana", Tenant: "ED", Roles: []string{"service_operator"}})
	hal := e.iss.Mint(authtest.Claims{Subject: "hal", Tenant: "HUD", Roles: []string{"service_operator"}})
	for _, c := range []struct {
		method, path, body, tok string
		code                    int
	}{
		{"POST", "/autoscale-rules", edRule("student-aid-portal"), ana, http.StatusCreated},
		{"GET", "/autoscale-rules/AR-2", "", ana, http.StatusOK},
		{"PUT", "/autoscale-rules/AR-2", edRule("loan-status-api"), ana, http.StatusOK},
		{"POST", "/autoscale-rules/AR-2/pause", "", hal, http.StatusNotFound},
		{"POST", "/autoscale-rules/AR-2/pause", "", ana, http.StatusOK},
		{"POST", "/autoscale-rules/AR-2/resume", "", ana, http.StatusOK},
		{"POST", "/autoscale-rules?dryRun=true", edRule("housing-api"), ana, http.StatusNotFound},
		{"DELETE", "/autoscale-rules/AR-2", "", ana, http.StatusNoContent},
	} {
		rec := e.do(c.method, c.path, c.body, c.tok)
		require.Equal(t, c.code, rec.Code, "%s %s: %s", c.method, c.path, rec.Body)
	}
	var got []string
	for _, ev := range e.audit.Events() {
		if strings.HasPrefix(ev.Action, "autoscale.rule.") {
			got = append(got, ev.Actor+" "+ev.Action+" "+ev.Resource+" "+ev.Tenant+" "+ev.Details["service"]+" "+ev.Details["paused"])
		}
	}
	assert.Equal(t, []string{
		"ana autoscale.rule.create rule/AR-2 ED student-aid-portal false",
		"ana autoscale.rule.update rule/AR-2 ED loan-status-api false",
		"ana autoscale.rule.pause rule/AR-2 ED loan-status-api true",
		"ana autoscale.rule.resume rule/AR-2 ED loan-status-api false",
		"ana autoscale.rule.delete rule/AR-2 ED loan-status-api false",
	}, got)
}
