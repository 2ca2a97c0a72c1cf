package auth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/auth/authtest"
)

// A service verifies tokens of its SSO issuer and lets only release
// managers of the tenant submit patches.
func Example() {
	ctx := context.Background()
	mock := clock.NewMock()
	mock.Set(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	iss, err := authtest.Start(authtest.Options{Clock: mock}) // stands in for the SSO
	if err != nil {
		panic(err)
	}
	defer iss.Close()

	v, err := auth.NewVerifier(ctx, auth.VerifierOptions{
		Issuer:   iss.URL, // discovery: iss.URL + "/.well-known/openid-configuration"
		Audience: []string{"hms"},
		Clock:    mock,
	})
	if err != nil {
		panic(err)
	}
	authz, err := auth.NewAuthorizer(auth.AuthorizerOptions{Policy: auth.DefaultPolicy()})
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /tenants/{tenant}/patches", func(w http.ResponseWriter, r *http.Request) {
		if !authz.Check(w, r, "patch:submit", auth.Resource{Tenant: r.PathValue("tenant"), Kind: "patch"}) {
			return // 403 written
		}
		p, _ := auth.FromContext(r.Context())
		fmt.Fprintf(w, "accepted from %s", p.Subject)
	})
	h := auth.Middleware(v, auth.MiddlewareOptions{})(mux)

	send := func(path, token string) {
		req := httptest.NewRequest("POST", path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	rm := iss.Mint(authtest.Claims{Subject: "ana", Tenant: "ARTIST", Roles: []string{"release_manager"}})
	viewer := iss.Mint(authtest.Claims{Subject: "vic", Tenant: "ARTIST", Roles: []string{"viewer"}})
	send("/tenants/ARTIST/patches", rm)
	send("/tenants/TAX/patches", rm)
	send("/tenants/ARTIST/patches", viewer)
	send("/tenants/ARTIST/patches", "")
	// Output:
	// 200 accepted from ana
	// 403 {"error":{"kind":"forbidden","message":"resource belongs to another tenant: \"ana\" may not act in tenant \"TAX\""}}
	// 403 {"error":{"kind":"forbidden","message":"permission denied: roles [\"viewer\"] do not grant patch:submit"}}
	// 401 {"error":{"kind":"unauthenticated","message":"no bearer token: send Authorization: Bearer \u003ctoken\u003e"}}
}

func ExampleVerifier_Verify() {
	ctx := context.Background()
	mock := clock.NewMock()
	mock.Set(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	iss, err := authtest.Start(authtest.Options{Clock: mock})
	if err != nil {
		panic(err)
	}
	defer iss.Close()
	v, err := auth.NewVerifier(ctx, iss.VerifierOptions())
	if err != nil {
		panic(err)
	}
	tok := iss.Mint(authtest.Claims{Subject: "ana", Tenants: []string{"ARTIST", "TAX"}, Roles: []string{"viewer"}, TTL: time.Minute})
	p, err := v.Verify(ctx, tok)
	fmt.Println(p.Subject, p.Tenants, p.Roles, err)

	mock.Add(time.Minute + auth.DefaultClockSkew)
	_, err = v.Verify(ctx, tok)
	fmt.Println(auth.ReasonOf(err), "|", err)
	// Output:
	// ana [ARTIST TAX] [viewer] <nil>
	// expired | token: token expired: expired at 2026-11-23T09:01:00Z (now 2026-11-23T09:01:30Z, skew 30s)
}

func ExampleParsePolicy() {
	pol, err := auth.ParsePolicy("inline", []byte(`
roles:
  release_manager: [patch:submit, patch:read]
permissions:
  patch:submit:
    condition: resource.attributes.service.startsWith("ARTIST")
`))
	if err != nil {
		panic(err)
	}
	a, _ := auth.NewAuthorizer(auth.AuthorizerOptions{Policy: pol})
	p := &auth.Principal{Subject: "ana", Tenants: []string{"T1"}, Roles: []string{"release_manager"}}
	for _, svc := range []string{"ARTIST_REGISTRY_API", "TAX_API"} {
		err := a.Authorize(context.Background(), p, "patch:submit", auth.Resource{Tenant: "T1", Attributes: map[string]any{"service": svc}})
		fmt.Printf("%s: %v\n", svc, err)
	}

	_, err = auth.ParsePolicy("bad.yaml", []byte("roles:\n  viewer: [patch:read]\npermissions:\n  patch:read:\n    tenantles: true\n"))
	fmt.Println(err)
	// Output:
	// ARTIST_REGISTRY_API: <nil>
	// TAX_API: permission condition not met: patch:submit: resource.attributes.service.startsWith("ARTIST") is false
	// permissions.patch:read.tenantles: bad.yaml line 5: unknown field "tenantles" (known: condition, tenantless, description)
}
