// Package authtest is the test helper of package auth, like net/http's
// httptest: an OpenID issuer on a loopback server that mints tokens with
// RS256, ES256 and EdDSA keys, rotates them, and produces hostile tokens;
// and CheckEndpoints, which runs the authentication and tenant-isolation
// checks against any http.Handler that uses auth.Middleware.
//
//	iss := authtest.NewIssuer(t, authtest.Options{Clock: mock})
//	v, err := auth.NewVerifier(ctx, iss.VerifierOptions())
//	tok := iss.Mint(authtest.Claims{Subject: "ana", Tenant: "ARTIST", Roles: []string{"release_manager"}})
//	p, err := v.Verify(ctx, tok)
//
// The issuer also works outside tests: New returns one whose Handler you
// serve yourself, and Options.TokenEndpoint adds POST /token, which mints a
// token for anyone who asks — the examples/dev-issuer binary is built on
// it. Never expose it beyond loopback.
//
// An Issuer is safe for concurrent use. Its discovery document and key set
// count their fetches (DiscoveryFetches, JWKSFetches) so that tests can
// assert how often a verifier refreshes.
package authtest
