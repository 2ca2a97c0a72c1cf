package auth

import (
	"context"
	"fmt"

	"github.com/benbjohnson/clock"

	"github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/celenv"
)

// Resource is what an action is performed on. Tenant is required unless
// the permission is tenant-less; Kind and ID name it in audit records
// ("patch/784"); Attributes are what permission conditions read
// (resource.attributes.service).
type Resource struct {
	Tenant     string
	Kind       string
	ID         string
	Attributes map[string]any
}

// String returns "kind/id", "kind", or "-" for an unnamed resource.
func (r Resource) String() string {
	switch {
	case r.Kind != "" && r.ID != "":
		return r.Kind + "/" + r.ID
	case r.Kind != "":
		return r.Kind
	case r.ID != "":
		return r.ID
	}
	return "-"
}

// AuthorizerOptions configures an Authorizer.
type AuthorizerOptions struct {
	// Policy maps roles to permissions; nil means DefaultPolicy().
	Policy *Policy
	// Auditor receives one "authz.decide" event per decision; nil means
	// none.
	Auditor mgmt.Auditor
	// Clock stamps audit events and is the now of conditions; nil means
	// the real clock.
	Clock clock.Clock
}

// Authorizer decides whether a principal may use a permission on a
// resource. It is immutable and safe for concurrent use.
type Authorizer struct {
	policy  *Policy
	auditor mgmt.Auditor
	clock   clock.Clock
}

// NewAuthorizer builds an Authorizer.
func NewAuthorizer(opts AuthorizerOptions) (*Authorizer, error) {
	a := &Authorizer{policy: opts.Policy, auditor: opts.Auditor, clock: opts.Clock}
	if a.policy == nil {
		a.policy = DefaultPolicy()
	}
	if a.clock == nil {
		a.clock = clock.New()
	}
	return a, nil
}

// Policy returns the authorizer's policy.
func (a *Authorizer) Policy() *Policy { return a.policy }

// Authorize returns nil when p may use perm on res:
//   - one of p's roles grants perm (ErrNoPermission otherwise; a permission
//     the policy does not know is granted by no role);
//   - res.Tenant is one of p's tenants, unless perm is tenant-less; the
//     tenant "*" in p's tenants matches every tenant only when p holds a
//     role of the policy's allTenantsRoles (ErrWrongTenant otherwise);
//   - perm's condition, if any, is true (ErrConditionFailed otherwise).
//
// Denials are *mgmt.Error of kind mgmt.KindForbidden wrapping the reason. A
// nil p is mgmt.KindUnauthenticated; a missing res.Tenant for a tenant-bound
// permission is mgmt.KindInvalid (field "resource.tenant"). Every decision
// is audited.
func (a *Authorizer) Authorize(ctx context.Context, p *Principal, perm string, res Resource) error {
	err := a.decide(ctx, p, perm, res)
	if a.auditor != nil {
		a.audit(ctx, p, perm, res, err)
	}
	return err
}

func (a *Authorizer) decide(ctx context.Context, p *Principal, perm string, res Resource) error {
	if p == nil {
		return mgmt.Errorf(mgmt.KindUnauthenticated, "", "%w: the request carries no verified principal", ErrMissingToken)
	}
	pol := a.policy
	i, ok := pol.perms[perm]
	if !ok {
		return forbidden(ErrNoPermission, "permission %q is not defined by policy %q", perm, pol.name)
	}
	word, bit := i/64, uint64(1)<<(i%64)
	granted, allTenants := false, false
	for _, role := range p.Roles {
		bits, ok := pol.roles[role]
		if !ok {
			continue
		}
		if bits[word]&bit != 0 {
			granted = true
		}
		if pol.anyAllRoles && pol.allTenants[role] {
			allTenants = true
		}
	}
	if !granted {
		return forbidden(ErrNoPermission, "roles %q do not grant %s", p.Roles, perm)
	}
	if !pol.tenantless[i] {
		switch res.Tenant {
		case "":
			return mgmt.Invalid("resource.tenant", "is required for permission %s", perm)
		case AllTenants:
			return mgmt.Invalid("resource.tenant", "%q is not a tenant", AllTenants)
		}
		inTenant := false
		for _, t := range p.Tenants {
			if t == res.Tenant || (allTenants && t == AllTenants) {
				inTenant = true
				break
			}
		}
		if !inTenant {
			return forbidden(ErrWrongTenant, "%s may not act in tenant %q", quoteShort(p.Subject), res.Tenant)
		}
	}
	if c := pol.conds[i]; c != nil {
		attrs := res.Attributes
		if attrs == nil {
			attrs = map[string]any{}
		}
		claims := p.Claims
		if claims == nil {
			claims = map[string]any{}
		}
		vars := celenv.Map{
			"principal": map[string]any{
				"subject": p.Subject, "tenants": p.Tenants, "roles": p.Roles, "claims": claims,
			},
			"resource": map[string]any{
				"tenant": res.Tenant, "kind": res.Kind, "id": res.ID, "attributes": attrs,
			},
			"permission": perm,
		}
		ok, err := c.Allow(ctx, a.clock.Now(), vars)
		if err != nil && mgmt.KindOf(err) == mgmt.KindUnavailable {
			return err
		}
		if !ok {
			why := c.Policy().Message
			if err != nil {
				why = err.Error()
			} else if why == "" {
				why = fmt.Sprintf("%s is false", c.Policy().Expr)
			}
			return forbidden(ErrConditionFailed, "%s: %s", perm, why)
		}
	}
	return nil
}

func (a *Authorizer) audit(ctx context.Context, p *Principal, perm string, res Resource, err error) {
	e := mgmt.AuditEvent{
		At:       a.clock.Now(),
		Actor:    "anonymous",
		Action:   "authz.decide",
		Resource: res.String(),
		Tenant:   res.Tenant,
		Outcome:  "allow",
		Details:  map[string]string{"permission": perm},
	}
	if p != nil {
		e.Actor = p.Subject
	}
	if err != nil {
		e.Outcome = "deny"
		e.Reason = ReasonOf(err) + ": " + errMessage(err)
	}
	a.auditor.Audit(ctx, e)
}

// errMessage is err's text without a leading "field: ".
func errMessage(err error) string {
	if f := mgmt.FieldOf(err); f != "" {
		s := err.Error()
		if len(s) > len(f)+2 && s[:len(f)+2] == f+": " {
			return s[len(f)+2:]
		}
	}
	return err.Error()
}
