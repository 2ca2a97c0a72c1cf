package auth_test

import (
	"context"
	"strings"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/auth/authtest"
)

// FuzzVerify feeds arbitrary strings to Verify: it must never panic, and
// every error must be a 401 (or, for a CEL mapping, fail closed) that does
// not echo its input.
func FuzzVerify(f *testing.F) {
	mock := clock.NewMock()
	mock.Set(start)
	iss, err := authtest.New(authtest.Options{URL: "https://sso.example.gov", Clock: mock})
	require.NoError(f, err)
	v, err := auth.NewVerifier(context.Background(), auth.VerifierOptions{
		Issuer: iss.URL, Audience: []string{iss.Audience}, JWKS: iss.JWKS(), Clock: mock,
		Claims: auth.ClaimMapping{RolesExpr: `has(claims.roles) ? claims.roles : []`},
	})
	require.NoError(f, err)
	ok := authtest.Claims{Subject: "ana", Tenant: "A", Roles: []string{"viewer"}}
	good := iss.Mint(ok)
	for _, seed := range []string{
		good,
		iss.Mint(authtest.Claims{Tenant: "A", Alg: "RS256"}),
		iss.Mint(authtest.Claims{Tenant: "A", Alg: "EdDSA"}),
		iss.MintNone(ok),
		iss.MintHMAC(ok, iss.RSAPublicKeyPEM()),
		authtest.TamperSignature(good),
		authtest.TamperPayload(good, func(m map[string]any) { m["roles"] = map[string]any{"x": 1} }),
		iss.SignPayload("ES256", []byte(`{"sub":1,"tenant":[null],"exp":1e400}`)),
		iss.SignPayload("ES256", []byte(`{"sub":"a","tenant":"A","aud":"hms","iss":"https://sso.example.gov","exp":99999999999,"roles":[[]]}`)),
		"", ".", "..", "a.b.c", "e30.e30.", "eyJhbGciOiJFUzI1NiJ9..", strings.Repeat("A", 100),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := v.Verify(context.Background(), raw)
		if err == nil {
			if p == nil || p.Subject == "" || len(p.Tenants) == 0 {
				t.Fatalf("accepted without subject or tenant: %+v", p)
			}
			return
		}
		if p != nil {
			t.Fatal("a principal with an error")
		}
		if k := mgmt.KindOf(err); k != mgmt.KindUnauthenticated {
			t.Fatalf("kind %v: %v", k, err)
		}
		if len(raw) > 60 && strings.Contains(err.Error(), raw) {
			t.Fatal("the error echoes the token")
		}
	})
}

// FuzzParsePolicy: ParsePolicy never panics, and every error is invalid.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(auth.DefaultPolicySource))
	f.Add([]byte(`{"roles": {"a": ["x:y"]}, "permissions": {"x:y": {"condition": "principal.subject == 'a'"}}}`))
	f.Add([]byte("roles:\n  a: [x:y]\n  a: [x:z]\n"))
	f.Add([]byte("roles: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := auth.ParsePolicy("fuzz", data)
		if err != nil {
			if mgmt.KindOf(err) != mgmt.KindInvalid {
				t.Fatalf("kind %v: %v", mgmt.KindOf(err), err)
			}
			return
		}
		if len(p.Roles()) == 0 {
			t.Fatal("a policy without roles")
		}
	})
}
