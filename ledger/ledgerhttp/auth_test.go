package ledgerhttp_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/auth/authtest"
	"github.com/hms-platform/mgmt/ledger/ledgerhttp"
)

// authEnv is newEnv behind auth.Middleware with the default policy.
type authEnv struct {
	*env
	iss  *authtest.Issuer
	h    http.Handler
	g    *authtest.Guard
	anaT string // treasury_operator of treasury
	bobT string // treasury_operator of treasury
}

func newAuthEnv(t *testing.T) *authEnv {
	t.Helper()
	iss := authtest.NewIssuer(t, authtest.Options{})
	g := iss.Guard(t, nil)
	e := newEnv(t, envOptions{authorize: g.Authorize})
	return &authEnv{env: e, iss: iss, h: g.Protect(e.h), g: g,
		anaT: iss.Mint(authtest.Claims{Subject: "ana", Tenant: "treasury", Roles: []string{"treasury_operator"}}),
		bobT: iss.Mint(authtest.Claims{Subject: "bob", Tenant: "treasury", Roles: []string{"treasury_operator"}}),
	}
}

func (e *authEnv) serve(method, path, body, tok string) (int, string) {
	w := authtest.Serve(e.h, method, path, body, tok)
	return w.Code, w.Body.String()
}

// TestAuthEveryEndpoint: every route refuses requests without a valid
// token or without the permission (before reading the body), answers a
// token of another tenant exactly as a missing account or transfer, and
// lets the right role through.
func TestAuthEveryEndpoint(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	status, body := e.serve("POST", "/ach/transfer", seedBody, e.anaT)
	require.Equal(t, http.StatusCreated, status, body)
	id := body[strings.Index(body, `"id":"`)+6:]
	id = id[:strings.IndexByte(id, '"')]
	const missing = "12345"
	read, transfer := ledgerhttp.PermRead, ledgerhttp.PermTransfer
	authtest.CheckEndpoints(t, e.h, e.iss, []authtest.Endpoint{
		{Method: "POST", Path: "/ach/transfer", Body: `{"from": "Treasury", "to": "Treasury Ops", "amount": 1}`,
			Tenant: "treasury", Permission: transfer, ID: "Treasury", MissingID: "Nosuch"},
		{Method: "GET", Path: "/ach/transfers/" + id, Tenant: "treasury", Permission: read, ID: id, MissingID: missing},
		{Method: "GET", Path: "/ach/transfers/1000", Tenant: "treasury", Permission: read, ID: "1000", MissingID: missing},
		{Method: "POST", Path: "/ach/transfers/" + id + "/reject", Tenant: "treasury", Permission: transfer, ID: id, MissingID: missing},
		{Method: "POST", Path: "/ach/transfers/" + id + "/approve", Tenant: "treasury", Permission: transfer, ID: id, MissingID: missing},
		{Method: "GET", Path: "/ach/accounts/Treasury", Tenant: "treasury", Permission: read, ID: "Treasury", MissingID: "Nosuch"},
		{Method: "GET", Path: "/ach/accounts/2", Tenant: "treasury", Permission: read, ID: "2", MissingID: missing},
		{Method: "GET", Path: "/ach/accounts/Treasury/transfers", Tenant: "treasury", Permission: read, ID: "Treasury", MissingID: "Nosuch"},
		{Method: "GET", Path: "/ach/accounts?agency=treasury", Tenant: "treasury", Permission: read},
		{Method: "POST", Path: "/ach/accounts", Body: `{"name": "Treasury Savings", "agency": "treasury"}`, Tenant: "treasury", Permission: transfer},
	}, authtest.EndpointOptions{Routes: ledgerhttp.Routes(), NotFoundForOtherTenants: true})

	var allow, deny int
	for _, ev := range e.g.Audit.Events() {
		if ev.Action == "authz.decide" {
			if ev.Outcome == "allow" {
				allow++
			} else {
				deny++
			}
		}
	}
	assert.Positive(t, allow)
	assert.Positive(t, deny)
}

// TestAuthTenancy: the cases CheckEndpoints does not cover.
func TestAuthTenancy(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	gil := e.iss.Mint(authtest.Claims{Subject: "gil", Tenant: "gpo", Roles: []string{"treasury_operator"}})
	viewer := e.iss.Mint(authtest.Claims{Subject: "val", Tenant: "treasury", Roles: []string{"viewer"}})

	// A viewer reads but does not move money.
	status, body := e.serve("GET", "/ach/accounts/Treasury", "", viewer)
	assert.Equal(t, http.StatusOK, status, body)
	status, body = e.serve("POST", "/ach/transfer", seedBody, viewer)
	assert.Equal(t, http.StatusForbidden, status, body)

	// GPO's operator cannot move Treasury's money: Treasury does not
	// exist for them, word for word.
	status, body = e.serve("POST", "/ach/transfer", seedBody, gil)
	assert.Equal(t, http.StatusNotFound, status, body)
	_, missing := e.serve("POST", "/ach/transfer", strings.Replace(seedBody, "Treasury", "Nosuch", 1), gil)
	assert.Equal(t, missing, strings.Replace(body, "Treasury", "Nosuch", 1))
	// But may pay Treasury from GPO: any account may be credited.
	status, body = e.serve("POST", "/ach/transfer", `{"from": "GPO", "to": "Treasury", "amount": 1}`, gil)
	assert.Equal(t, http.StatusCreated, status, body)

	// The list shows only the caller's tenants.
	status, body = e.serve("GET", "/ach/accounts", "", gil)
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, `"name":"GPO"`)
	assert.NotContains(t, body, `"name":"Treasury"`)

	// Dual control over tokens: ana submits, ana cannot approve, bob can;
	// gil of GPO cannot even see it.
	status, body = e.serve("POST", "/ach/transfer", seedBody, e.anaT)
	require.Equal(t, http.StatusCreated, status, body)
	id := body[strings.Index(body, `"id":"`)+6:]
	id = id[:strings.IndexByte(id, '"')]
	status, body = e.serve("POST", "/ach/transfers/"+id+"/approve", "", e.anaT)
	assert.Equal(t, http.StatusForbidden, status, body)
	assert.Contains(t, body, "submitter")
	status, body = e.serve("POST", "/ach/transfers/"+id+"/approve", "", gil)
	assert.Equal(t, http.StatusNotFound, status, body)
	status, body = e.serve("POST", "/ach/transfers/"+id+"/approve", "", e.bobT)
	assert.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, `"status":"posted"`)

	// Creating an account in another agency is forbidden (the agency is
	// the caller's word, so nothing is hidden).
	status, body = e.serve("POST", "/ach/accounts", `{"name": "Shadow", "agency": "treasury"}`, gil)
	assert.Equal(t, http.StatusForbidden, status, body)
}
