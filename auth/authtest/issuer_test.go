package authtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/auth/authtest"
)

func TestIssuerServesDiscoveryAndJWKS(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t, authtest.Options{})
	resp, err := iss.Client().Get(iss.URL + authtest.DiscoveryPath)
	require.NoError(t, err)
	defer resp.Body.Close()
	var doc map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	assert.Equal(t, iss.URL, doc["issuer"])
	assert.Equal(t, iss.URL+authtest.JWKSPath, doc["jwks_uri"])
	assert.Equal(t, 1, iss.DiscoveryFetches())

	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(iss.JWKS(), &set))
	require.Len(t, set.Keys, 3)
	for _, k := range set.Keys {
		assert.NotContains(t, k, "d", "no private part")
		assert.Equal(t, "sig", k["use"])
	}
	old := iss.KeyID("ES256")
	require.NoError(t, iss.Rotate())
	assert.NotEqual(t, old, iss.KeyID("ES256"))
	assert.NotContains(t, string(iss.JWKS()), `"`+old+`"`)
}

func TestTokenEndpointOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t, authtest.Options{})
	resp, err := iss.Client().Post(iss.URL+authtest.TokenPath, "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.NotEqual(t, http.StatusOK, resp.StatusCode)
}

func TestMintDefaults(t *testing.T) {
	t.Parallel()
	mock := clock.NewMock()
	mock.Set(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	iss := authtest.NewIssuer(t, authtest.Options{Clock: mock, Audience: "svc", TTL: 5 * time.Minute})
	m := iss.Payload(authtest.Claims{Tenant: "A"})
	assert.Equal(t, "user-1", m["sub"])
	assert.Equal(t, iss.URL, m["iss"])
	assert.Equal(t, []string{"svc"}, m["aud"])
	assert.NotContains(t, m, "nbf")
	assert.NotContains(t, m, "roles")

	v, err := auth.NewVerifier(context.Background(), iss.VerifierOptions())
	require.NoError(t, err)
	p, err := v.Verify(context.Background(), iss.Mint(authtest.Claims{Tenant: "A"}))
	require.NoError(t, err)
	assert.Equal(t, mock.Now().Add(5*time.Minute), p.ExpiresAt.UTC())
}

func TestTryMintUnknownAlg(t *testing.T) {
	t.Parallel()
	iss, err := authtest.New(authtest.Options{URL: "http://127.0.0.1:1"})
	require.NoError(t, err)
	_, err = iss.TryMint(authtest.Claims{Alg: "HS256"})
	require.Error(t, err)
	assert.Panics(t, func() { iss.Mint(authtest.Claims{Alg: "PS256"}) })
}

func ExampleIssuer_Mint() {
	iss, err := authtest.Start(authtest.Options{})
	if err != nil {
		panic(err)
	}
	defer iss.Close()
	v, err := auth.NewVerifier(context.Background(), iss.VerifierOptions())
	if err != nil {
		panic(err)
	}
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		p, err := v.Verify(context.Background(), iss.Mint(authtest.Claims{Subject: "ana", Tenant: "ARTIST", Alg: alg}))
		fmt.Println(alg, p.Subject, p.Tenants, err)
	}
	_, err = v.Verify(context.Background(), iss.MintNone(authtest.Claims{Subject: "ana", Tenant: "ARTIST"}))
	fmt.Println(auth.ReasonOf(err))
	// Output:
	// RS256 ana [ARTIST] <nil>
	// ES256 ana [ARTIST] <nil>
	// EdDSA ana [ARTIST] <nil>
	// algorithm
}
