package auth

import (
	"context"
	"net/http"
	"sort"
	"strings"
)

// HTTPHook is the authorization hook of the HTTP APIs
// (scalerhttp.Options.Authorize, budgethttp.Options.Authorize,
// patchhttp.Options.Authorize): it authorizes the principal Middleware put
// in r's context for perm on a resource of tenant, and returns the
// principal's subject as the actor.
//
// The resource's Kind is perm's prefix ("rules" for "rules:write"), and its
// ID the value of the first wildcard of the route the request matched
// ("7" for /api/patch/{id}), so that audit records name "patch/7". An
// empty tenant is a resource that belongs to no tenant: a tenant-less
// permission is decided as usual; any other is allowed only for a principal
// acting for every tenant (the tenant "*" with a role of the policy's
// allTenantsRoles) and denied with ErrWrongTenant (403) for everyone else,
// after ErrNoPermission when the principal's roles do not grant perm at all.
// A request without a principal is mgmt.KindUnauthenticated (401). Every
// decision is audited, as by Authorize.
//
//	authz, _ := auth.NewAuthorizer(auth.AuthorizerOptions{Auditor: auditor})
//	h := scalerhttp.NewHandler(ctrl, scalerhttp.Options{Authorize: authz.HTTPHook()})
//	srv.Handler = auth.Middleware(v, auth.MiddlewareOptions{Auditor: auditor})(h)
func (a *Authorizer) HTTPHook() func(r *http.Request, perm, tenant string) (actor string, err error) {
	return func(r *http.Request, perm, tenant string) (string, error) {
		p, _ := FromContext(r.Context())
		kind, _, _ := strings.Cut(perm, ":")
		if err := a.authorizeOrNoTenant(r.Context(), p, perm, Resource{Tenant: tenant, Kind: kind, ID: routeID(r)}); err != nil {
			return "", err
		}
		return p.Subject, nil
	}
}

// routeID returns the value of the first wildcard of the ServeMux pattern
// r matched ("GET /budgets/{svc}" → r.PathValue("svc")), or "" when it has
// none or r was not routed by a ServeMux.
func routeID(r *http.Request) string {
	_, rest, ok := strings.Cut(r.Pattern, "{")
	if !ok {
		return ""
	}
	name, _, ok := strings.Cut(rest, "}")
	if !ok {
		return ""
	}
	return r.PathValue(strings.TrimSuffix(name, "..."))
}

// noTenant stands in for the tenant of a resource that has none when an
// all-tenants principal is decided: it matches their "*" and, holding a
// space, no tenant a token may carry.
const noTenant = "(no tenant)"

// authorizeOrNoTenant is Authorize, except that a resource without a tenant
// is allowed only to principals acting for every tenant (see HTTPHook).
func (a *Authorizer) authorizeOrNoTenant(ctx context.Context, p *Principal, perm string, res Resource) error {
	if res.Tenant != "" || a.policy.Tenantless(perm) {
		return a.Authorize(ctx, p, perm, res)
	}
	err := a.decideNoTenant(ctx, p, perm, res)
	if a.auditor != nil {
		a.audit(ctx, p, perm, res, err)
	}
	return err
}

func (a *Authorizer) decideNoTenant(ctx context.Context, p *Principal, perm string, res Resource) error {
	stand := res
	stand.Tenant = noTenant
	if p != nil && a.actsForAllTenants(p) {
		return a.decide(ctx, p, perm, stand)
	}
	// Without a principal, or without a role granting perm, say so first.
	if err := a.decide(ctx, p, perm, stand); ReasonOf(err) != "wrong_tenant" {
		return err
	}
	roles := make([]string, 0, len(a.policy.allTenants))
	for r := range a.policy.allTenants {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return forbidden(ErrWrongTenant, "the %s belongs to no tenant: only a principal acting for every tenant "+
		"(tenant %q and one of the roles %q) may use %s on it", res, AllTenants, roles, perm)
}

// actsForAllTenants reports whether p's tenant "*" stands for every tenant.
func (a *Authorizer) actsForAllTenants(p *Principal) bool {
	if !a.policy.anyAllRoles || !p.HasTenant(AllTenants) {
		return false
	}
	for _, r := range p.Roles {
		if a.policy.allTenants[r] {
			return true
		}
	}
	return false
}
