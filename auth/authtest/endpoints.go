package authtest

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/hms-platform/mgmt/auth"
)

// Endpoint is one row of CheckEndpoints: a request and the permission and
// tenant it must be authorized for.
type Endpoint struct {
	// Name labels the subtests; default "METHOD PATH".
	Name string
	// Method, Path and Body make the request; Body is sent as
	// application/json when not empty.
	Method, Path, Body string
	// Tenant is the tenant the resource of the request belongs to.
	Tenant string
	// Permission is the permission the endpoint requires.
	Permission string
}

// EndpointOptions tunes CheckEndpoints.
type EndpointOptions struct {
	// Policy is the host's policy; nil means auth.DefaultPolicy().
	Policy *auth.Policy
	// NotFoundForOtherTenants accepts 404 as well as 403 for a request on
	// another tenant's resource, for hosts that hide what exists.
	NotFoundForOtherTenants bool
	// SkipAllowed skips the positive check (a token of the right tenant
	// with a role that grants the permission must get neither 401 nor 403).
	SkipAllowed bool
}

// CheckEndpoints runs the authentication and tenant-isolation checks
// against a handler that verifies tokens of iss (with its audience) and
// authorizes with opts.Policy. For each row it sends:
//   - no token → 401 with a WWW-Authenticate challenge;
//   - a tampered token → 401;
//   - a token of another tenant holding every role that grants the
//     permission → 403 (or 404, see NotFoundForOtherTenants);
//   - a token of the right tenant holding every role that does not grant
//     the permission → 403;
//   - a token of the right tenant with a granting role → neither 401 nor
//     403 (unless SkipAllowed).
//
// No response may contain the token sent.
func CheckEndpoints(t *testing.T, h http.Handler, iss *Issuer, rows []Endpoint, opts EndpointOptions) {
	t.Helper()
	pol := opts.Policy
	if pol == nil {
		pol = auth.DefaultPolicy()
	}
	for _, row := range rows {
		name := row.Name
		if name == "" {
			name = row.Method + " " + row.Path
		}
		t.Run(name, func(t *testing.T) {
			granting := pol.RolesWith(row.Permission)
			if len(granting) == 0 {
				t.Fatalf("authtest: no role of policy %q grants %q", pol.Name(), row.Permission)
			}
			var lacking []string
			for _, r := range pol.Roles() {
				if !slices.Contains(granting, r) {
					lacking = append(lacking, r)
				}
			}
			do := func(tok string) (int, http.Header, string) {
				rec := Serve(h, row.Method, row.Path, row.Body, tok)
				b := rec.Body.String()
				if tok != "" {
					sig := tok[strings.LastIndexByte(tok, '.')+1:]
					if strings.Contains(b, tok) || (len(sig) > 8 && strings.Contains(b, sig)) ||
						strings.Contains(strings.Join(rec.Header().Values("WWW-Authenticate"), " "), sig) {
						t.Errorf("the response echoes the token")
					}
				}
				return rec.Code, rec.Header(), b
			}
			other := row.Tenant + "-other"

			code, hdr, body := do("")
			if code != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("no token: status %d, WWW-Authenticate %q, want 401 with a Bearer challenge; body %s", code, hdr.Get("WWW-Authenticate"), body)
			}
			good := iss.Mint(Claims{Subject: "authtest-user", Tenant: row.Tenant, Roles: granting})
			if code, _, body = do(TamperSignature(good)); code != http.StatusUnauthorized {
				t.Errorf("tampered token: status %d, want 401; body %s", code, body)
			}
			tok := iss.Mint(Claims{Subject: "authtest-intruder", Tenant: other, Roles: granting})
			code, _, body = do(tok)
			if !(code == http.StatusForbidden || (opts.NotFoundForOtherTenants && code == http.StatusNotFound)) {
				t.Errorf("token of tenant %q on a resource of tenant %q: status %d, want 403; body %s", other, row.Tenant, code, body)
			}
			if len(lacking) > 0 {
				tok = iss.Mint(Claims{Subject: "authtest-lacking", Tenant: row.Tenant, Roles: lacking})
				if code, _, body = do(tok); code != http.StatusForbidden {
					t.Errorf("roles %q without %s: status %d, want 403; body %s", lacking, row.Permission, code, body)
				}
			}
			if !opts.SkipAllowed {
				if code, _, body = do(good); code == http.StatusUnauthorized || code == http.StatusForbidden {
					t.Errorf("roles %q in tenant %q: status %d, want the request authorized; body %s", granting, row.Tenant, code, body)
				}
			}
		})
	}
}
