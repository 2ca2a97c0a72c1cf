package auth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/auth/authtest"
)

func TestHTTP(t *testing.T) {
	t.Parallel()
	pol, err := auth.LoadPolicy(filepath.Join("testdata", "policies", "good.yaml"))
	require.NoError(t, err)
	rm := &auth.Principal{Subject: "rita", Tenants: []string{"A", "B"}, Roles: []string{"release_manager"}}
	admin := &auth.Principal{Subject: "root", Tenants: []string{"*"}, Roles: []string{"platform_admin"}}
	viewerStar := &auth.Principal{Subject: "vic", Tenants: []string{"*"}, Roles: []string{"viewer"}}

	rows := []struct {
		name   string
		p      *auth.Principal // nil: no principal in the context
		perm   string
		tenant string
		kind   error // nil: allowed
		why    error
	}{
		{"own tenant", rm, "patch:rollback", "B", nil, nil},
		{"other tenant", rm, "patch:rollback", "C", mgmt.ErrForbidden, auth.ErrWrongTenant},
		{"no permission", rm, "catalog:read", "A", mgmt.ErrForbidden, auth.ErrNoPermission},
		{"no principal", nil, "patch:read", "A", mgmt.ErrUnauthenticated, auth.ErrMissingToken},
		{"no tenant, tenant-bound permission", rm, "patch:read", "", mgmt.ErrForbidden, auth.ErrWrongTenant},
		{"no tenant, no permission either", rm, "patch:approve", "", mgmt.ErrForbidden, auth.ErrNoPermission},
		{"no tenant, no principal", nil, "patch:read", "", mgmt.ErrUnauthenticated, auth.ErrMissingToken},
		{"no tenant, * without an all-tenants role", viewerStar, "patch:read", "", mgmt.ErrForbidden, auth.ErrWrongTenant},
		{"no tenant, all-tenants principal", admin, "patch:read", "", nil, nil},
		{"no tenant, all-tenants principal without the permission", admin, "patch:submit", "", mgmt.ErrForbidden, auth.ErrNoPermission},
		{"tenant-less permission", &auth.Principal{Subject: "val", Tenants: []string{"A"}, Roles: []string{"viewer"}}, "catalog:read", "", nil, nil},
		{"all-tenants principal in a tenant", admin, "patch:read", "Z", nil, nil},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			log := &authtest.AuditLog{}
			a, err := auth.NewAuthorizer(auth.AuthorizerOptions{Policy: pol, Auditor: log})
			require.NoError(t, err)
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			if row.p != nil {
				r = r.WithContext(auth.WithPrincipal(r.Context(), row.p))
			}
			actor, err := a.HTTP().Authorize(r, row.perm, row.tenant)
			events := log.Events()
			require.Len(t, events, 1, "every decision is audited")
			e := events[0]
			assert.Equal(t, "authz.decide", e.Action)
			assert.Equal(t, row.tenant, e.Tenant)
			assert.Equal(t, row.perm, e.Details["permission"])
			if row.kind == nil {
				require.NoError(t, err)
				assert.Equal(t, row.p.Subject, actor)
				assert.Equal(t, "allow", e.Outcome)
				return
			}
			require.ErrorIs(t, err, row.kind)
			require.ErrorIs(t, err, row.why)
			assert.Empty(t, actor)
			assert.Equal(t, "deny", e.Outcome)
			assert.Contains(t, e.Reason, auth.ReasonOf(row.why))
		})
	}
}

func TestHTTPResourceKind(t *testing.T) {
	t.Parallel()
	log := &authtest.AuditLog{}
	a, err := auth.NewAuthorizer(auth.AuthorizerOptions{Auditor: log})
	require.NoError(t, err)
	p := &auth.Principal{Subject: "ana", Tenants: []string{"ED"}, Roles: []string{"service_operator"}}
	r := httptest.NewRequest(http.MethodPost, "/autoscale-rules", nil)
	r = r.WithContext(auth.WithPrincipal(r.Context(), p))
	actor, err := a.HTTP().Authorize(r, "rules:write", "ED")
	require.NoError(t, err)
	assert.Equal(t, "ana", actor)
	_, err = a.HTTP().Authorize(r, "rules:write", "HUD")
	require.ErrorIs(t, err, mgmt.ErrForbidden)
	_, err = a.HTTP().Authorize(r, "rules:write", "")
	require.ErrorIs(t, err, mgmt.ErrForbidden, "the default policy has no all-tenants role")
	events := log.Events()
	require.Len(t, events, 3)
	assert.Equal(t, "rules", events[0].Resource)
	assert.Equal(t, []string{"allow", "deny", "deny"}, []string{events[0].Outcome, events[1].Outcome, events[2].Outcome})
}

// TestHTTPResourceID: behind a ServeMux, the audit record names the
// resource by the route's first wildcard.
func TestHTTPResourceID(t *testing.T) {
	t.Parallel()
	log := &authtest.AuditLog{}
	a, err := auth.NewAuthorizer(auth.AuthorizerOptions{Auditor: log})
	require.NoError(t, err)
	hook := a.HTTP().Authorize
	mux := http.NewServeMux()
	for _, route := range []struct{ pattern, perm string }{
		{"POST /api/patch/{id}/approve", "patch:approve"},
		{"GET /budgets/{svc}", "budgets:read"},
		{"GET /files/{path...}", "patch:read"},
		{"POST /api/patch", "patch:submit"},
	} {
		mux.HandleFunc(route.pattern, func(w http.ResponseWriter, r *http.Request) {
			if _, err := hook(r, route.perm, "IACB"); err != nil {
				w.WriteHeader(http.StatusForbidden)
			}
		})
	}
	p := &auth.Principal{Subject: "gus", Tenants: []string{"IACB"}, Roles: []string{"governance_approver", "release_manager", "viewer"}}
	for _, req := range []struct{ method, path, want string }{
		{http.MethodPost, "/api/patch/7/approve", "patch/7"},
		{http.MethodGet, "/budgets/ARTIST_REGISTRY_API", "budgets/ARTIST_REGISTRY_API"},
		{http.MethodGet, "/files/a/b.yml", "patch/a/b.yml"},
		{http.MethodPost, "/api/patch", "patch"},
	} {
		r := httptest.NewRequest(req.method, req.path, nil)
		r = r.WithContext(auth.WithPrincipal(r.Context(), p))
		mux.ServeHTTP(httptest.NewRecorder(), r)
		events := log.Events()
		require.NotEmpty(t, events, req.path)
		assert.Equal(t, req.want, events[len(events)-1].Resource, req.path)
	}
}

func ExampleAuthorizer_HTTP() {
	authz, _ := auth.NewAuthorizer(auth.AuthorizerOptions{})
	hook := authz.HTTP() // scalerhttp.Options{Authorize: hook}, budgethttp.Options{Authorize: hook}
	ana := &auth.Principal{Subject: "ana", Tenants: []string{"ED"}, Roles: []string{"service_operator"}}
	r := httptest.NewRequest(http.MethodPost, "/autoscale-rules", nil)
	r = r.WithContext(auth.WithPrincipal(r.Context(), ana)) // what auth.Middleware does
	// Before the body is read: does ana hold the permission anywhere?
	fmt.Printf("permitted rules:write %q, budget:write %q\n",
		auth.ReasonOf(hook.Permitted(r, "rules:write")), auth.ReasonOf(hook.Permitted(r, "budget:write")))
	for _, tenant := range []string{"ED", "HUD", ""} {
		actor, err := hook.Authorize(r, "rules:write", tenant)
		fmt.Printf("%q: actor %q, error %q, answered as missing %v\n", tenant, actor, auth.ReasonOf(err), auth.IsInvisible(err))
	}
	// Output:
	// permitted rules:write "", budget:write "no_permission"
	// "ED": actor "ana", error "", answered as missing false
	// "HUD": actor "", error "wrong_tenant", answered as missing true
	// "": actor "", error "wrong_tenant", answered as missing true
}

func TestHTTPPermitted(t *testing.T) {
	t.Parallel()
	log := &authtest.AuditLog{}
	a, err := auth.NewAuthorizer(auth.AuthorizerOptions{Auditor: log})
	require.NoError(t, err)
	h := a.HTTP()
	for _, row := range []struct {
		name string
		p    *auth.Principal
		perm string
		kind error
	}{
		{"granted in its tenant", &auth.Principal{Subject: "o", Tenants: []string{"ED"}, Roles: []string{"service_operator"}}, "rules:write", nil},
		{"a role without it", &auth.Principal{Subject: "v", Tenants: []string{"ED"}, Roles: []string{"viewer"}}, "rules:write", mgmt.ErrForbidden},
		{"unknown permission", &auth.Principal{Subject: "v", Tenants: []string{"ED"}, Roles: []string{"viewer"}}, "nothing:here", mgmt.ErrForbidden},
		{"no principal", nil, "rules:read", mgmt.ErrUnauthenticated},
	} {
		r := httptest.NewRequest(http.MethodPost, "/x", nil)
		if row.p != nil {
			r = r.WithContext(auth.WithPrincipal(r.Context(), row.p))
		}
		before := len(log.Events())
		err := h.Permitted(r, row.perm)
		if row.kind == nil {
			require.NoError(t, err, row.name)
			assert.Len(t, log.Events(), before, "%s: an allowed pre-check is decided again by Authorize, not audited twice", row.name)
			continue
		}
		require.ErrorIs(t, err, row.kind, row.name)
		assert.False(t, auth.IsInvisible(err), row.name)
		require.Len(t, log.Events(), before+1, "%s: a denial is audited", row.name)
		assert.Equal(t, "deny", log.Events()[before].Outcome)
	}
}

func TestAllowAll(t *testing.T) {
	t.Parallel()
	h := auth.AllowAll("dev")
	r := httptest.NewRequest(http.MethodPost, "/x", nil)
	require.NoError(t, h.Permitted(r, "anything"))
	actor, err := h.Authorize(r, "patch:submit", "ED")
	require.NoError(t, err)
	assert.Equal(t, "dev", actor)
	r.Header.Set("X-HMS-Actor", " rita ")
	actor, err = h.Authorize(r, "patch:submit", "")
	require.NoError(t, err)
	assert.Equal(t, "rita", actor)
	r.Header.Set("X-HMS-Actor", "a\x01b")
	_, err = h.Authorize(r, "patch:submit", "")
	require.ErrorIs(t, err, mgmt.ErrInvalid)
	assert.Equal(t, "X-HMS-Actor", mgmt.FieldOf(err))
}
