package auth_test

import (
	"context"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/auth/authtest"
)

func benchVerify(b *testing.B, alg string) {
	mock := clock.NewMock()
	mock.Set(start)
	iss := authtest.NewIssuer(b, authtest.Options{Clock: mock})
	v, err := auth.NewVerifier(context.Background(), iss.VerifierOptions())
	require.NoError(b, err)
	tok := iss.Mint(authtest.Claims{Subject: "ana", Tenant: "ARTIST", Roles: []string{"release_manager"}, Alg: alg})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyES256 verifies an ES256 token whose key is cached.
func BenchmarkVerifyES256(b *testing.B) { benchVerify(b, "ES256") }

// BenchmarkVerifyRS256 verifies an RS256 (2048-bit) token whose key is
// cached.
func BenchmarkVerifyRS256(b *testing.B) { benchVerify(b, "RS256") }

// BenchmarkVerifyEdDSA verifies an Ed25519 token whose key is cached.
func BenchmarkVerifyEdDSA(b *testing.B) { benchVerify(b, "EdDSA") }

func benchAuthorize(b *testing.B, auditor mgmt.Auditor) {
	a, err := auth.NewAuthorizer(auth.AuthorizerOptions{Auditor: auditor})
	require.NoError(b, err)
	p := &auth.Principal{Subject: "ana", Tenants: []string{"TAX", "ARTIST"}, Roles: []string{"viewer", "release_manager"}}
	res := auth.Resource{Tenant: "ARTIST", Kind: "patch", ID: "784"}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := a.Authorize(ctx, p, "patch:submit", res); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthorize is one allowed decision of the default policy,
// without an auditor.
func BenchmarkAuthorize(b *testing.B) { benchAuthorize(b, nil) }

// BenchmarkAuthorizeAudited is the same decision with an auditor that
// drops events.
func BenchmarkAuthorizeAudited(b *testing.B) { benchAuthorize(b, mgmt.NopAuditor) }
