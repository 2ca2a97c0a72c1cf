package auth

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/hms-platform/mgmt"
)

// HTTPAuthorizer is the one authorization path of the module's HTTP APIs
// (scalerhttp, budgethttp and patchhttp take it as Options.Authorize, and
// require it: AllowAll is the explicit choice for development).
//
// A handler asks it twice:
//   - Permitted, before it reads anything of the request but its route:
//     may the request use perm in at least one tenant? A request that may
//     not is refused before its body is read;
//   - Authorize, once the request is decoded and the resource's tenant is
//     known: may the request use perm on a resource of tenant ("" for a
//     resource that belongs to no tenant)? It returns who is acting.
//
// An error of kind mgmt.KindUnauthenticated is a 401, mgmt.KindForbidden a
// 403. A denial wrapping ErrWrongTenant means the resource is another
// tenant's: handlers answer it exactly as they answer a resource that does
// not exist (404), so that no caller learns what other tenants have
// (IsInvisible).
type HTTPAuthorizer interface {
	Permitted(r *http.Request, perm string) error
	Authorize(r *http.Request, perm, tenant string) (actor string, err error)
}

// IsInvisible reports whether err denies access because the resource
// belongs to another tenant (or to no tenant, for a principal that does not
// act for every tenant): such a resource is answered as missing.
func IsInvisible(err error) bool { return errors.Is(err, ErrWrongTenant) }

// HTTP returns the HTTPAuthorizer over the principal Middleware put in the
// request's context.
//
// Authorize decides perm on a resource of tenant. The resource's Kind is
// perm's prefix ("rules" for "rules:write"), and its ID the value of the
// first wildcard of the route the request matched ("7" for
// /api/patch/{id}), so that audit records name "patch/7". An empty tenant is
// a resource that belongs to no tenant: a tenant-less permission is decided
// as usual; any other is allowed only for a principal acting for every
// tenant (the tenant "*" with a role of the policy's allTenantsRoles) and
// denied with ErrWrongTenant for everyone else, after ErrNoPermission when
// the principal's roles do not grant perm at all. Every decision is
// audited, as by Authorize.
//
// Permitted allows a principal one of whose roles grants perm (it has at
// least one tenant: Verifier refuses a token without one); conditions are
// left to Authorize, which knows the resource. Its denials are audited.
//
// A request without a principal is mgmt.KindUnauthenticated for both.
//
//	authz, _ := auth.NewAuthorizer(auth.AuthorizerOptions{Auditor: auditor})
//	h, err := scalerhttp.NewHandler(ctrl, scalerhttp.Options{Authorize: authz.HTTP()})
//	srv.Handler = auth.Middleware(v, auth.MiddlewareOptions{Auditor: auditor})(h)
func (a *Authorizer) HTTP() HTTPAuthorizer { return httpAuthorizer{a} }

type httpAuthorizer struct{ a *Authorizer }

func (h httpAuthorizer) Permitted(r *http.Request, perm string) error {
	p, _ := FromContext(r.Context())
	err := h.a.permitted(p, perm)
	if err != nil && h.a.auditor != nil {
		kind, _, _ := strings.Cut(perm, ":")
		h.a.audit(r.Context(), p, perm, Resource{Kind: kind, ID: routeID(r)}, err)
	}
	return err
}

func (h httpAuthorizer) Authorize(r *http.Request, perm, tenant string) (string, error) {
	p, _ := FromContext(r.Context())
	kind, _, _ := strings.Cut(perm, ":")
	if err := h.a.authorizeOrNoTenant(r.Context(), p, perm, Resource{Tenant: tenant, Kind: kind, ID: routeID(r)}); err != nil {
		return "", err
	}
	return p.Subject, nil
}

// permitted returns nil when one of p's roles grants perm.
func (a *Authorizer) permitted(p *Principal, perm string) error {
	if p == nil {
		return mgmt.Errorf(mgmt.KindUnauthenticated, "", "%w: the request carries no verified principal", ErrMissingToken)
	}
	for _, role := range p.Roles {
		if a.policy.Grants(role, perm) {
			return nil
		}
	}
	if _, ok := a.policy.perms[perm]; !ok {
		return forbidden(ErrNoPermission, "permission %q is not defined by policy %q", perm, a.policy.name)
	}
	return forbidden(ErrNoPermission, "roles %q do not grant %s", p.Roles, perm)
}

// AllowAll is the HTTPAuthorizer of development: it allows everything and
// authenticates nobody. The actor it returns is the request's X-HMS-Actor
// header, else actor. Never use it where anyone else can reach the API.
func AllowAll(actor string) HTTPAuthorizer { return allowAll(actor) }

// MaxActorLen bounds the X-HMS-Actor header AllowAll reads.
const MaxActorLen = 256

type allowAll string

func (allowAll) Permitted(*http.Request, string) error { return nil }

func (d allowAll) Authorize(r *http.Request, _, _ string) (string, error) {
	a := strings.TrimSpace(r.Header.Get("X-HMS-Actor"))
	if a == "" {
		return string(d), nil
	}
	if len(a) > MaxActorLen {
		return "", mgmt.Invalid("X-HMS-Actor", "is %d bytes, more than %d", len(a), MaxActorLen)
	}
	for _, c := range a {
		if c < 0x20 || c == 0x7f {
			return "", mgmt.Invalid("X-HMS-Actor", "holds a control character")
		}
	}
	return a, nil
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
// is allowed only to principals acting for every tenant (see HTTP).
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
