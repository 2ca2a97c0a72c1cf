package patchhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/auth/authtest"
	"github.com/hms-platform/mgmt/patch"
	"github.com/hms-platform/mgmt/patch/patchhttp"
)

// TestEveryRouteIsAuthorized runs the authentication and tenant-isolation
// checks over every route of the API behind auth.Middleware and
// Authorizer.HTTP: no token, a tampered token and roles without the
// permission are refused (before the body is read), and another tenant's
// patch is answered exactly as a missing one.
func TestEveryRouteIsAuthorized(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	ctx := context.Background()
	_, err := e.m.Submit(ctx, seedPatch(t), "ana")
	require.NoError(t, err)

	iss := authtest.NewIssuer(t, authtest.Options{})
	g := iss.Guard(t, nil)
	h, err := patchhttp.NewHandler(e.m, patchhttp.Options{Authorize: g.Authorize})
	require.NoError(t, err)
	h = g.Protect(h)

	authtest.CheckEndpoints(t, h, iss, []authtest.Endpoint{
		{Method: "POST", Path: "/api/patch", Body: seedJSON, Tenant: "IACB", Permission: patchhttp.PermSubmit},
		{Method: "GET", Path: "/api/patch?tenant=IACB", Tenant: "IACB", Permission: patchhttp.PermRead},
		{Method: "GET", Path: "/api/patch/1", Tenant: "IACB", Permission: patchhttp.PermRead, ID: "1", MissingID: "99"},
		{Method: "POST", Path: "/api/patch/1/approve", Body: `{"reason": "ok"}`, Tenant: "IACB", Permission: patchhttp.PermApprove, ID: "1", MissingID: "99"},
		{Method: "POST", Path: "/api/patch/1/reject", Body: `{"reason": "no"}`, Tenant: "IACB", Permission: patchhttp.PermReject, ID: "1", MissingID: "99"},
		{Method: "POST", Path: "/api/patch/1/rollback", Tenant: "IACB", Permission: patchhttp.PermRollback, ID: "1", MissingID: "99"},
	}, authtest.EndpointOptions{Routes: patchhttp.Routes(), Public: []string{"GET /api/catalog"}})
	assert.NotEmpty(t, g.Audit.Events())

	// The catalog is shared: any authenticated principal reads it; nobody
	// without a token does.
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/api/catalog", nil)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	req.Header.Set("Authorization", "Bearer "+iss.Mint(authtest.Claims{Tenant: "VA", Roles: []string{"viewer"}}))
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)

	// An unknown patch ID tells a caller without a token nothing.
	res, err = http.Get(srv.URL + "/api/patch/99")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
}

func seedPatch(t *testing.T) patch.Patch {
	t.Helper()
	p, err := patch.Decode([]byte(seedJSON), patch.JSON)
	require.NoError(t, err)
	return p
}
