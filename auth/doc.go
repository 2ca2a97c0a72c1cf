// Package auth verifies the JWTs of the central OAuth2/SSO issuer, turns
// them into Principals (subject, tenants, roles), decides what a principal
// may do on which tenant's resources, and wires both into net/http.
//
// # Verification
//
// A Verifier accepts only RS256, ES256 and EdDSA signatures — never
// "none", never HMAC, whatever the token's header says — and checks iss,
// aud, exp (required), nbf and iat against its clock with a small skew
// (DefaultClockSkew, 30 s): a token is valid while now < exp + skew, from
// nbf - skew on, and refused when iat > now + skew. Tokens over
// MaxTokenSize (16 KiB) are refused before any decoding. The kid header is
// only ever a key into the cached key set: never a path or a URL.
//
// Keys come from the issuer's OpenID discovery document (jwks_uri), fetched
// when the Verifier is built, or from a JWKS URL, or from static keys. The
// key set is cached and refetched on the path of Verify: when a token names
// an unknown kid — at most once per MinRefreshInterval (10 s) however many
// such tokens arrive — and when it is older than RefreshInterval (1 h), so
// that new keys verify without a restart and removed keys stop verifying.
// If a refetch fails the cached keys stay. No goroutine runs in the
// background; there is nothing to close.
//
// Every refusal is an *mgmt.Error of kind mgmt.KindUnauthenticated (HTTP
// 401) wrapping one reason — ErrAlgorithm, ErrUnknownKey, ErrSignature,
// ErrExpired, ErrNotYetValid, ErrIssuedInFuture, ErrIssuer, ErrAudience,
// ErrTokenTooLarge, ErrMalformed, ErrMissingClaim, ErrInvalidClaim — that
// errors.Is finds and ReasonOf names. No error, log record or audit event
// contains the token or its signature.
//
// # Principals
//
// ClaimMapping says which claims hold the subject ("sub"), the tenants
// ("tenant" or "tenants", a string or a list; a token without a tenant is
// refused) and the roles ("roles"), or computes tenants and roles with CEL
// expressions over the claims, compiled once when the Verifier is built.
//
// # Authorization
//
// A Policy maps roles to "kind:verb" permissions. DefaultPolicy is
// DefaultPolicySource; LoadPolicy reads the same format from YAML or JSON,
// strictly, and its errors name the offending field. A permission may carry
// a CEL condition over principal, resource and permission (for example
// resource.attributes.service.startsWith("ARTIST")), and may be declared
// tenant-less. Authorizer.Authorize allows an action when a role of the
// principal grants the permission, the resource's tenant is one of the
// principal's, and the condition holds. The tenant "*" in a token stands for
// every tenant only for principals holding a role of the policy's
// allTenantsRoles. Every decision is sent to the mgmt.Auditor as an
// "authz.decide" event. A decision without a condition takes about 0.1 µs
// and allocates nothing.
//
// # HTTP
//
// Middleware authenticates each request's "Authorization: Bearer" token,
// answers 401 with an RFC 6750 WWW-Authenticate challenge and a JSON error
// body (internal/httperr) when it is missing or refused, audits refusals as
// "authn.verify" events, and puts the Principal in the request's context
// (FromContext). Handlers call Authorizer.Check, or wrap themselves in
// Authorizer.Require, which answer 403 on a denial.
//
//	v, err := auth.NewVerifier(ctx, auth.VerifierOptions{
//		Issuer:   "https://sso.example.gov/realms/hms",
//		Audience: []string{"hms-mgt"},
//	})
//	authz, err := auth.NewAuthorizer(auth.AuthorizerOptions{Auditor: auditor})
//	mux.HandleFunc("POST /tenants/{tenant}/patches", func(w http.ResponseWriter, r *http.Request) {
//		if !authz.Check(w, r, "patch:submit", auth.Resource{Tenant: r.PathValue("tenant"), Kind: "patch"}) {
//			return
//		}
//		…
//	})
//	http.ListenAndServe(addr, auth.Middleware(v, auth.MiddlewareOptions{Auditor: auditor})(mux))
//
// The package authtest provides an issuer for tests and development, the
// hostile tokens of the security suite, and CheckEndpoints, which runs the
// cross-tenant and missing-permission checks against any host.
//
// # Concurrency
//
// Verifier, Policy and Authorizer are safe for concurrent use by any number
// of goroutines; build them once and share them. A Principal must not be
// modified once shared.
package auth
