package scalerhttp_test

import (
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
// eligibility-api.
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
	e.cluster.addService("student-aid-portal", 2)
	rule, err := scaler.DecodeRule(strings.NewReader(edRule("eligibility-api")))
	require.NoError(t, err)
	_, err = e.ctrl.AddRule(rule)
	require.NoError(t, err)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := scalerhttp.NewHandler(e.ctrl, scalerhttp.Options{Logger: quiet, Authorize: g.Hook})
	return &authEnv{iss: iss, ctrl: e.ctrl, h: g.Protect(h), audit: g.Audit}
}

// edRule is a rule for service of tenant ED.
func edRule(service string) string {
	return `{"service": "` + service + `", "labels": {"agency": "ED"}, "minReplicas": 2, "maxReplicas": 20,
	         "trigger": {"metric": "http_rps", "threshold": 500}}`
}

// do serves one request with token tok ("" for none).
func (e *authEnv) do(method, path, body, tok string) *httptest.ResponseRecorder {
	return authtest.Serve(e.h, method, path, body, tok)
}

// TestAuthEveryEndpoint: every route refuses requests without a valid
// token, of another tenant, or without the permission, and lets the right
// role through. Reads come first, the delete last: the allowed requests
// change the rules.
func TestAuthEveryEndpoint(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	preview := `{"rule": ` + edRule("eligibility-api") + `, "trace": [{"t": "2024-11-20T09:00:00Z", "values": {"http_rps": 640}}]}`
	read, write := scalerhttp.PermRead, scalerhttp.PermWrite
	authtest.CheckEndpoints(t, e.h, e.iss, []authtest.Endpoint{
		{Method: "GET", Path: "/autoscale-rules?tenant=ED", Tenant: "ED", Permission: read},
		{Method: "GET", Path: "/autoscale-rules?label=agency:ED&service=eligibility-api", Tenant: "ED", Permission: read},
		{Method: "GET", Path: "/autoscale-rules/AR-1", Tenant: "ED", Permission: read},
		{Method: "GET", Path: "/autoscale-rules/AR-1/status", Tenant: "ED", Permission: read},
		{Method: "GET", Path: "/rules/AR-1/status", Tenant: "ED", Permission: read},
		{Method: "POST", Path: "/autoscale-rules/preview", Body: preview, Tenant: "ED", Permission: read},
		{Method: "POST", Path: "/autoscale-rules?dryRun=true", Body: edRule("student-aid-portal"), Tenant: "ED", Permission: write},
		{Method: "POST", Path: "/autoscale-rules", Body: edRule("student-aid-portal"), Tenant: "ED", Permission: write},
		{Method: "PUT", Path: "/autoscale-rules/AR-1", Body: edRule("eligibility-api"), Tenant: "ED", Permission: write},
		{Method: "POST", Path: "/autoscale-rules/AR-1/pause", Tenant: "ED", Permission: write},
		{Method: "POST", Path: "/autoscale-rules/AR-1/resume", Tenant: "ED", Permission: write},
		{Method: "DELETE", Path: "/autoscale-rules/AR-1", Tenant: "ED", Permission: write},
	}, authtest.EndpointOptions{})

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
	_, err := e.ctrl.Rule("AR-1")
	require.ErrorIs(t, err, mgmt.ErrNotFound, "the operator of ED deleted it")
}

// TestAuthTenancy: the cases CheckEndpoints does not cover.
func TestAuthTenancy(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	ed := e.iss.Mint(authtest.Claims{Subject: "ana", Tenant: "ED", Roles: []string{"service_operator"}})
	hud := e.iss.Mint(authtest.Claims{Subject: "hal", Tenant: "HUD", Roles: []string{"service_operator"}})
	viewer := e.iss.Mint(authtest.Claims{Subject: "vic", Tenant: "ED", Roles: []string{"viewer"}})

	// Creating a rule for tenant ED with a token of HUD only.
	w := e.do("POST", "/autoscale-rules", edRule("student-aid-portal"), hud)
	assert.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
	assert.Empty(t, e.ctrl.Rules(scaler.Filter{Service: "student-aid-portal"}), "nothing was stored")

	// Moving ED's rule to HUD needs rules:write in both tenants.
	moved := strings.Replace(edRule("eligibility-api"), `"ED"`, `"HUD"`, 1)
	w = e.do("PUT", "/autoscale-rules/AR-1", moved, ed)
	assert.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
	both := e.iss.Mint(authtest.Claims{Subject: "bo", Tenants: []string{"ED", "HUD"}, Roles: []string{"service_operator"}})
	w = e.do("PUT", "/autoscale-rules/AR-1", moved, both)
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	w = e.do("GET", "/autoscale-rules/AR-1", "", ed)
	assert.Equal(t, http.StatusForbidden, w.Code, "AR-1 is HUD's now")
	w = e.do("GET", "/autoscale-rules/AR-1", "", hud)
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())

	// A rule without an agency label belongs to no tenant: only a principal
	// acting for every tenant may create it; the default policy has none.
	w = e.do("POST", "/autoscale-rules", seedRule, ed)
	assert.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "no tenant")

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
	scalerhttp.NewHandler(e.ctrl, scalerhttp.Options{Authorize: func(*http.Request, string, string) (string, error) {
		t.Error("GET /healthz asked for authorization")
		return "", mgmt.Errorf(mgmt.KindForbidden, "", "no")
	}}).ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
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

// TestAuthorizeHook: the hook is asked with the route's permission and the
// rule's tenant, and its errors are the responses.
func TestAuthorizeHook(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	type call struct{ perm, tenant string }
	var mu sync.Mutex
	var calls []call
	deny := ""
	h := scalerhttp.NewHandler(e.ctrl, scalerhttp.Options{Authorize: func(_ *http.Request, perm, tenant string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, call{perm, tenant})
		switch deny {
		case "401":
			return "", mgmt.Errorf(mgmt.KindUnauthenticated, "", "who are you")
		case "403":
			return "", mgmt.Errorf(mgmt.KindForbidden, "", "not you")
		}
		return "ana", nil
	}})
	serve := func(method, path, body string) int {
		return authtest.Serve(h, method, path, body, "").Code
	}
	assert.Equal(t, http.StatusCreated, serve("POST", "/autoscale-rules", edRule("eligibility-api")))
	assert.Equal(t, http.StatusOK, serve("GET", "/autoscale-rules/AR-1", ""))
	assert.Equal(t, http.StatusOK, serve("GET", "/autoscale-rules", ""))
	assert.Equal(t, []call{{"rules:write", "ED"}, {"rules:read", "ED"}, {"rules:read", ""}}, calls)
	deny = "401"
	assert.Equal(t, http.StatusUnauthorized, serve("GET", "/autoscale-rules/AR-1", ""))
	deny = "403"
	assert.Equal(t, http.StatusForbidden, serve("DELETE", "/autoscale-rules/AR-1", ""))
	_, err := e.ctrl.Rule("AR-1")
	assert.NoError(t, err, "a denied delete deletes nothing")
	assert.Equal(t, http.StatusNotFound, serve("GET", "/autoscale-rules/AR-9", ""), "an unknown rule is 404 before any authorization")
}
