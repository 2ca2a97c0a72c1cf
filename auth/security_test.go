package auth_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/auth/authtest"
)

// TestSecurityTokens is the hostile-token suite: every row must be refused
// with its specific reason, and no error may echo the token's signature.
func TestSecurityTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ok := authtest.Claims{Subject: "ana", Tenant: "ARTIST", Roles: []string{"release_manager"}}
	with := func(edit func(c *authtest.Claims)) authtest.Claims {
		c := ok
		edit(&c)
		return c
	}
	now := start
	good := e.iss.Mint(ok)

	rows := []struct {
		name   string
		token  string
		reason error
	}{
		{"alg none", e.iss.MintNone(ok), auth.ErrAlgorithm},
		{"alg None", authtest.Raw(map[string]any{"alg": "None"}, e.iss.Payload(ok), nil), auth.ErrAlgorithm},
		{"alg none with a signature", authtest.Raw(map[string]any{"alg": "none", "kid": e.iss.KeyID("RS256")}, e.iss.Payload(ok), []byte("sig")), auth.ErrAlgorithm},
		{"HS256 keyed with the RSA public key PEM", e.iss.MintHMAC(ok, e.iss.RSAPublicKeyPEM()), auth.ErrAlgorithm},
		{"HS256 keyed with the RSA public key DER", e.iss.MintHMAC(ok, e.iss.RSAPublicKeyDER()), auth.ErrAlgorithm},
		{"HS512", authtest.Raw(map[string]any{"alg": "HS512"}, e.iss.Payload(ok), []byte("x")), auth.ErrAlgorithm},
		{"PS256 is not on the allowlist", authtest.Raw(map[string]any{"alg": "PS256", "kid": e.iss.KeyID("RS256")}, e.iss.Payload(ok), []byte("x")), auth.ErrAlgorithm},
		{"alg RS256 with the kid of the EC key", authtest.Raw(map[string]any{"alg": "RS256", "kid": e.iss.KeyID("ES256")}, e.iss.Payload(ok), []byte("x")), auth.ErrAlgorithm},
		{"unknown kid", e.iss.Mint(with(func(c *authtest.Claims) { c.KeyID = "no-such-key" })), auth.ErrUnknownKey},
		{"kid path injection", e.iss.Mint(with(func(c *authtest.Claims) { c.KeyID = "../../etc/passwd" })), auth.ErrUnknownKey},
		{"kid URL injection", e.iss.Mint(with(func(c *authtest.Claims) { c.KeyID = "http://evil/" })), auth.ErrUnknownKey},
		{"kid SQL-ish", e.iss.Mint(with(func(c *authtest.Claims) { c.KeyID = "' OR 1=1 --" })), auth.ErrUnknownKey},
		{"very long kid", e.iss.Mint(with(func(c *authtest.Claims) { c.KeyID = strings.Repeat("k", 5000) })), auth.ErrMalformed},
		{"known kid, foreign key", e.iss.MintForeign(ok), auth.ErrSignature},
		{"expired", e.iss.Mint(with(func(c *authtest.Claims) { c.ExpiresAt = now.Add(-time.Hour) })), auth.ErrExpired},
		{"not yet valid", e.iss.Mint(with(func(c *authtest.Claims) { c.NotBefore = now.Add(time.Hour) })), auth.ErrNotYetValid},
		{"iat in the future beyond skew", e.iss.Mint(with(func(c *authtest.Claims) { c.IssuedAt = now.Add(time.Minute) })), auth.ErrIssuedInFuture},
		{"no exp", e.iss.Mint(with(func(c *authtest.Claims) { c.NoExpiry = true })), auth.ErrMissingClaim},
		{"wrong issuer", e.iss.Mint(with(func(c *authtest.Claims) { c.Issuer = "https://evil.example" })), auth.ErrIssuer},
		{"wrong audience", e.iss.Mint(with(func(c *authtest.Claims) { c.Audience = []string{"other-service"} })), auth.ErrAudience},
		{"no audience", e.iss.Mint(with(func(c *authtest.Claims) { c.Audience = []string{} })), auth.ErrAudience},
		{"tampered payload: role added", authtest.TamperPayload(good, func(m map[string]any) { m["roles"] = []string{"release_manager", "treasury_operator"} }), auth.ErrSignature},
		{"tampered payload: tenant changed", authtest.TamperPayload(good, func(m map[string]any) { m["tenant"] = "OTHER" }), auth.ErrSignature},
		{"tampered signature", authtest.TamperSignature(good), auth.ErrSignature},
		{"RS256 tampered signature", authtest.TamperSignature(e.iss.Mint(with(func(c *authtest.Claims) { c.Alg = "RS256" }))), auth.ErrSignature},
		{"EdDSA tampered signature", authtest.TamperSignature(e.iss.Mint(with(func(c *authtest.Claims) { c.Alg = "EdDSA" }))), auth.ErrSignature},
		{"signature stripped", good[:strings.LastIndexByte(good, '.')+1], auth.ErrSignature},
		{"over 16 KiB", e.iss.Mint(with(func(c *authtest.Claims) { c.Extra = map[string]any{"pad": strings.Repeat("a", 17<<10)} })), auth.ErrTokenTooLarge},
		{"over 16 KiB of garbage", strings.Repeat("x", auth.MaxTokenSize+1), auth.ErrTokenTooLarge},
		{"missing tenant", e.iss.Mint(with(func(c *authtest.Claims) { c.Tenant = "" })), auth.ErrMissingClaim},
		{"empty tenants list", e.iss.Mint(with(func(c *authtest.Claims) { c.Tenant = ""; c.Tenants = []string{} })), auth.ErrMissingClaim},
		{"tenant not a string", e.iss.Mint(with(func(c *authtest.Claims) { c.Extra = map[string]any{"tenant": 7} })), auth.ErrInvalidClaim},
		{"tenant with spaces", e.iss.Mint(with(func(c *authtest.Claims) { c.Tenant = "A B" })), auth.ErrInvalidClaim},
		{"roles not strings", e.iss.Mint(with(func(c *authtest.Claims) { c.Extra = map[string]any{"roles": []any{1, 2}} })), auth.ErrInvalidClaim},
		{"missing sub", e.iss.Mint(with(func(c *authtest.Claims) { c.Extra = map[string]any{"sub": nil} })), auth.ErrMissingClaim},
		{"exp not a number", e.iss.Mint(with(func(c *authtest.Claims) { c.Extra = map[string]any{"exp": "tomorrow"} })), auth.ErrMalformed},
		{"empty", "", auth.ErrMissingToken},
		{"malformed: 2 parts", "eyJhbGciOiJFUzI1NiJ9.e30", auth.ErrMalformed},
		{"malformed: 5 parts (JWE)", "a.b.c.d.e", auth.ErrMalformed},
		{"malformed: bad base64 header", "!!!." + strings.SplitN(good, ".", 2)[1], auth.ErrMalformed},
		{"malformed: header not JSON", authtest.Raw("not json", e.iss.Payload(ok), []byte("x")), auth.ErrMalformed},
		{"malformed: bad base64 payload", strings.SplitN(good, ".", 2)[0] + ".%%%." + "abc", auth.ErrMalformed},
		{"malformed: signed JSON garbage", e.iss.SignPayload("ES256", []byte(`{"sub": "ana", `)), auth.ErrMalformed},
		{"malformed: signed JSON array", e.iss.SignPayload("ES256", []byte(`[1,2,3]`)), auth.ErrMalformed},
		{"malformed: whitespace inside", good[:10] + " " + good[10:], auth.ErrMalformed},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			p, err := e.v.Verify(context.Background(), row.token)
			assert.Nil(t, p)
			requireReason(t, err, row.reason)
			if i := strings.LastIndexByte(row.token, '.'); i >= 0 && len(row.token)-i > 9 {
				assert.NotContains(t, err.Error(), row.token[i+1:], "the error echoes the signature")
			}
			if row.token != "" {
				assert.NotContains(t, err.Error(), row.token)
			}
		})
	}
	// No request ever left for a host named in a token.
	for host := range e.hosts.seen() {
		assert.True(t, strings.HasPrefix(host, "127.0.0.1:"), "contacted %s", host)
	}

	t.Run("the good token verifies", func(t *testing.T) {
		t.Parallel()
		p, err := e.v.Verify(context.Background(), good)
		require.NoError(t, err)
		assert.Equal(t, "ana", p.Subject)
	})
}

// TestUnknownKidRefreshIsRateLimited: N tokens with unknown kids cause at
// most one key set fetch per MinRefreshInterval.
func TestUnknownKidRefreshIsRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	require.Equal(t, 1, e.iss.JWKSFetches(), "the key set is fetched at construction")
	require.Equal(t, 1, e.iss.DiscoveryFetches())

	storm := func(n int) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				tok := e.iss.Mint(authtest.Claims{Tenant: "A", KeyID: "bogus-" + string(rune('a'+i%26)) + strings.Repeat("x", i)})
				_, err := e.v.Verify(context.Background(), tok)
				requireReason(t, err, auth.ErrUnknownKey)
			})
		}
		wg.Wait()
	}
	storm(50)
	assert.Equal(t, 1, e.iss.JWKSFetches(), "within MinRefreshInterval of the last fetch: no fetch")

	e.clock.Add(auth.DefaultMinRefreshInterval)
	storm(50)
	assert.Equal(t, 2, e.iss.JWKSFetches(), "one fetch for the whole storm")

	e.clock.Add(auth.DefaultMinRefreshInterval - time.Second)
	storm(50)
	assert.Equal(t, 2, e.iss.JWKSFetches())

	e.clock.Add(time.Second)
	storm(50)
	assert.Equal(t, 3, e.iss.JWKSFetches())
	assert.Equal(t, 1, e.iss.DiscoveryFetches(), "discovery is read once")
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	claims := authtest.Claims{Subject: "ana", Tenant: "ARTIST"}

	t.Run("a token of a new key verifies without a restart", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		require.NoError(t, e.iss.Rotate())
		tok := e.iss.Mint(claims)
		_, err := e.v.Verify(ctx, tok)
		requireReason(t, err, auth.ErrUnknownKey) // the last fetch is too recent
		e.clock.Add(auth.DefaultMinRefreshInterval)
		p, err := e.v.Verify(ctx, tok)
		require.NoError(t, err)
		assert.Equal(t, "ana", p.Subject)
		assert.Equal(t, 2, e.iss.JWKSFetches())
	})

	t.Run("a token of a removed key fails after the periodic refresh", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
			old := e.iss.Mint(authtest.Claims{Subject: "ana", Tenant: "ARTIST", Alg: alg, TTL: 3 * time.Hour})
			require.NoError(t, e.iss.Rotate())
			_, err := e.v.Verify(ctx, old)
			require.NoError(t, err, "%s: the cached key still verifies", alg)

			e.clock.Add(auth.DefaultRefreshInterval - time.Second)
			_, err = e.v.Verify(ctx, old)
			require.NoError(t, err, "%s: not refreshed yet", alg)

			e.clock.Add(time.Second)
			_, err = e.v.Verify(ctx, old)
			requireReason(t, err, auth.ErrUnknownKey)
			_, err = e.v.Verify(ctx, e.iss.Mint(authtest.Claims{Subject: "ana", Tenant: "ARTIST", Alg: alg}))
			require.NoError(t, err, "%s: the new key verifies", alg)
		}
	})

	t.Run("keys stay when the key set is down", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.iss.SetJWKSDown(true)
		e.clock.Add(auth.DefaultRefreshInterval)
		_, err := e.v.Verify(ctx, e.iss.Mint(claims))
		require.NoError(t, err)
		assert.Equal(t, 2, e.iss.JWKSFetches(), "the refresh was tried")
		e.iss.SetJWKSDown(false)
		e.clock.Add(auth.DefaultMinRefreshInterval)
		require.NoError(t, e.v.Refresh(ctx))
		assert.Equal(t, 3, e.iss.JWKSFetches())
	})
}

// TestSkewEdges checks exp, nbf and iat at the edges of the skew.
func TestSkewEdges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const skew = auth.DefaultClockSkew
	now := start
	rows := []struct {
		name   string
		c      authtest.Claims
		reason error // nil: valid
	}{
		{"exp now", authtest.Claims{ExpiresAt: now}, nil},
		{"exp skew-1s ago", authtest.Claims{ExpiresAt: now.Add(-skew + time.Second), IssuedAt: now.Add(-time.Hour)}, nil},
		{"exp skew ago", authtest.Claims{ExpiresAt: now.Add(-skew), IssuedAt: now.Add(-time.Hour)}, auth.ErrExpired},
		{"nbf in skew", authtest.Claims{NotBefore: now.Add(skew)}, nil},
		{"nbf beyond skew", authtest.Claims{NotBefore: now.Add(skew + time.Second)}, auth.ErrNotYetValid},
		{"iat in skew", authtest.Claims{IssuedAt: now.Add(skew)}, nil},
		{"iat beyond skew", authtest.Claims{IssuedAt: now.Add(skew + time.Second)}, auth.ErrIssuedInFuture},
		{"no iat", authtest.Claims{NoIssuedAt: true}, nil},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			row.c.Tenant = "A"
			_, err := e.v.Verify(context.Background(), e.iss.Mint(row.c))
			if row.reason == nil {
				require.NoError(t, err)
				return
			}
			requireReason(t, err, row.reason)
		})
	}
}

func TestSkewFollowsTheClock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *auth.VerifierOptions) { o.ClockSkew = 5 * time.Second })
	tok := e.iss.Mint(authtest.Claims{Tenant: "A", TTL: time.Minute})
	ctx := context.Background()
	e.clock.Add(time.Minute + 4*time.Second)
	_, err := e.v.Verify(ctx, tok)
	require.NoError(t, err)
	e.clock.Add(time.Second)
	_, err = e.v.Verify(ctx, tok)
	requireReason(t, err, auth.ErrExpired)
	assert.Contains(t, err.Error(), "skew 5s")
}

// TestAuthorizationSecurity: a valid token acting outside its permission
// or its tenant is denied with the specific reason.
func TestAuthorizationSecurity(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a, err := auth.NewAuthorizer(auth.AuthorizerOptions{Clock: e.clock})
	require.NoError(t, err)
	verify := func(c authtest.Claims) *auth.Principal {
		p, err := e.v.Verify(ctx, e.iss.Mint(c))
		require.NoError(t, err)
		return p
	}
	viewerA := verify(authtest.Claims{Subject: "vic", Tenant: "A", Roles: []string{"viewer"}})
	rmA := verify(authtest.Claims{Subject: "rita", Tenant: "A", Roles: []string{"release_manager"}})
	wildcard := verify(authtest.Claims{Subject: "eve", Tenant: "*", Roles: []string{"release_manager"}})

	rows := []struct {
		name   string
		p      *auth.Principal
		perm   string
		tenant string
		reason error
	}{
		{"viewer may not submit a patch", viewerA, "patch:submit", "A", auth.ErrNoPermission},
		{"release manager may not transfer", rmA, "ledger:transfer", "A", auth.ErrNoPermission},
		{"tenant A on tenant B's resource", rmA, "patch:submit", "B", auth.ErrWrongTenant},
		{"tenant A reading tenant B", viewerA, "patch:read", "B", auth.ErrWrongTenant},
		{"tenant * without an all-tenants role", wildcard, "patch:submit", "A", auth.ErrWrongTenant},
		{"unknown permission", rmA, "patch:destroy", "A", auth.ErrNoPermission},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			err := a.Authorize(ctx, row.p, row.perm, auth.Resource{Tenant: row.tenant, Kind: "patch", ID: "1"})
			require.ErrorIs(t, err, row.reason)
			require.ErrorIs(t, err, mgmt.ErrForbidden)
		})
	}
	require.NoError(t, a.Authorize(ctx, rmA, "patch:submit", auth.Resource{Tenant: "A"}))
	require.NoError(t, a.Authorize(ctx, viewerA, "patch:read", auth.Resource{Tenant: "A"}))
}

func TestVerifyHonoursContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.clock.Add(auth.DefaultMinRefreshInterval)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before := e.iss.JWKSFetches()
	_, err := e.v.Verify(ctx, e.iss.Mint(authtest.Claims{Tenant: "A", KeyID: "new"}))
	requireReason(t, err, auth.ErrUnknownKey)
	assert.Equal(t, before, e.iss.JWKSFetches(), "a cancelled context fetches nothing")
	assert.False(t, errors.Is(err, context.Canceled))
}
