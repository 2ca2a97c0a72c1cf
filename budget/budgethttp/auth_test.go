package budgethttp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/auth/authtest"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/budget/budgethttp"
)

// authEnv is newEnv's budget behind auth.Middleware with the default
// policy, trusting iss, with a monthly cap on eligibility-api (tenant ED).
type authEnv struct {
	*env
	iss   *authtest.Issuer
	h     http.Handler
	audit *authtest.AuditLog
}

func newAuthEnv(t *testing.T, policy *auth.Policy) *authEnv {
	t.Helper()
	e := newEnv(t)
	iss := authtest.NewIssuer(t, authtest.Options{})
	g := iss.Guard(t, policy)
	_, err := e.b.SetCap(context.Background(), budget.Cap{Service: "eligibility-api", Period: budget.Month, Amount: 1_000_000})
	require.NoError(t, err)
	require.NoError(t, e.b.SetService(context.Background(), "housing-api", budget.ServiceInfo{
		PricePerReplicaHour: 10, Labels: mgmt.Labels{"agency": "HUD"},
	}))
	h, err := budgethttp.NewHandler(e.b, budgethttp.Options{Logger: quiet(), Authorize: g.Authorize, Auditor: g.Audit})
	require.NoError(t, err)
	return &authEnv{env: e, iss: iss, h: g.Protect(h), audit: g.Audit}
}

// serve serves one request with token tok ("" for none).
func (e *authEnv) serve(method, path, body, tok string) *httptest.ResponseRecorder {
	return authtest.Serve(e.h, method, path, body, tok)
}

// TestAuthEveryEndpoint: every route refuses requests without a valid
// token or without the permission (before reading the body), answers a
// token of another tenant exactly as a service that does not exist, and
// lets the right role through. The delete comes last: the allowed requests
// change caps.
func TestAuthEveryEndpoint(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, nil)
	read, write := budgethttp.PermRead, budgethttp.PermWrite
	authtest.CheckEndpoints(t, e.h, e.iss, []authtest.Endpoint{
		{Method: "GET", Path: "/budgets/eligibility-api", Tenant: "ED", Permission: read, ID: "eligibility-api", MissingID: "nosuch-api"},
		{Method: "POST", Path: "/budgets/student-aid-portal", Body: `{"fiscalYearUSD": 5000}`, Tenant: "ED", Permission: write, ID: "student-aid-portal", MissingID: "nosuch-api"},
		{Method: "POST", Path: "/budgets/eligibility-api", Body: `{"monthlyUSD": 10000}`, Tenant: "ED", Permission: write, ID: "eligibility-api", MissingID: "nosuch-api"},
		{Method: "DELETE", Path: "/budgets/eligibility-api", Tenant: "ED", Permission: write, ID: "eligibility-api", MissingID: "nosuch-api"},
		{Method: "DELETE", Path: "/budgets/student-aid-portal?period=fiscal_year", Tenant: "ED", Permission: write, ID: "student-aid-portal", MissingID: "nosuch-api"},
	}, authtest.EndpointOptions{Routes: budgethttp.Routes()})
	assert.Empty(t, e.b.Caps(), "the officer of ED deleted both caps")
	var allow, deny int
	resources := map[string]bool{}
	for _, ev := range e.audit.Events() {
		if ev.Action == "authz.decide" {
			resources[ev.Resource] = true
			if ev.Outcome == "allow" {
				allow++
			} else {
				deny++
			}
		}
	}
	assert.Positive(t, allow)
	assert.Positive(t, deny)
	assert.Equal(t, map[string]bool{"budget/eligibility-api": true, "budget/student-aid-portal": true, "budget/nosuch-api": true}, resources,
		"audit records name the budget's service")
}

// TestAuthTenancy: the cases CheckEndpoints does not cover.
func TestAuthTenancy(t *testing.T) {
	t.Parallel()
	pol, err := auth.ParsePolicy("test", []byte(`
roles:
  budget_officer: [budget:write, budget:read]
  platform_admin: [budget:write, budget:read]
allTenantsRoles: [platform_admin]
`))
	require.NoError(t, err)
	e := newAuthEnv(t, pol)
	ctx := context.Background()
	require.NoError(t, e.b.SetService(ctx, "unlabelled-worker", budget.ServiceInfo{PricePerReplicaHour: 10}))
	_, err = e.b.SetCap(ctx, budget.Cap{Selector: budget.Selector{"program": "student-aid"}, Period: budget.Month, Amount: 500_000})
	require.NoError(t, err)

	ed := e.iss.Mint(authtest.Claims{Subject: "bea", Tenant: "ED", Roles: []string{"budget_officer"}})
	admin := e.iss.Mint(authtest.Claims{Subject: "root", Tenant: "*", Roles: []string{"platform_admin"}})
	edStar := e.iss.Mint(authtest.Claims{Subject: "star", Tenant: "*", Roles: []string{"budget_officer"}})

	// A service without an agency label belongs to no tenant: to everyone
	// but a principal acting for every tenant it does not exist.
	w := e.serve("POST", "/budgets/unlabelled-worker", `{"monthlyUSD": 100}`, ed)
	assert.Equal(t, http.StatusNotFound, w.Code, w.Body.String())
	w = e.serve("POST", "/budgets/unlabelled-worker", `{"monthlyUSD": 100}`, edStar)
	assert.Equal(t, http.StatusNotFound, w.Code, "* means every tenant only with an all-tenants role: %s", w.Body.String())
	w = e.serve("POST", "/budgets/unlabelled-worker", `{"monthlyUSD": 100}`, admin)
	assert.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	// So does a service the budget does not know.
	w = e.serve("GET", "/budgets/no-such-service", "", ed)
	assert.Equal(t, http.StatusNotFound, w.Code, w.Body.String())

	// Another tenant's service, and its cap, look like missing ones.
	hud := e.iss.Mint(authtest.Claims{Subject: "hal", Tenant: "HUD", Roles: []string{"budget_officer"}})
	missing := e.serve("GET", "/budgets/nosuch-api", "", hud)
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/budgets/eligibility-api", ""},
		{"POST", "/budgets/eligibility-api", `{"monthlyUSD": 1}`},
		{"DELETE", "/budgets/eligibility-api", ""},
	} {
		w = e.serve(req.method, req.path, req.body, hud)
		assert.Equal(t, http.StatusNotFound, w.Code, w.Body.String())
		assert.Equal(t, missing.Body.String(), strings.ReplaceAll(w.Body.String(), "eligibility-api", "nosuch-api"))
	}
	c, err := e.b.Cap("eligibility-api/month")
	require.NoError(t, err)
	assert.Equal(t, mgmt.Money(1_000_000), c.Amount, "HUD changed nothing")

	// The selector cap without an agency covers student-aid-portal but
	// spans tenants: ED's officer does not see it, the admin does.
	w = e.serve("POST", "/budgets/student-aid-portal", `{"monthlyUSD": 100}`, ed)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	w = e.serve("GET", "/budgets/student-aid-portal", "", ed)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, []string{"student-aid-portal/month"}, capIDs(t, w))
	w = e.serve("GET", "/budgets/student-aid-portal", "", admin)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, []string{"program=student-aid/month", "student-aid-portal/month"}, capIDs(t, w))
}

// capIDs returns the IDs of the caps of a GET's answer.
func capIDs(t *testing.T, w *httptest.ResponseRecorder) []string {
	t.Helper()
	var body struct {
		Caps []struct {
			Cap struct {
				ID string `json:"id"`
			} `json:"cap"`
		} `json:"caps"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	var ids []string
	for _, c := range body.Caps {
		ids = append(ids, c.Cap.ID)
	}
	return ids
}

// recorder is an auth.HTTPAuthorizer recording what it is asked.
type recorder struct {
	mu    sync.Mutex
	calls []string
	deny  bool
}

func (a *recorder) answer(call string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, call)
	if a.deny {
		return mgmt.Errorf(mgmt.KindForbidden, "", "not you")
	}
	return nil
}

func (a *recorder) Permitted(_ *http.Request, perm string) error {
	return a.answer("permitted " + perm)
}

func (a *recorder) Authorize(_ *http.Request, perm, tenant string) (string, error) {
	return "bea", a.answer(perm + " " + tenant)
}

// TestAuthorizeHook: the authorizer is asked for the route's permission
// before anything else, then with the service's owner, and its errors are
// the responses.
func TestAuthorizeHook(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	authz := &recorder{}
	h, err := budgethttp.NewHandler(e.b, budgethttp.Options{Logger: quiet(), Authorize: authz})
	require.NoError(t, err)
	serve := func(method, path, body string) int {
		return authtest.Serve(h, method, path, body, "").Code
	}
	assert.Equal(t, http.StatusCreated, serve("POST", "/budgets/eligibility-api", `{"monthlyUSD": 10000}`))
	assert.Equal(t, http.StatusOK, serve("GET", "/budgets/eligibility-api", ""))
	assert.Equal(t, http.StatusNotFound, serve("GET", "/budgets/other-api", ""))
	assert.Equal(t, []string{"permitted budget:write", "budget:write ED", "permitted budget:read", "budget:read ED", "permitted budget:read", "budget:read "}, authz.calls)
	authz.deny = true
	assert.Equal(t, http.StatusForbidden, serve("DELETE", "/budgets/eligibility-api", ""))
	assert.Equal(t, http.StatusForbidden, serve("POST", "/budgets/eligibility-api", `{"monthlyUSD": "bad"}`), "authorization comes before the body")
	_, err = e.b.Cap("eligibility-api/month")
	assert.NoError(t, err, "a denied delete deletes nothing")
}

// TestCapChangesAudited: every cap set or deleted is an audit event naming
// the token's subject, the cap and its tenant; reads and refused writes
// are not.
func TestCapChangesAudited(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, nil)
	bea := e.iss.Mint(authtest.Claims{Subject: "bea", Tenant: "ED", Roles: []string{"budget_officer"}})
	hal := e.iss.Mint(authtest.Claims{Subject: "hal", Tenant: "HUD", Roles: []string{"budget_officer"}})
	for _, c := range []struct {
		method, path, body, tok string
		code                    int
	}{
		{"POST", "/budgets/eligibility-api", `{"monthlyUSD": 10000}`, hal, http.StatusNotFound},
		{"POST", "/budgets/eligibility-api", `{"monthlyUSD": 10000}`, bea, http.StatusCreated},
		{"GET", "/budgets/eligibility-api", "", bea, http.StatusOK},
		{"DELETE", "/budgets/eligibility-api", "", bea, http.StatusNoContent},
	} {
		rec := e.serve(c.method, c.path, c.body, c.tok)
		require.Equal(t, c.code, rec.Code, "%s %s: %s", c.method, c.path, rec.Body)
	}
	var got []string
	for _, ev := range e.audit.Events() {
		if strings.HasPrefix(ev.Action, "budget.cap.") {
			got = append(got, ev.Actor+" "+ev.Action+" "+ev.Resource+" "+ev.Tenant+" "+ev.Details["amountUSD"]+" "+ev.Details["period"])
		}
	}
	assert.Equal(t, []string{
		"bea budget.cap.set cap/eligibility-api/month ED 10000.00 month",
		"bea budget.cap.delete cap/eligibility-api/month ED 10000.00 month",
	}, got)
}
