package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/celenv"
)

// AllTenants is the tenant value that, in a token, stands for every tenant.
// It takes effect only for principals holding a role the policy lists in
// allTenantsRoles; for anyone else it matches no tenant.
const AllTenants = "*"

// maxTenantLen bounds one tenant or role name taken from a token.
const maxNameLen = 128

// Principal is the verified caller: who it is, which tenants it may act in,
// and which roles it holds. Verify builds it; handlers read it with
// FromContext. It must not be modified once shared.
type Principal struct {
	Subject   string
	Issuer    string
	Tenants   []string
	Roles     []string
	ExpiresAt time.Time
	// Claims are the token's raw claims, decoded from JSON.
	Claims map[string]any
}

// HasRole reports whether p holds role.
func (p *Principal) HasRole(role string) bool { return slices.Contains(p.Roles, role) }

// HasTenant reports whether p lists tenant literally (AllTenants is not
// expanded here; the Authorizer does that, subject to the policy).
func (p *Principal) HasTenant(tenant string) bool { return slices.Contains(p.Tenants, tenant) }

// ClaimMapping names the claims a Principal is built from. A name is a
// top-level claim ("roles", "https://example.gov/roles"), or, when no such
// claim exists, a dotted path into nested objects ("realm_access.roles").
// The CEL expressions, when set, replace the claim of the same role; they
// see the variable claims (map(string, dyn)) and now, and must be of type
// list(string), for example
//
//	RolesExpr: `claims.realm_access.roles.filter(r, r.startsWith("hms_")).map(r, r.substring(4))`
type ClaimMapping struct {
	// Subject is the claim of Principal.Subject; default "sub". Required in
	// every token.
	Subject string
	// Tenants is the claim of Principal.Tenants, a string or a list of
	// strings; default "tenant", or "tenants" when the token has no
	// "tenant". A token without tenants is refused.
	Tenants string
	// Roles is the claim of Principal.Roles, a string or a list of strings;
	// default "roles". A token without it has no roles.
	Roles string
	// TenantsExpr and RolesExpr are CEL expressions of type list(string).
	TenantsExpr string
	RolesExpr   string
}

// mapping is a compiled ClaimMapping.
type mapping struct {
	subject, tenants, roles string
	tenantsExpr, rolesExpr  *celenv.Program
}

func newMapping(c ClaimMapping) (*mapping, error) {
	m := &mapping{subject: c.Subject, tenants: c.Tenants, roles: c.Roles}
	if m.subject == "" {
		m.subject = "sub"
	}
	if m.roles == "" {
		m.roles = "roles"
	}
	if c.TenantsExpr == "" && c.RolesExpr == "" {
		return m, nil
	}
	env, err := celenv.New(celenv.Options{Variables: map[string]*cel.Type{"claims": celenv.DynMap()}})
	if err != nil {
		return nil, err
	}
	compile := func(field, expr string) (*celenv.Program, error) {
		if expr == "" {
			return nil, nil
		}
		p, err := env.CompileAs(field, expr, cel.ListType(cel.StringType))
		if err != nil {
			return nil, mgmt.Invalid(field, "%s", strings.TrimPrefix(err.Error(), fmt.Sprintf("policy %q: ", field)))
		}
		return p, nil
	}
	if m.tenantsExpr, err = compile("Claims.TenantsExpr", c.TenantsExpr); err != nil {
		return nil, err
	}
	if m.rolesExpr, err = compile("Claims.RolesExpr", c.RolesExpr); err != nil {
		return nil, err
	}
	return m, nil
}

// lookup finds a claim by exact name, then by dotted path.
func lookup(claims map[string]any, name string) (any, bool) {
	if v, ok := claims[name]; ok {
		return v, true
	}
	if !strings.Contains(name, ".") {
		return nil, false
	}
	var cur any = claims
	for _, part := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// strings reads a claim that is a string or a list of strings.
func stringList(name string, v any) ([]string, error) {
	var out []string
	switch x := v.(type) {
	case string:
		out = []string{x}
	case []any:
		out = make([]string, 0, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, unauthenticated(ErrInvalidClaim, "%s[%d] is not a string", name, i)
			}
			out = append(out, s)
		}
	default:
		return nil, unauthenticated(ErrInvalidClaim, "%s is neither a string nor a list of strings", name)
	}
	return checkNames(name, out)
}

func checkNames(name string, list []string) ([]string, error) {
	for i, s := range list {
		if s == "" || len(s) > maxNameLen || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return nil, unauthenticated(ErrInvalidClaim, "%s[%d] is empty, longer than %d bytes or contains spaces or control characters", name, i, maxNameLen)
		}
	}
	return list, nil
}

func (m *mapping) principal(ctx context.Context, now time.Time, std *jwt.Claims, claims map[string]any) (*Principal, error) {
	p := &Principal{Issuer: std.Issuer, Claims: claims}
	if std.Expiry != nil {
		p.ExpiresAt = std.Expiry.Time()
	}
	sub, _ := lookup(claims, m.subject)
	s, ok := sub.(string)
	if !ok || s == "" {
		return nil, unauthenticated(ErrMissingClaim, "subject claim %q is missing or not a non-empty string", m.subject)
	}
	p.Subject = s

	var err error
	switch {
	case m.tenantsExpr != nil:
		p.Tenants, err = m.eval(ctx, now, m.tenantsExpr, "tenants", claims)
	case m.tenants != "":
		p.Tenants, err = m.claimList(claims, m.tenants)
	default:
		if _, ok := claims["tenant"]; ok {
			p.Tenants, err = m.claimList(claims, "tenant")
		} else {
			p.Tenants, err = m.claimList(claims, "tenants")
		}
	}
	if err != nil {
		return nil, err
	}
	if len(p.Tenants) == 0 {
		return nil, unauthenticated(ErrMissingClaim, "the token names no tenant")
	}
	switch {
	case m.rolesExpr != nil:
		p.Roles, err = m.eval(ctx, now, m.rolesExpr, "roles", claims)
	default:
		p.Roles, err = m.claimList(claims, m.roles)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (m *mapping) claimList(claims map[string]any, name string) ([]string, error) {
	v, ok := lookup(claims, name)
	if !ok || v == nil {
		return nil, nil
	}
	return stringList(name, v)
}

func (m *mapping) eval(ctx context.Context, now time.Time, p *celenv.Program, what string, claims map[string]any) ([]string, error) {
	list, err := celenv.EvalAs[[]string](ctx, p, now, celenv.Map{"claims": claims})
	if err != nil {
		if mgmt.KindOf(err) == mgmt.KindUnavailable {
			return nil, err
		}
		return nil, unauthenticated(ErrInvalidClaim, "mapping %s: %v", what, err)
	}
	return checkNames(what, list)
}
