package auth

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/benbjohnson/clock"

	"github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/httperr"
)

// DefaultRealm is the realm of WWW-Authenticate challenges when
// MiddlewareOptions.Realm is empty.
const DefaultRealm = "hms"

type principalKey struct{}

// WithPrincipal returns a copy of ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal Middleware or WithPrincipal put in ctx.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// MiddlewareOptions configures Middleware.
type MiddlewareOptions struct {
	// Realm names the protection space in WWW-Authenticate; default
	// DefaultRealm.
	Realm string
	// Auditor receives an "authn.verify" event with outcome "deny" for
	// every request refused for its token; nil means none. Successful
	// verifications are not audited here: the authorization decision that
	// follows is.
	Auditor mgmt.Auditor
	// Logger, when set, gets a Debug record per refused request (method,
	// path, reason; never the token).
	Logger *slog.Logger
	// Clock stamps audit events; nil means the real clock.
	Clock clock.Clock
	// Public, when set, lets the requests it accepts through without a
	// token and without a principal, e.g. health checks.
	Public func(*http.Request) bool
}

// Middleware authenticates every request by its "Authorization: Bearer"
// token and puts the Principal in the request's context. A request without
// a token, or with one Verify refuses, gets 401 with a WWW-Authenticate
// challenge (RFC 6750: error="invalid_token" and an error_description
// when a token was sent; only the realm when none was) and a JSON error
// body written by httperr. Neither the challenge, the body, the log nor the
// audit record contain the token.
func Middleware(v *Verifier, opts MiddlewareOptions) func(http.Handler) http.Handler {
	realm := opts.Realm
	if realm == "" {
		realm = DefaultRealm
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.New()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if opts.Public != nil && opts.Public(r) {
				next.ServeHTTP(w, r)
				return
			}
			raw, err := bearer(r)
			var p *Principal
			if err == nil {
				p, err = v.Verify(r.Context(), raw)
			}
			if err != nil {
				if opts.Auditor != nil {
					opts.Auditor.Audit(r.Context(), mgmt.AuditEvent{
						At:       clk.Now(),
						Actor:    "anonymous",
						Action:   "authn.verify",
						Resource: r.Method + " " + r.URL.Path,
						Outcome:  "deny",
						Reason:   ReasonOf(err) + ": " + errMessage(err),
					})
				}
				if opts.Logger != nil {
					opts.Logger.DebugContext(r.Context(), "auth: request refused",
						"method", r.Method, "path", r.URL.Path, "reason", ReasonOf(err))
				}
				WriteError(w, realm, err)
				return
			}
			next.ServeHTTP(&challenger{ResponseWriter: w, realm: realm}, r.WithContext(WithPrincipal(r.Context(), p)))
		})
	}
}

// challenger adds the RFC 6750 challenge to a 403 the handler behind the
// middleware writes without one: the token was good, its rights were
// not enough.
type challenger struct {
	http.ResponseWriter
	realm string
}

func (c *challenger) WriteHeader(status int) {
	if status == http.StatusForbidden && c.Header().Get("WWW-Authenticate") == "" {
		c.Header().Set("WWW-Authenticate", `Bearer realm="`+challengeSafe(c.realm)+`", error="insufficient_scope"`)
	}
	c.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *challenger) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// bearer extracts the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, error) {
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		return "", mgmt.Errorf(mgmt.KindUnauthenticated, "", "%w: send Authorization: Bearer <token>", ErrMissingToken)
	}
	if len(h) > 1 {
		return "", unauthenticated(ErrMalformed, "more than one Authorization header")
	}
	scheme, tok, ok := strings.Cut(h[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", mgmt.Errorf(mgmt.KindUnauthenticated, "", "%w: the Authorization scheme must be Bearer", ErrMissingToken)
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", unauthenticated(ErrMissingToken, "the bearer token is empty")
	}
	return tok, nil
}

// WriteError writes err as an HTTP error response through httperr: 401
// errors get a WWW-Authenticate challenge for realm (error="invalid_token"
// unless no token was sent), 403 errors error="insufficient_scope".
func WriteError(w http.ResponseWriter, realm string, err error) {
	if realm == "" {
		realm = DefaultRealm
	}
	switch mgmt.KindOf(err) {
	case mgmt.KindUnauthenticated:
		c := `Bearer realm="` + challengeSafe(realm) + `"`
		if ReasonOf(err) != "missing_token" || mgmt.FieldOf(err) == "token" {
			c += `, error="invalid_token", error_description="` + challengeSafe(errMessage(err)) + `"`
		}
		w.Header().Set("WWW-Authenticate", c)
	case mgmt.KindForbidden:
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+challengeSafe(realm)+`", error="insufficient_scope"`)
	}
	httperr.Write(w, err)
}

// challengeSafe keeps the characters RFC 6750 allows in a quoted
// error_description (%x20-21 / %x23-5B / %x5D-7E), replacing the others.
func challengeSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b[i] = '\''
		}
	}
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}

// Check authorizes the request's principal for perm on res. On a denial it
// writes the response — 401 without a principal, 403 when denied, 400 for
// a resource without tenant — and returns false; the handler then returns.
func (a *Authorizer) Check(w http.ResponseWriter, r *http.Request, perm string, res Resource) bool {
	p, _ := FromContext(r.Context())
	if err := a.Authorize(r.Context(), p, perm, res); err != nil {
		WriteError(w, DefaultRealm, err)
		return false
	}
	return true
}

// Require wraps a handler so that it runs only when the request's
// principal may use perm on the resource res derives from the request
// (from its path, say). An error from res is written as is (e.g. 400 or
// 404).
func (a *Authorizer) Require(perm string, res func(*http.Request) (Resource, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rs, err := res(r)
			if err != nil {
				WriteError(w, DefaultRealm, err)
				return
			}
			if a.Check(w, r, perm, rs) {
				next.ServeHTTP(w, r)
			}
		})
	}
}
