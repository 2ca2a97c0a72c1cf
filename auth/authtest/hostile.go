package authtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Hostile tokens for security tests. None of them must ever verify.

// MintNone returns an unsigned token: alg "none" and an empty signature.
func (i *Issuer) MintNone(c Claims) string {
	return Raw(map[string]any{"alg": "none", "typ": "JWT"}, i.Payload(c), nil)
}

// MintHMAC returns a token signed with HS256 using secret as the key — the
// classic confusion attack passes the issuer's RSA public key
// (RSAPublicKeyPEM or RSAPublicKeyDER) as secret. The kid is the RSA key's.
func (i *Issuer) MintHMAC(c Claims, secret []byte) string {
	kid := i.KeyID("RS256")
	if c.KeyID != "" {
		kid = c.KeyID
	}
	tok, err := sign(jose.HS256, secret, kid, i.Payload(c))
	if err != nil {
		panic("authtest: HMAC signing: " + err.Error())
	}
	return tok
}

// MintForeign returns an ES256 token carrying the issuer's current ES256
// kid but signed by a key the issuer never published.
func (i *Issuer) MintForeign(c Claims) string {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	kid := i.KeyID("ES256")
	if c.KeyID != "" {
		kid = c.KeyID
	}
	tok, err := sign(jose.ES256, k, kid, i.Payload(c))
	if err != nil {
		panic("authtest: signing: " + err.Error())
	}
	return tok
}

// RSAPublicKeyPEM returns the current RSA public key as PEM (PKIX).
func (i *Issuer) RSAPublicKeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: i.RSAPublicKeyDER()})
}

// RSAPublicKeyDER returns the current RSA public key as DER (PKIX).
func (i *Issuer) RSAPublicKeyDER() []byte {
	b, err := x509.MarshalPKIXPublicKey(i.PublicKey("RS256").(*rsa.PublicKey))
	if err != nil {
		panic(err)
	}
	return b
}

// Raw assembles a compact JWS from a header, a payload (both encoded as
// JSON unless they are []byte or string, used verbatim) and a signature,
// without signing anything.
func Raw(header, payload any, sig []byte) string {
	return seg(header) + "." + seg(payload) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func seg(v any) string {
	var b []byte
	switch x := v.(type) {
	case []byte:
		b = x
	case string:
		b = []byte(x)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			panic(err)
		}
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// TamperPayload decodes tok's payload, lets mutate change it, and
// re-encodes it, keeping the original header and signature.
func TamperPayload(tok string, mutate func(claims map[string]any)) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		panic("authtest: TamperPayload: not a compact JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	mutate(m)
	return parts[0] + "." + seg(m) + "." + parts[2]
}

// TamperSignature flips one bit in the middle of tok's signature.
func TamperSignature(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		panic("authtest: TamperSignature: not a compact JWS")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) == 0 {
		panic("authtest: TamperSignature: bad signature")
	}
	sig[len(sig)/2] ^= 0x01
	return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// SignPayload signs payload verbatim — which need not be JSON — with the
// current key of alg and its kid, for tests of well-signed garbage.
func (i *Issuer) SignPayload(alg string, payload []byte) string {
	k := i.key(alg)
	if k == nil {
		panic("authtest: SignPayload: unknown alg " + alg)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.priv},
		(&jose.SignerOptions{}).WithHeader(jose.HeaderKey("kid"), k.kid))
	if err != nil {
		panic(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		panic(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		panic(err)
	}
	return tok
}
