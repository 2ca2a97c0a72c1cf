package auth_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/auth/authtest"
)

func TestAuthorize(t *testing.T) {
	t.Parallel()
	pol, err := auth.LoadPolicy(filepath.Join("testdata", "policies", "good.yaml"))
	require.NoError(t, err)
	log := &authtest.AuditLog{}
	a, err := auth.NewAuthorizer(auth.AuthorizerOptions{Policy: pol, Auditor: log})
	require.NoError(t, err)
	rm := &auth.Principal{Subject: "rita", Tenants: []string{"A", "B"}, Roles: []string{"release_manager"}}
	admin := &auth.Principal{Subject: "root", Tenants: []string{"*"}, Roles: []string{"platform_admin"}}
	viewerStar := &auth.Principal{Subject: "vic", Tenants: []string{"*"}, Roles: []string{"viewer"}}
	artist := map[string]any{"service": "ARTIST_REGISTRY_API"}

	rows := []struct {
		name string
		p    *auth.Principal
		perm string
		res  auth.Resource
		kind error // nil: allowed
		why  error
	}{
		{"allowed with a true condition", rm, "patch:submit", auth.Resource{Tenant: "B", Kind: "patch", ID: "7", Attributes: artist}, nil, nil},
		{"condition false", rm, "patch:submit", auth.Resource{Tenant: "A", Attributes: map[string]any{"service": "TAX_API"}}, mgmt.ErrForbidden, auth.ErrConditionFailed},
		{"condition reads a missing attribute: fails closed", rm, "patch:submit", auth.Resource{Tenant: "A"}, mgmt.ErrForbidden, auth.ErrConditionFailed},
		{"other tenant", rm, "patch:read", auth.Resource{Tenant: "C"}, mgmt.ErrForbidden, auth.ErrWrongTenant},
		{"all-tenants role with *", admin, "patch:read", auth.Resource{Tenant: "C"}, nil, nil},
		{"* without an all-tenants role", viewerStar, "patch:read", auth.Resource{Tenant: "C"}, mgmt.ErrForbidden, auth.ErrWrongTenant},
		{"tenantless permission needs no tenant", viewerStar, "catalog:read", auth.Resource{}, nil, nil},
		{"missing tenant is invalid", rm, "patch:read", auth.Resource{Kind: "patch"}, mgmt.ErrInvalid, nil},
		{"tenant * on a resource is invalid", admin, "patch:read", auth.Resource{Tenant: "*"}, mgmt.ErrInvalid, nil},
		{"no principal", nil, "patch:read", auth.Resource{Tenant: "A"}, mgmt.ErrUnauthenticated, auth.ErrMissingToken},
		{"no role grants it", rm, "catalog:read", auth.Resource{}, mgmt.ErrForbidden, auth.ErrNoPermission},
		{"unknown role", &auth.Principal{Subject: "x", Tenants: []string{"A"}, Roles: []string{"god"}}, "patch:read", auth.Resource{Tenant: "A"}, mgmt.ErrForbidden, auth.ErrNoPermission},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			err := a.Authorize(context.Background(), row.p, row.perm, row.res)
			if row.kind == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, row.kind)
			if row.why != nil {
				require.ErrorIs(t, err, row.why)
			}
		})
	}
	t.Run("audit", func(t *testing.T) {
		// A fresh authorizer, so that the parallel rows above do not mix in.
		l := &authtest.AuditLog{}
		a2, err := auth.NewAuthorizer(auth.AuthorizerOptions{Policy: pol, Auditor: l})
		require.NoError(t, err)
		_ = a2.Authorize(context.Background(), rm, "patch:submit", auth.Resource{Tenant: "A", Kind: "patch", ID: "9", Attributes: artist})
		_ = a2.Authorize(context.Background(), rm, "patch:read", auth.Resource{Tenant: "Z", Kind: "patch", ID: "9"})
		ev := l.Events()
		require.Len(t, ev, 2)
		assert.Equal(t, mgmt.AuditEvent{At: ev[0].At, Actor: "rita", Action: "authz.decide", Resource: "patch/9", Tenant: "A", Outcome: "allow",
			Details: map[string]string{"permission": "patch:submit"}}, ev[0])
		assert.Equal(t, "deny", ev[1].Outcome)
		assert.Equal(t, "Z", ev[1].Tenant)
		assert.Contains(t, ev[1].Reason, "wrong_tenant")
	})
}

func TestConditionMessage(t *testing.T) {
	t.Parallel()
	pol, err := auth.LoadPolicy(filepath.Join("testdata", "policies", "good.yaml"))
	require.NoError(t, err)
	a, err := auth.NewAuthorizer(auth.AuthorizerOptions{Policy: pol})
	require.NoError(t, err)
	rm := &auth.Principal{Subject: "rita", Tenants: []string{"A"}, Roles: []string{"release_manager"}}
	err = a.Authorize(context.Background(), rm, "patch:submit", auth.Resource{Tenant: "A", Attributes: map[string]any{"service": "TAX"}})
	require.ErrorIs(t, err, auth.ErrConditionFailed)
	assert.Contains(t, err.Error(), "only ARTIST services take patches")
	assert.Equal(t, "condition", auth.ReasonOf(err))
}
