package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/hms-platform/mgmt"
)

// maxDocument bounds the discovery document and the key set: 1 MiB.
const maxDocument = 1 << 20

// minRSABits is the smallest RSA modulus accepted.
const minRSABits = 2048

// keySet is an immutable set of verification keys.
type keySet struct {
	byKID map[string]jose.JSONWebKey
	all   []jose.JSONWebKey
}

// checkURL accepts an https URL, or an http one on a loopback host.
func checkURL(field, s string) error {
	if s == "" {
		return mgmt.Invalid(field, "is required")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return mgmt.Invalid(field, "%q is not an absolute URL", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return mgmt.Invalid(field, "%q uses http on a non-loopback host; use https", s)
	}
	return mgmt.Invalid(field, "%q: scheme must be https (or http on loopback)", s)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// discover reads the issuer's discovery document and returns its jwks_uri.
func (v *Verifier) discover(ctx context.Context) (string, error) {
	u := strings.TrimSuffix(v.issuer, "/") + "/.well-known/openid-configuration"
	b, err := v.get(ctx, u)
	if err != nil {
		return "", err
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return "", mgmt.Unavailable("discovery document %s is not valid JSON: %v", u, err)
	}
	if doc.Issuer != v.issuer {
		return "", mgmt.Unavailable("discovery document %s names issuer %q, want %q", u, doc.Issuer, v.issuer)
	}
	if err := checkURL("jwks_uri", doc.JWKSURI); err != nil {
		return "", mgmt.Unavailable("discovery document %s: %v", u, err)
	}
	return doc.JWKSURI, nil
}

func (v *Verifier) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, mgmt.Invalid("url", "%q: %v", u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, mgmt.Unavailable("fetching %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, mgmt.Unavailable("fetching %s: status %d", u, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return nil, mgmt.Unavailable("reading %s: %w", u, err)
	}
	if len(b) > maxDocument {
		return nil, mgmt.Unavailable("%s is larger than %d bytes", u, maxDocument)
	}
	return b, nil
}

// fetchLocked fetches the key set; v.fetchMu is held.
func (v *Verifier) fetchLocked(ctx context.Context) error {
	now := v.clock.Now()
	v.lastTry = now
	b, err := v.get(ctx, v.jwksURL)
	if err != nil {
		return err
	}
	ks, err := parseJWKS(b, v.algSet())
	if err != nil {
		return mgmt.Unavailable("key set %s: %v", v.jwksURL, err)
	}
	v.keys.Store(ks)
	v.lastFetch.Store(now.UnixNano())
	return nil
}

func (v *Verifier) algSet() map[string]bool {
	m := make(map[string]bool, len(v.algs))
	for _, a := range v.algs {
		m[string(a)] = true
	}
	return m
}

// maybeRefresh refetches a key set older than RefreshInterval. Only one
// caller fetches; the others go on with the current keys.
func (v *Verifier) maybeRefresh(ctx context.Context, now time.Time) {
	if v.jwksURL == "" || now.Sub(time.Unix(0, v.lastFetch.Load())) < v.refresh {
		return
	}
	if !v.fetchMu.TryLock() {
		return
	}
	defer v.fetchMu.Unlock()
	if now.Sub(time.Unix(0, v.lastFetch.Load())) < v.refresh || now.Sub(v.lastTry) < v.minRefr {
		return
	}
	_ = v.fetchLocked(ctx) // on failure the current keys stay
}

// candidates returns the keys that may have signed a token with this kid
// and alg, refetching the key set (rate-limited) for an unknown kid.
func (v *Verifier) candidates(ctx context.Context, kid string, alg jose.SignatureAlgorithm) ([]jose.JSONWebKey, error) {
	ks := v.keys.Load()
	if kid == "" {
		var out []jose.JSONWebKey
		for _, k := range ks.all {
			if keyFits(k, alg) {
				out = append(out, k)
			}
		}
		if len(out) == 0 {
			return nil, unauthenticated(ErrUnknownKey, "no key for alg %s and the token names no kid", alg)
		}
		return out, nil
	}
	k, ok := ks.byKID[kid]
	if !ok && v.jwksURL != "" {
		v.fetchMu.Lock()
		if v.keys.Load() == ks && v.clock.Now().Sub(v.lastTry) >= v.minRefr {
			_ = v.fetchLocked(ctx)
		}
		v.fetchMu.Unlock()
		k, ok = v.keys.Load().byKID[kid]
	}
	if !ok {
		return nil, unauthenticated(ErrUnknownKey, "kid %s is not in the key set", quoteShort(kid))
	}
	if !keyFits(k, alg) {
		return nil, unauthenticated(ErrAlgorithm, "key %s does not sign with %s", quoteShort(kid), alg)
	}
	return []jose.JSONWebKey{k}, nil
}

// keyFits reports whether k can verify signatures of alg.
func keyFits(k jose.JSONWebKey, alg jose.SignatureAlgorithm) bool {
	if k.Algorithm != "" && k.Algorithm != string(alg) {
		return false
	}
	switch pk := k.Key.(type) {
	case *rsa.PublicKey:
		return alg == jose.RS256
	case *ecdsa.PublicKey:
		return alg == jose.ES256 && pk.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return alg == jose.EdDSA
	}
	return false
}

// usable reports why a public key cannot be used, or "".
func usable(key any) string {
	switch pk := key.(type) {
	case *rsa.PublicKey:
		if pk.N.BitLen() < minRSABits {
			return fmt.Sprintf("RSA key of %d bits is below %d", pk.N.BitLen(), minRSABits)
		}
	case *ecdsa.PublicKey:
		if pk.Curve != elliptic.P256() {
			return "ECDSA key is not on P-256"
		}
	case ed25519.PublicKey:
	default:
		return fmt.Sprintf("%T is not an RSA, P-256 ECDSA or Ed25519 public key", key)
	}
	return ""
}

// parseJWKS reads a key set, skipping keys that cannot verify a token of an
// allowed algorithm: private, symmetric, encryption-only, short or
// unsupported keys. A set without a usable key is an error.
func parseJWKS(b []byte, algs map[string]bool) (*keySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %v", err)
	}
	ks := &keySet{byKID: map[string]jose.JSONWebKey{}}
	for _, raw := range doc.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue // unsupported kty or crv, or malformed: skip
		}
		if !k.Valid() || !k.IsPublic() || (k.Use != "" && k.Use != "sig") ||
			(k.Algorithm != "" && !algs[k.Algorithm]) || usable(k.Key) != "" {
			continue
		}
		ks.add(k)
	}
	if len(ks.all) == 0 {
		return nil, fmt.Errorf("no usable signing key (RSA ≥ %d bits, P-256 or Ed25519, use sig)", minRSABits)
	}
	return ks, nil
}

func (ks *keySet) add(k jose.JSONWebKey) {
	if k.KeyID != "" {
		if _, dup := ks.byKID[k.KeyID]; dup {
			return // the first key with a kid wins
		}
		ks.byKID[k.KeyID] = k
	}
	ks.all = append(ks.all, k)
}

// staticKeys builds the key set of VerifierOptions.JWKS and PublicKeys.
func staticKeys(doc []byte, pubs []crypto.PublicKey, algs map[string]bool) (*keySet, error) {
	ks := &keySet{byKID: map[string]jose.JSONWebKey{}}
	if len(doc) > 0 {
		set, err := parseJWKS(doc, algs)
		if err != nil {
			return nil, mgmt.Invalid("JWKS", "%v", err)
		}
		for _, k := range set.all {
			ks.add(k)
		}
	}
	for i, p := range pubs {
		field := fmt.Sprintf("PublicKeys[%d]", i)
		if why := usable(p); why != "" {
			return nil, mgmt.Invalid(field, "%s", why)
		}
		k := jose.JSONWebKey{Key: p, Use: "sig"}
		tp, err := k.Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, mgmt.Invalid(field, "computing its thumbprint: %v", err)
		}
		k.KeyID = base64.RawURLEncoding.EncodeToString(tp)
		ks.add(k)
	}
	return ks, nil
}
