package authtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/internal/httperr"
)

// Paths the issuer serves.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/jwks.json"
	TokenPath     = "/token"
)

// DefaultAudience is the audience of minted tokens when Options.Audience is
// empty.
const DefaultAudience = "hms"

// Options configures an Issuer.
type Options struct {
	// URL is the issuer URL, the "iss" of minted tokens and the base of
	// the discovery document. NewIssuer and Start set it to their test
	// server's URL; set it yourself when you serve Handler (dev-issuer).
	URL string
	// Audience is the default "aud" of minted tokens; default
	// DefaultAudience.
	Audience string
	// Clock is the time of iat and exp; nil means the real clock.
	Clock clock.Clock
	// TTL is the default lifetime of minted tokens; default one hour.
	TTL time.Duration
	// TokenEndpoint serves POST /token, which mints a token for a JSON body
	// {"sub": "...", "tenant": "...", "roles": ["..."], "ttl": "1h"}. For
	// development only: it gives a token to anyone who asks.
	TokenEndpoint bool
	// RSABits is the size of the RSA key; default 2048.
	RSABits int
}

// signingKey is one private key of the issuer.
type signingKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

// Issuer is an OpenID issuer for tests and development: it serves a
// discovery document and a JSON Web Key Set, holds one RS256, one ES256 and
// one EdDSA key, mints tokens and rotates keys. It is safe for concurrent
// use.
type Issuer struct {
	// URL is the issuer URL.
	URL string
	// Audience is the default audience of minted tokens.
	Audience string

	clock   clock.Clock
	ttl     time.Duration
	rsaBits int
	token   bool
	tb      testing.TB
	srv     *httptest.Server

	mu         sync.Mutex
	keys       map[jose.SignatureAlgorithm]*signingKey
	generation int
	jwksDown   bool

	jwksFetches, discoveryFetches atomic.Int64
}

// New creates an issuer that serves nothing by itself: serve Handler at
// opts.URL.
func New(opts Options) (*Issuer, error) {
	if opts.Audience == "" {
		opts.Audience = DefaultAudience
	}
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	if opts.TTL == 0 {
		opts.TTL = time.Hour
	}
	if opts.RSABits == 0 {
		opts.RSABits = 2048
	}
	i := &Issuer{
		URL:      strings.TrimSuffix(opts.URL, "/"),
		Audience: opts.Audience,
		clock:    opts.Clock,
		ttl:      opts.TTL,
		rsaBits:  opts.RSABits,
		token:    opts.TokenEndpoint,
	}
	if err := i.Rotate(); err != nil {
		return nil, err
	}
	return i, nil
}

// Start creates an issuer served by an httptest server on loopback; its URL
// is the server's. Call Close when done.
func Start(opts Options) (*Issuer, error) {
	i, err := New(opts)
	if err != nil {
		return nil, err
	}
	i.srv = httptest.NewServer(i.Handler())
	i.URL = i.srv.URL
	return i, nil
}

// NewIssuer is Start for tests: it fails tb on error, closes the server at
// the end of the test, and Mint fails tb instead of panicking.
func NewIssuer(tb testing.TB, opts Options) *Issuer {
	tb.Helper()
	i, err := Start(opts)
	if err != nil {
		tb.Fatalf("authtest: starting the issuer: %v", err)
	}
	i.tb = tb
	tb.Cleanup(i.Close)
	return i
}

// Close stops the test server of Start or NewIssuer.
func (i *Issuer) Close() {
	if i.srv != nil {
		i.srv.Close()
	}
}

// Client returns an HTTP client for the issuer's server.
func (i *Issuer) Client() *http.Client {
	if i.srv != nil {
		return i.srv.Client()
	}
	return http.DefaultClient
}

// VerifierOptions returns verifier options that trust this issuer through
// discovery, with its audience and clock.
func (i *Issuer) VerifierOptions() auth.VerifierOptions {
	return auth.VerifierOptions{
		Issuer:     i.URL,
		Audience:   []string{i.Audience},
		Clock:      i.clock,
		HTTPClient: i.Client(),
	}
}

// Rotate replaces the three keys with new ones under new key ids; the old
// keys leave the key set at once.
func (i *Issuer) Rotate() error {
	rk, err := rsa.GenerateKey(rand.Reader, i.rsaBits)
	if err != nil {
		return err
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	_, edk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.generation++
	g := i.generation
	i.keys = map[jose.SignatureAlgorithm]*signingKey{
		jose.RS256: {kid: fmt.Sprintf("rs256-%d", g), alg: jose.RS256, priv: rk},
		jose.ES256: {kid: fmt.Sprintf("es256-%d", g), alg: jose.ES256, priv: ek},
		jose.EdDSA: {kid: fmt.Sprintf("eddsa-%d", g), alg: jose.EdDSA, priv: edk},
	}
	return nil
}

// KeyID returns the current key id for alg ("RS256", "ES256", "EdDSA").
func (i *Issuer) KeyID(alg string) string {
	if k := i.key(alg); k != nil {
		return k.kid
	}
	return ""
}

// PublicKey returns the current public key for alg.
func (i *Issuer) PublicKey(alg string) crypto.PublicKey {
	if k := i.key(alg); k != nil {
		return k.priv.Public()
	}
	return nil
}

func (i *Issuer) key(alg string) *signingKey {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.keys[jose.SignatureAlgorithm(alg)]
}

// JWKS returns the current public key set as JSON.
func (i *Issuer) JWKS() []byte {
	i.mu.Lock()
	set := jose.JSONWebKeySet{}
	for _, alg := range []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA} {
		k := i.keys[alg]
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(alg), Use: "sig"})
	}
	i.mu.Unlock()
	b, err := json.Marshal(set)
	if err != nil {
		panic("authtest: encoding the key set: " + err.Error())
	}
	return b
}

// JWKSFetches returns how many times the key set was served.
func (i *Issuer) JWKSFetches() int { return int(i.jwksFetches.Load()) }

// DiscoveryFetches returns how many times the discovery document was
// served.
func (i *Issuer) DiscoveryFetches() int { return int(i.discoveryFetches.Load()) }

// SetJWKSDown makes the key set endpoint answer 503 while down is true.
func (i *Issuer) SetJWKSDown(down bool) {
	i.mu.Lock()
	i.jwksDown = down
	i.mu.Unlock()
}

// Handler serves the discovery document, the key set and, with
// Options.TokenEndpoint, POST /token.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+DiscoveryPath, func(w http.ResponseWriter, r *http.Request) {
		i.discoveryFetches.Add(1)
		httperr.WriteJSON(w, http.StatusOK, map[string]any{
			"issuer":                                i.URL,
			"jwks_uri":                              i.URL + JWKSPath,
			"token_endpoint":                        i.URL + TokenPath,
			"id_token_signing_alg_values_supported": []string{auth.RS256, auth.ES256, auth.EdDSA},
			"response_types_supported":              []string{"token"},
			"subject_types_supported":               []string{"public"},
		})
	})
	mux.HandleFunc("GET "+JWKSPath, func(w http.ResponseWriter, r *http.Request) {
		i.jwksFetches.Add(1)
		i.mu.Lock()
		down := i.jwksDown
		i.mu.Unlock()
		if down {
			httperr.Write(w, mgmt.Unavailable("the key set is down"))
			return
		}
		b := i.JWKS()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(b)
	})
	if i.token {
		mux.HandleFunc("POST "+TokenPath, i.serveToken)
	}
	return httperr.WrapMux(mux)
}

// TokenRequest is the body of POST /token.
type TokenRequest struct {
	Subject string   `json:"sub"`
	Tenant  string   `json:"tenant"`
	Tenants []string `json:"tenants,omitempty"`
	Roles   []string `json:"roles"`
	TTL     string   `json:"ttl,omitempty"`
	Alg     string   `json:"alg,omitempty"`
}

// maxDevTTL bounds the ttl of POST /token.
const maxDevTTL = 24 * time.Hour

func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	b, err := httperr.ReadBody(w, r, 64<<10)
	if err != nil {
		httperr.Write(w, err)
		return
	}
	var req TokenRequest
	if err := httperr.Decode(b, "", &req); err != nil {
		httperr.Write(w, err)
		return
	}
	if req.Subject == "" {
		httperr.Write(w, mgmt.Invalid("sub", "is required"))
		return
	}
	if req.Tenant == "" && len(req.Tenants) == 0 {
		httperr.Write(w, mgmt.Invalid("tenant", "is required"))
		return
	}
	ttl := i.ttl
	if req.TTL != "" {
		if ttl, err = time.ParseDuration(req.TTL); err != nil || ttl <= 0 || ttl > maxDevTTL {
			httperr.Write(w, mgmt.Invalid("ttl", "%q is not a duration between 0s and %s", req.TTL, maxDevTTL))
			return
		}
	}
	alg := req.Alg
	if alg == "" {
		alg = auth.ES256
	} else if i.key(alg) == nil {
		httperr.Write(w, mgmt.Invalid("alg", "%q is not one of RS256, ES256, EdDSA", alg))
		return
	}
	tok, err := i.TryMint(Claims{Subject: req.Subject, Tenant: req.Tenant, Tenants: req.Tenants, Roles: req.Roles, TTL: ttl, Alg: alg})
	if err != nil {
		httperr.Write(w, err)
		return
	}
	httperr.WriteJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int(ttl / time.Second),
	})
}

// Claims describes a token to mint. Zero fields take defaults.
type Claims struct {
	// Subject is "sub"; default "user-1".
	Subject string
	// Tenant is the "tenant" claim and Tenants the "tenants" claim; each is
	// omitted when empty. No tenant at all makes a token Verify refuses.
	Tenant  string
	Tenants []string
	// Roles is the "roles" claim, omitted when nil.
	Roles []string
	// Issuer is "iss"; default the issuer's URL.
	Issuer string
	// Audience is "aud"; default the issuer's audience.
	Audience []string
	// Alg is "RS256", "ES256" (the default) or "EdDSA".
	Alg string
	// KeyID overrides the kid header; "-" omits it.
	KeyID string
	// ExpiresAt is "exp" (default now + TTL), NotBefore "nbf" (default
	// none), IssuedAt "iat" (default now).
	ExpiresAt, NotBefore, IssuedAt time.Time
	// TTL is the lifetime when ExpiresAt is zero; default the issuer's.
	TTL time.Duration
	// NoExpiry and NoIssuedAt omit exp and iat.
	NoExpiry, NoIssuedAt bool
	// Extra claims are merged last and override the others.
	Extra map[string]any
}

// Mint returns a signed token. It fails the test of NewIssuer, or panics
// for an issuer of New or Start, on error (an unknown Alg).
func (i *Issuer) Mint(c Claims) string {
	tok, err := i.TryMint(c)
	if err != nil {
		if i.tb != nil {
			i.tb.Helper()
			i.tb.Fatalf("authtest: minting: %v", err)
		}
		panic("authtest: minting: " + err.Error())
	}
	return tok
}

// TryMint returns a signed token or an error.
func (i *Issuer) TryMint(c Claims) (string, error) {
	alg := c.Alg
	if alg == "" {
		alg = auth.ES256
	}
	k := i.key(alg)
	if k == nil {
		return "", mgmt.Invalid("alg", "%q is not one of RS256, ES256, EdDSA", alg)
	}
	kid := k.kid
	switch c.KeyID {
	case "":
	case "-":
		kid = ""
	default:
		kid = c.KeyID
	}
	return sign(k.alg, k.priv, kid, i.Payload(c))
}

// Payload returns the claims Mint would sign for c.
func (i *Issuer) Payload(c Claims) map[string]any {
	now := i.clock.Now()
	m := map[string]any{}
	m["sub"] = or(c.Subject, "user-1")
	m["iss"] = or(c.Issuer, i.URL)
	if c.Audience != nil {
		m["aud"] = c.Audience
	} else {
		m["aud"] = []string{i.Audience}
	}
	if c.Tenant != "" {
		m["tenant"] = c.Tenant
	}
	if c.Tenants != nil {
		m["tenants"] = c.Tenants
	}
	if c.Roles != nil {
		m["roles"] = c.Roles
	}
	if !c.NoExpiry {
		exp := c.ExpiresAt
		if exp.IsZero() {
			ttl := c.TTL
			if ttl == 0 {
				ttl = i.ttl
			}
			exp = now.Add(ttl)
		}
		m["exp"] = jwt.NewNumericDate(exp)
	}
	if !c.NotBefore.IsZero() {
		m["nbf"] = jwt.NewNumericDate(c.NotBefore)
	}
	if !c.NoIssuedAt {
		iat := c.IssuedAt
		if iat.IsZero() {
			iat = now
		}
		m["iat"] = jwt.NewNumericDate(iat)
	}
	for k, v := range c.Extra {
		m[k] = v
	}
	return m
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// sign signs payload as a compact JWS with key and header kid.
func sign(alg jose.SignatureAlgorithm, key any, kid string, payload map[string]any) (string, error) {
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		return "", err
	}
	return jwt.Signed(s).Claims(payload).Serialize()
}
