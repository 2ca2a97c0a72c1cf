package authtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hms-platform/mgmt/auth"
)

// TenantPlaceholder in an Endpoint's Body is replaced by the tenant of the
// token that sends it: a request that names its own tenant, such as a rule
// labelled with the caller's agency for a service of another tenant.
const TenantPlaceholder = "{tenant}"

// Endpoint is one row of CheckEndpoints: a request and the permission and
// tenant it must be authorized for.
type Endpoint struct {
	// Name labels the subtests; default "METHOD PATH".
	Name string
	// Method, Path and Body make the request; Body is sent as
	// application/json when not empty, with TenantPlaceholder replaced by
	// the sender's tenant.
	Method, Path, Body string
	// Tenant is the tenant the resource of the request belongs to.
	Tenant string
	// Permission is the permission the endpoint requires.
	Permission string
	// ID and MissingID, when set, name the resource of the request (a rule
	// ID, a patch ID, a service name as it appears in Path and Body) and
	// one that does not exist. A token of another tenant must then get 404,
	// and exactly the answer it gets for MissingID (the same status and
	// the same body once ID is replaced by MissingID): another tenant's
	// resource is indistinguishable from a missing one.
	ID, MissingID string
	// Tenantless marks a resource that belongs to no tenant (the
	// permission is tenant-less): a token of another tenant with a role
	// that grants the permission must be authorized too, instead of
	// getting 403 or 404. Tenant is then only the tenant of the tokens.
	Tenantless bool
}

// EndpointOptions tunes CheckEndpoints.
type EndpointOptions struct {
	// Policy is the host's policy; nil means auth.DefaultPolicy().
	Policy *auth.Policy
	// NotFoundForOtherTenants accepts 404 as well as 403 for a request on
	// another tenant's resource, for hosts that hide what exists (rows with
	// a MissingID always want 404).
	NotFoundForOtherTenants bool
	// SkipAllowed skips the positive check (a token of the right tenant
	// with a role that grants the permission must get neither 401 nor 403).
	SkipAllowed bool
	// Routes, when set, are the API's route patterns ("POST
	// /autoscale-rules/{id}/pause"): each must be exercised by a row, so
	// that a route added later cannot go unchecked. Public lists those
	// that need no token.
	Routes, Public []string
}

// CheckEndpoints runs the authentication and tenant-isolation checks
// against a handler that verifies tokens of iss (with its audience) and
// authorizes with opts.Policy. For each row it sends:
//   - no token → 401 with a WWW-Authenticate challenge;
//   - a tampered token → 401;
//   - a token of another tenant holding every role that grants the
//     permission → 403 (or 404, see NotFoundForOtherTenants), with the
//     body naming its own tenant where the row's Body has
//     TenantPlaceholder; with a MissingID, 404 and the very answer a
//     missing resource gets;
//   - a token of the right tenant holding every role that does not grant
//     the permission → 403, without the request's body having been read;
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
	checkRoutes(t, rows, opts)
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
			if row.Tenantless && !pol.Tenantless(row.Permission) {
				t.Fatalf("authtest: the row is tenantless but policy %q does not declare %q tenant-less", pol.Name(), row.Permission)
			}
			var lacking []string
			for _, r := range pol.Roles() {
				if !slices.Contains(granting, r) {
					lacking = append(lacking, r)
				}
			}
			other := row.Tenant + "-other"
			send := func(path, body, tenant, tok string) (int, http.Header, string, bool) {
				body = strings.ReplaceAll(body, TenantPlaceholder, tenant)
				rec, read := serveCounting(h, row.Method, path, body, tok)
				b := rec.Body.String()
				if tok != "" {
					sig := tok[strings.LastIndexByte(tok, '.')+1:]
					if strings.Contains(b, tok) || (len(sig) > 8 && strings.Contains(b, sig)) ||
						strings.Contains(strings.Join(rec.Header().Values("WWW-Authenticate"), " "), sig) {
						t.Errorf("the response echoes the token")
					}
				}
				return rec.Code, rec.Header(), b, read
			}
			do := func(tenant, tok string) (int, http.Header, string, bool) {
				return send(row.Path, row.Body, tenant, tok)
			}

			code, hdr, body, _ := do(row.Tenant, "")
			if code != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("no token: status %d, WWW-Authenticate %q, want 401 with a Bearer challenge; body %s", code, hdr.Get("WWW-Authenticate"), body)
			}
			good := iss.Mint(Claims{Subject: "authtest-user", Tenant: row.Tenant, Roles: granting})
			if code, _, body, _ = do(row.Tenant, TamperSignature(good)); code != http.StatusUnauthorized {
				t.Errorf("tampered token: status %d, want 401; body %s", code, body)
			}
			tok := iss.Mint(Claims{Subject: "authtest-intruder", Tenant: other, Roles: granting})
			code, _, body, _ = do(other, tok)
			switch {
			case row.Tenantless:
				if !opts.SkipAllowed && (code == http.StatusUnauthorized || code == http.StatusForbidden || code == http.StatusNotFound) {
					t.Errorf("token of tenant %q on a resource of no tenant: status %d, want the request authorized; body %s", other, code, body)
				}
			case row.MissingID != "":
				mcode, _, mbody, _ := send(strings.ReplaceAll(row.Path, row.ID, row.MissingID), strings.ReplaceAll(row.Body, row.ID, row.MissingID), other, tok)
				if code != http.StatusNotFound || mcode != code || strings.ReplaceAll(body, row.ID, row.MissingID) != mbody {
					t.Errorf("token of tenant %q on %s of tenant %q must be answered as a missing one (404, the same body):\n  %s: %d %s\n  %s: %d %s",
						other, row.ID, row.Tenant, row.ID, code, body, row.MissingID, mcode, mbody)
				}
			case !(code == http.StatusForbidden || (opts.NotFoundForOtherTenants && code == http.StatusNotFound)):
				t.Errorf("token of tenant %q on a resource of tenant %q: status %d, want 403; body %s", other, row.Tenant, code, body)
			}
			if len(lacking) > 0 {
				tok = iss.Mint(Claims{Subject: "authtest-lacking", Tenant: row.Tenant, Roles: lacking})
				code, _, body, read := do(row.Tenant, tok)
				if code != http.StatusForbidden {
					t.Errorf("roles %q without %s: status %d, want 403; body %s", lacking, row.Permission, code, body)
				}
				if read {
					t.Errorf("roles %q without %s: the request's body was read; a request without the permission in any tenant must be refused first", lacking, row.Permission)
				}
			}
			if !opts.SkipAllowed {
				if code, _, body, _ = do(row.Tenant, good); code == http.StatusUnauthorized || code == http.StatusForbidden {
					t.Errorf("roles %q in tenant %q: status %d, want the request authorized; body %s", granting, row.Tenant, code, body)
				}
			}
		})
	}
}

// checkRoutes fails t for each of opts.Routes (not public) that no row
// exercises.
func checkRoutes(t *testing.T, rows []Endpoint, opts EndpointOptions) {
	t.Helper()
	if len(opts.Routes) == 0 {
		return
	}
	mux := http.NewServeMux()
	for _, p := range opts.Routes {
		mux.HandleFunc(p, func(http.ResponseWriter, *http.Request) {})
	}
	seen := map[string]bool{}
	for _, row := range rows {
		_, pattern := mux.Handler(httptest.NewRequest(row.Method, row.Path, nil))
		seen[pattern] = true
	}
	for _, p := range opts.Routes {
		if !seen[p] && !slices.Contains(opts.Public, p) {
			t.Errorf("route %q has no row: every route of the API must be checked", p)
		}
	}
}

// serveCounting is Serve, reporting whether the handler read any of the
// body.
func serveCounting(h http.Handler, method, path, body, tok string) (*httptest.ResponseRecorder, bool) {
	var read atomic.Bool
	var rd io.Reader
	if body != "" {
		rd = &readSpy{r: strings.NewReader(body), read: &read}
	}
	r := httptest.NewRequest(method, path, rd)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w, read.Load()
}

type readSpy struct {
	r    io.Reader
	read *atomic.Bool
}

func (s *readSpy) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.read.Store(true)
	}
	return n, err
}
