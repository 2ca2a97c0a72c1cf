package auth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/auth/authtest"
)

func TestVerifierOptionErrors(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t, authtest.Options{})
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	rows := []struct {
		name  string
		edit  func(o *auth.VerifierOptions)
		kind  error
		field string
	}{
		{"no issuer", func(o *auth.VerifierOptions) { o.Issuer = "" }, mgmt.ErrInvalid, "Issuer"},
		{"http issuer off loopback", func(o *auth.VerifierOptions) { o.Issuer = "http://sso.example.gov" }, mgmt.ErrInvalid, "Issuer"},
		{"relative issuer", func(o *auth.VerifierOptions) { o.Issuer = "/realms/hms" }, mgmt.ErrInvalid, "Issuer"},
		{"ftp issuer", func(o *auth.VerifierOptions) { o.Issuer = "ftp://127.0.0.1/" }, mgmt.ErrInvalid, "Issuer"},
		{"no audience", func(o *auth.VerifierOptions) { o.Audience = nil }, mgmt.ErrInvalid, "Audience"},
		{"blank audience", func(o *auth.VerifierOptions) { o.Audience = []string{"hms", " "} }, mgmt.ErrInvalid, "Audience[1]"},
		{"HS256", func(o *auth.VerifierOptions) { o.Algorithms = []string{"ES256", "HS256"} }, mgmt.ErrInvalid, "Algorithms[1]"},
		{"none", func(o *auth.VerifierOptions) { o.Algorithms = []string{"none"} }, mgmt.ErrInvalid, "Algorithms[0]"},
		{"negative skew", func(o *auth.VerifierOptions) { o.ClockSkew = -time.Second }, mgmt.ErrInvalid, "ClockSkew"},
		{"huge skew", func(o *auth.VerifierOptions) { o.ClockSkew = time.Hour }, mgmt.ErrInvalid, "ClockSkew"},
		{"negative min refresh", func(o *auth.VerifierOptions) { o.MinRefreshInterval = -time.Second }, mgmt.ErrInvalid, "MinRefreshInterval"},
		{"refresh below min", func(o *auth.VerifierOptions) { o.RefreshInterval = time.Second }, mgmt.ErrInvalid, "RefreshInterval"},
		{"bad JWKS URL", func(o *auth.VerifierOptions) { o.JWKSURL = "http://keys.example.gov/jwks" }, mgmt.ErrInvalid, "JWKSURL"},
		{"garbage JWKS", func(o *auth.VerifierOptions) { o.JWKS = []byte("{") }, mgmt.ErrInvalid, "JWKS"},
		{"JWKS without a usable key", func(o *auth.VerifierOptions) { o.JWKS = []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`) }, mgmt.ErrInvalid, "JWKS"},
		{"short RSA key", func(o *auth.VerifierOptions) { o.PublicKeys = []crypto.PublicKey{&small.PublicKey} }, mgmt.ErrInvalid, "PublicKeys[0]"},
		{"P-384 key", func(o *auth.VerifierOptions) {
			o.PublicKeys = []crypto.PublicKey{iss.PublicKey("ES256"), &p384.PublicKey}
		}, mgmt.ErrInvalid, "PublicKeys[1]"},
		{"a private key", func(o *auth.VerifierOptions) { o.PublicKeys = []crypto.PublicKey{small} }, mgmt.ErrInvalid, "PublicKeys[0]"},
		{"roles expression", func(o *auth.VerifierOptions) { o.Claims.RolesExpr = "claims.roles +" }, mgmt.ErrInvalid, "Claims.RolesExpr"},
		{"roles expression type", func(o *auth.VerifierOptions) { o.Claims.RolesExpr = "size(claims)" }, mgmt.ErrInvalid, "Claims.RolesExpr"},
		{"tenants expression", func(o *auth.VerifierOptions) { o.Claims.TenantsExpr = "[1, 2]" }, mgmt.ErrInvalid, "Claims.TenantsExpr"},
		{"issuer down", func(o *auth.VerifierOptions) { o.Issuer = "http://127.0.0.1:1" }, mgmt.ErrUnavailable, ""},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			o := iss.VerifierOptions()
			row.edit(&o)
			v, err := auth.NewVerifier(context.Background(), o)
			require.Nil(t, v)
			require.ErrorIs(t, err, row.kind, "%v", err)
			assert.Equal(t, row.field, mgmt.FieldOf(err), "%v", err)
		})
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"issuer": "https://evil.example", "jwks_uri": "https://evil.example/jwks"}`))
	}))
	t.Cleanup(srv.Close)
	_, err := auth.NewVerifier(context.Background(), auth.VerifierOptions{Issuer: srv.URL, Audience: []string{"hms"}})
	require.ErrorIs(t, err, mgmt.ErrUnavailable)
	assert.Contains(t, err.Error(), `names issuer "https://evil.example"`)
}

func TestStaticKeys(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t, authtest.Options{})
	ctx := context.Background()

	t.Run("JWKS", func(t *testing.T) {
		t.Parallel()
		v, err := auth.NewVerifier(ctx, auth.VerifierOptions{Issuer: iss.URL, Audience: []string{iss.Audience}, JWKS: iss.JWKS()})
		require.NoError(t, err)
		assert.Empty(t, v.JWKSURL())
		for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
			_, err = v.Verify(ctx, iss.Mint(authtest.Claims{Tenant: "A", Alg: alg}))
			require.NoError(t, err, alg)
		}
		_, err = v.Verify(ctx, iss.Mint(authtest.Claims{Tenant: "A", KeyID: "other"}))
		requireReason(t, err, auth.ErrUnknownKey)
	})
	t.Run("public keys", func(t *testing.T) {
		t.Parallel()
		v, err := auth.NewVerifier(ctx, auth.VerifierOptions{
			Issuer: iss.URL, Audience: []string{iss.Audience},
			PublicKeys: []crypto.PublicKey{iss.PublicKey("ES256"), iss.PublicKey("EdDSA")},
		})
		require.NoError(t, err)
		_, err = v.Verify(ctx, iss.Mint(authtest.Claims{Tenant: "A", KeyID: "-"}))
		require.NoError(t, err, "a token without kid tries the keys of its alg")
		_, err = v.Verify(ctx, iss.Mint(authtest.Claims{Tenant: "A", KeyID: "-", Alg: "EdDSA"}))
		require.NoError(t, err)
		_, err = v.Verify(ctx, iss.Mint(authtest.Claims{Tenant: "A", KeyID: "-", Alg: "RS256"}))
		requireReason(t, err, auth.ErrUnknownKey)
	})
	t.Run("algorithm subset", func(t *testing.T) {
		t.Parallel()
		v, err := auth.NewVerifier(ctx, auth.VerifierOptions{Issuer: iss.URL, Audience: []string{iss.Audience}, JWKS: iss.JWKS(), Algorithms: []string{"EdDSA"}})
		require.NoError(t, err)
		_, err = v.Verify(ctx, iss.Mint(authtest.Claims{Tenant: "A", Alg: "ES256"}))
		requireReason(t, err, auth.ErrAlgorithm)
		assert.Contains(t, err.Error(), "allowed: EdDSA")
	})
	assert.Zero(t, iss.JWKSFetches(), "static keys are never fetched")
}

func TestClaimMapping(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rows := []struct {
		name    string
		mapping auth.ClaimMapping
		c       authtest.Claims
		sub     string
		tenants []string
		roles   []string
		reason  error
	}{
		{"defaults", auth.ClaimMapping{}, authtest.Claims{Subject: "ana", Tenant: "A", Roles: []string{"viewer"}}, "ana", []string{"A"}, []string{"viewer"}, nil},
		{"tenants list", auth.ClaimMapping{}, authtest.Claims{Subject: "ana", Tenants: []string{"A", "B"}}, "ana", []string{"A", "B"}, nil, nil},
		{"role as a string", auth.ClaimMapping{}, authtest.Claims{Tenant: "A", Extra: map[string]any{"roles": "viewer"}}, "user-1", []string{"A"}, []string{"viewer"}, nil},
		{"custom names", auth.ClaimMapping{Subject: "email", Tenants: "agency", Roles: "https://hms.gov/roles"},
			authtest.Claims{Extra: map[string]any{"email": "ana@x.gov", "agency": []string{"NEA"}, "https://hms.gov/roles": []string{"viewer"}}},
			"ana@x.gov", []string{"NEA"}, []string{"viewer"}, nil},
		{"dotted path", auth.ClaimMapping{Roles: "realm_access.roles"},
			authtest.Claims{Tenant: "A", Extra: map[string]any{"realm_access": map[string]any{"roles": []string{"viewer", "offline"}}}},
			"user-1", []string{"A"}, []string{"viewer", "offline"}, nil},
		{"CEL roles", auth.ClaimMapping{RolesExpr: `claims.groups.filter(g, g.startsWith("hms_")).map(g, g.substring(4))`},
			authtest.Claims{Tenant: "A", Extra: map[string]any{"groups": []string{"hms_viewer", "staff", "hms_budget_officer"}}},
			"user-1", []string{"A"}, []string{"viewer", "budget_officer"}, nil},
		{"CEL tenants", auth.ClaimMapping{TenantsExpr: `[claims.org.upperAscii()]`},
			authtest.Claims{Extra: map[string]any{"org": "artist"}}, "user-1", []string{"ARTIST"}, nil, nil},
		{"CEL roles fail closed", auth.ClaimMapping{RolesExpr: `claims.groups`},
			authtest.Claims{Tenant: "A"}, "", nil, nil, auth.ErrInvalidClaim},
		{"custom tenant claim missing", auth.ClaimMapping{Tenants: "agency"}, authtest.Claims{Tenant: "A"}, "", nil, nil, auth.ErrMissingClaim},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(o *auth.VerifierOptions) { o.Claims = row.mapping })
			p, err := e.v.Verify(ctx, e.iss.Mint(row.c))
			if row.reason != nil {
				requireReason(t, err, row.reason)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, row.sub, p.Subject)
			assert.Equal(t, row.tenants, p.Tenants)
			assert.Equal(t, row.roles, p.Roles)
			assert.Equal(t, e.iss.URL, p.Issuer)
			assert.Equal(t, start.Add(time.Hour), p.ExpiresAt.UTC())
			assert.NotEmpty(t, p.Claims)
		})
	}
}

func TestReasonOf(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "expired", auth.ReasonOf(auth.ErrExpired))
	assert.Equal(t, "forbidden", auth.ReasonOf(mgmt.ErrForbidden))
	assert.Equal(t, "invalid", auth.ReasonOf(mgmt.Invalid("x", "y")))
	assert.Equal(t, "unavailable", auth.ReasonOf(context.Canceled))
	assert.Equal(t, "error", auth.ReasonOf(errors.New("boom")))
}
