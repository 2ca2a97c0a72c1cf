package auth

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/hms-platform/mgmt"
)

// MaxTokenSize is the largest token Verify parses: 16 KiB. Larger tokens
// are refused before any decoding.
const MaxTokenSize = 16 << 10

// maxKeyIDLen bounds the kid header; longer ones are malformed.
const maxKeyIDLen = 256

// The signature algorithms a Verifier can accept. Every other algorithm —
// "none", the HMAC family HS256/384/512, PS*, RS384/512, ES384/512 — is
// refused whatever the options say.
const (
	RS256 = "RS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// Defaults of VerifierOptions.
const (
	DefaultClockSkew          = 30 * time.Second
	DefaultMinRefreshInterval = 10 * time.Second
	DefaultRefreshInterval    = time.Hour
	DefaultHTTPTimeout        = 10 * time.Second
	// MaxClockSkew bounds VerifierOptions.ClockSkew.
	MaxClockSkew = 5 * time.Minute
)

var allowedAlgs = map[string]jose.SignatureAlgorithm{
	RS256: jose.RS256,
	ES256: jose.ES256,
	EdDSA: jose.EdDSA,
}

// VerifierOptions configures a Verifier. Issuer and Audience are required.
// Keys come from exactly one source: the static JWKS and/or PublicKeys when
// either is set; otherwise JWKSURL when set; otherwise the issuer's OpenID
// discovery document (Issuer + "/.well-known/openid-configuration").
type VerifierOptions struct {
	// Issuer is the exact "iss" every token must carry, such as
	// "https://sso.example.gov/realms/hms". With discovery it is also where
	// the discovery document is fetched from. It must be an https URL, or
	// an http URL on a loopback host (127.0.0.1, ::1, localhost).
	Issuer string

	// Audience lists the accepted "aud" values; a token must name at least
	// one of them.
	Audience []string

	// Algorithms restricts the accepted signature algorithms to a subset of
	// RS256, ES256 and EdDSA. Empty means all three.
	Algorithms []string

	// ClockSkew is the tolerance applied to exp, nbf and iat. Zero means
	// DefaultClockSkew; it must be between 0 and MaxClockSkew.
	ClockSkew time.Duration

	// Clock is the time source; nil means the real clock.
	Clock clock.Clock

	// HTTPClient fetches the discovery document and the key set. Nil means
	// a client with a DefaultHTTPTimeout timeout.
	HTTPClient *http.Client

	// JWKSURL is the key set's URL, skipping discovery. Same scheme rule as
	// Issuer.
	JWKSURL string

	// JWKS is a static JSON Web Key Set document ({"keys": [...]}). No key
	// is ever fetched when JWKS or PublicKeys is set.
	JWKS []byte

	// PublicKeys are static keys: *rsa.PublicKey (2048 bits or more),
	// *ecdsa.PublicKey on P-256 or ed25519.PublicKey. Each gets its RFC 7638
	// thumbprint (base64url SHA-256) as key id.
	PublicKeys []crypto.PublicKey

	// MinRefreshInterval is the least time between two fetches of the key
	// set, whatever the number of tokens with an unknown kid. Zero means
	// DefaultMinRefreshInterval.
	MinRefreshInterval time.Duration

	// RefreshInterval is how old a fetched key set may get before the next
	// Verify refetches it, so that removed keys stop verifying. Zero means
	// DefaultRefreshInterval; it must not be below MinRefreshInterval.
	RefreshInterval time.Duration

	// Claims maps token claims to the Principal.
	Claims ClaimMapping
}

// Verifier verifies JWTs and turns them into Principals. It is safe for
// concurrent use. It starts no goroutine: the key set is refetched on the
// path of a Verify call — when a token names an unknown kid (at most once
// per MinRefreshInterval) or when the set is older than RefreshInterval —
// and only one caller fetches at a time.
type Verifier struct {
	issuer    string
	audience  []string
	algs      []jose.SignatureAlgorithm
	algNames  string
	skew      time.Duration
	clock     clock.Clock
	client    *http.Client
	jwksURL   string // "" for static keys
	minRefr   time.Duration
	refresh   time.Duration
	mapping   *mapping
	keys      atomic.Pointer[keySet]
	fetchMu   sync.Mutex // serializes fetches and guards the fields below
	lastTry   time.Time  // start of the last fetch attempt
	lastFetch atomic.Int64
}

// NewVerifier validates opts and loads the keys: the static ones, or the
// discovery document and the key set, fetched with ctx. It fails if the
// keys cannot be loaded (kind mgmt.KindUnavailable) or an option is wrong
// (mgmt.KindInvalid, naming the option).
func NewVerifier(ctx context.Context, opts VerifierOptions) (*Verifier, error) {
	v := &Verifier{
		skew:    opts.ClockSkew,
		clock:   opts.Clock,
		client:  opts.HTTPClient,
		minRefr: opts.MinRefreshInterval,
		refresh: opts.RefreshInterval,
	}
	if err := checkURL("Issuer", opts.Issuer); err != nil {
		return nil, err
	}
	v.issuer = opts.Issuer
	if len(opts.Audience) == 0 {
		return nil, mgmt.Invalid("Audience", "is required: list the audiences this service accepts")
	}
	for i, a := range opts.Audience {
		if strings.TrimSpace(a) == "" {
			return nil, mgmt.Invalid(fmt.Sprintf("Audience[%d]", i), "is empty")
		}
	}
	v.audience = append([]string(nil), opts.Audience...)
	names := opts.Algorithms
	if len(names) == 0 {
		names = []string{RS256, ES256, EdDSA}
	}
	seen := map[string]bool{}
	for i, n := range names {
		a, ok := allowedAlgs[n]
		if !ok {
			return nil, mgmt.Invalid(fmt.Sprintf("Algorithms[%d]", i), "%q is not allowed; use RS256, ES256 or EdDSA", n)
		}
		if !seen[n] {
			seen[n] = true
			v.algs = append(v.algs, a)
		}
	}
	v.algNames = strings.Join(names, ", ")
	switch {
	case v.skew == 0:
		v.skew = DefaultClockSkew
	case v.skew < 0 || v.skew > MaxClockSkew:
		return nil, mgmt.Invalid("ClockSkew", "%s is outside 0s..%s", v.skew, MaxClockSkew)
	}
	if v.clock == nil {
		v.clock = clock.New()
	}
	if v.client == nil {
		v.client = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	switch {
	case v.minRefr == 0:
		v.minRefr = DefaultMinRefreshInterval
	case v.minRefr < 0:
		return nil, mgmt.Invalid("MinRefreshInterval", "%s is negative", v.minRefr)
	}
	switch {
	case v.refresh == 0:
		v.refresh = DefaultRefreshInterval
	case v.refresh < v.minRefr:
		return nil, mgmt.Invalid("RefreshInterval", "%s is below MinRefreshInterval %s", v.refresh, v.minRefr)
	}
	m, err := newMapping(opts.Claims)
	if err != nil {
		return nil, err
	}
	v.mapping = m

	if len(opts.JWKS) > 0 || len(opts.PublicKeys) > 0 {
		ks, err := staticKeys(opts.JWKS, opts.PublicKeys, seen)
		if err != nil {
			return nil, err
		}
		v.keys.Store(ks)
		return v, nil
	}
	if opts.JWKSURL != "" {
		if err := checkURL("JWKSURL", opts.JWKSURL); err != nil {
			return nil, err
		}
		v.jwksURL = opts.JWKSURL
	} else {
		u, err := v.discover(ctx)
		if err != nil {
			return nil, err
		}
		v.jwksURL = u
	}
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	if err := v.fetchLocked(ctx); err != nil {
		return nil, err
	}
	return v, nil
}

// Issuer returns the issuer tokens must name.
func (v *Verifier) Issuer() string { return v.issuer }

// JWKSURL returns the URL keys are fetched from, or "" for static keys.
func (v *Verifier) JWKSURL() string { return v.jwksURL }

// Refresh fetches the key set now, subject to MinRefreshInterval like an
// unknown kid: it returns nil without fetching when the last fetch attempt
// is more recent. It is a no-op for static keys.
func (v *Verifier) Refresh(ctx context.Context) error {
	if v.jwksURL == "" {
		return nil
	}
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	if !v.lastTry.IsZero() && v.clock.Now().Sub(v.lastTry) < v.minRefr {
		return nil
	}
	return v.fetchLocked(ctx)
}

// header is the part of the JOSE header read before verification.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// Verify checks raw — a compact JWS, without the "Bearer " prefix — and
// returns its principal. Errors are *mgmt.Error of kind
// mgmt.KindUnauthenticated wrapping one of the Err* reasons of this package
// (errors.Is(err, auth.ErrExpired)); their messages never contain the
// token or its signature.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Principal, error) {
	if raw == "" {
		return nil, unauthenticated(ErrMissingToken, "the token is empty")
	}
	if len(raw) > MaxTokenSize {
		return nil, unauthenticated(ErrTokenTooLarge, "%d bytes is over the limit of %d", len(raw), MaxTokenSize)
	}
	if strings.Count(raw, ".") != 2 {
		return nil, unauthenticated(ErrMalformed, "want 3 dot-separated parts (a compact JWS)")
	}
	h, err := parseHeader(raw[:strings.IndexByte(raw, '.')])
	if err != nil {
		return nil, err
	}
	alg, ok := allowedAlgs[h.Alg]
	if !ok || !v.allows(alg) {
		return nil, unauthenticated(ErrAlgorithm, "alg %s is not allowed; allowed: %s", quoteShort(h.Alg), v.algNames)
	}
	if len(h.Kid) > maxKeyIDLen {
		return nil, unauthenticated(ErrMalformed, "kid is longer than %d bytes", maxKeyIDLen)
	}
	jws, err := jose.ParseSignedCompact(raw, v.algs)
	if err != nil {
		return nil, unauthenticated(ErrMalformed, "cannot parse the JWS")
	}
	if len(jws.Signatures) != 1 {
		return nil, unauthenticated(ErrMalformed, "want exactly one signature")
	}

	now := v.clock.Now()
	v.maybeRefresh(ctx, now)
	keys, err := v.candidates(ctx, h.Kid, alg)
	if err != nil {
		return nil, err
	}
	var payload []byte
	for _, k := range keys {
		if payload, err = jws.Verify(k.Key); err == nil {
			break
		}
	}
	if payload == nil {
		return nil, unauthenticated(ErrSignature, "the signature does not match the key")
	}

	var std jwt.Claims
	if err := json.Unmarshal(payload, &std); err != nil {
		return nil, unauthenticated(ErrMalformed, "registered claims are not valid: %s", jsonProblem(err))
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil || claims == nil {
		return nil, unauthenticated(ErrMalformed, "the payload is not a JSON object")
	}
	if err := v.checkClaims(&std, now); err != nil {
		return nil, err
	}
	return v.mapping.principal(ctx, now, &std, claims)
}

func (v *Verifier) allows(a jose.SignatureAlgorithm) bool {
	for _, x := range v.algs {
		if x == a {
			return true
		}
	}
	return false
}

func parseHeader(seg string) (header, error) {
	var h header
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return h, unauthenticated(ErrMalformed, "the header is not base64url")
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return h, unauthenticated(ErrMalformed, "the header is not a JSON object with string alg and kid")
	}
	return h, nil
}

func (v *Verifier) checkClaims(c *jwt.Claims, now time.Time) error {
	if c.Issuer != v.issuer {
		return unauthenticated(ErrIssuer, "iss %s is not %q", quoteShort(c.Issuer), v.issuer)
	}
	okAud := false
	for _, a := range v.audience {
		if c.Audience.Contains(a) {
			okAud = true
			break
		}
	}
	if !okAud {
		return unauthenticated(ErrAudience, "aud does not name any of %q", v.audience)
	}
	if c.Expiry == nil {
		return unauthenticated(ErrMissingClaim, "exp is required")
	}
	// Valid while now < exp + skew, and from nbf - skew on.
	if exp := c.Expiry.Time(); !now.Before(exp.Add(v.skew)) {
		return unauthenticated(ErrExpired, "expired at %s (now %s, skew %s)", stamp(exp), stamp(now), v.skew)
	}
	if c.NotBefore != nil {
		if nbf := c.NotBefore.Time(); now.Add(v.skew).Before(nbf) {
			return unauthenticated(ErrNotYetValid, "valid from %s (now %s, skew %s)", stamp(nbf), stamp(now), v.skew)
		}
	}
	if c.IssuedAt != nil {
		if iat := c.IssuedAt.Time(); now.Add(v.skew).Before(iat) {
			return unauthenticated(ErrIssuedInFuture, "iat %s is after now %s (skew %s)", stamp(iat), stamp(now), v.skew)
		}
	}
	return nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// quoteShort quotes an attacker-supplied string for an error message,
// truncated to 40 bytes.
func quoteShort(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%q…", s[:40])
	}
	return fmt.Sprintf("%q", s)
}

// jsonProblem describes a JSON decoding error without quoting the input.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("%s is a JSON %s", te.Field, te.Value)
	case errors.Is(err, jwt.ErrUnmarshalAudience):
		return "aud is neither a string nor a list of strings"
	case errors.Is(err, jwt.ErrUnmarshalNumericDate):
		return "a date claim is not a number"
	}
	return "invalid JSON"
}
