package host

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
)

// AuthFlags are the authentication flags the hosts share: the OpenID
// issuer whose tokens every request needs, the audience they must name,
// the authorization policy and optional static keys.
type AuthFlags struct {
	Issuer, Audience, Policy, JWKS string
}

// Register adds -issuer, -audience, -auth-policy and -jwks to fs.
func (f *AuthFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Issuer, "issuer", "", "OpenID issuer URL whose bearer tokens every request needs (its discovery document gives the keys)")
	fs.StringVar(&f.Audience, "audience", "", "the audience tokens must name (required with -issuer)")
	fs.StringVar(&f.Policy, "auth-policy", "", "authorization policy file, YAML or JSON (default: the built-in policy of package auth)")
	fs.StringVar(&f.JWKS, "jwks", "", "static JSON Web Key Set file of the issuer, instead of fetching its keys")
}

// Check checks the flags against -dev: exactly one of -dev and -issuer,
// -audience with -issuer, the other flags only with -issuer. noAuth is the
// error when neither is given.
func (f *AuthFlags) Check(dev bool, noAuth error) error {
	switch {
	case dev && f.Issuer != "":
		return Usagef("-dev runs without authentication and -issuer requires tokens: drop one of them")
	case f.Issuer == "" && (f.Audience != "" || f.Policy != "" || f.JWKS != ""):
		return Usagef("-audience, -auth-policy and -jwks need -issuer")
	case f.Issuer != "" && f.Audience == "":
		return Usagef("-audience: required with -issuer (the aud tokens for this service carry, e.g. hms)")
	case !dev && f.Issuer == "":
		return noAuth
	}
	return nil
}

// Auth is what Setup builds: the middleware that verifies tokens and the
// authorizer the HTTP APIs ask.
type Auth struct {
	Middleware func(http.Handler) http.Handler
	Authorize  auth.HTTPAuthorizer
}

// Setup builds the verifier (fetching the issuer's discovery document and
// keys, or reading -jwks), the policy and the authorizer. Every decision
// goes to audit. public requests need no token (nil: none).
func (f *AuthFlags) Setup(ctx context.Context, clk clock.Clock, logger *slog.Logger, audit mgmt.Auditor, public func(*http.Request) bool) (*Auth, error) {
	policy := auth.DefaultPolicy()
	if f.Policy != "" {
		var err error
		if policy, err = auth.LoadPolicy(f.Policy); err != nil {
			return nil, fmt.Errorf("-auth-policy: %w", err)
		}
	}
	vopts := auth.VerifierOptions{Issuer: f.Issuer, Audience: []string{f.Audience}, Clock: clk}
	if f.JWKS != "" {
		keys, err := os.ReadFile(f.JWKS)
		if err != nil {
			return nil, fmt.Errorf("-jwks: %w", err)
		}
		vopts.JWKS = keys
	}
	v, err := auth.NewVerifier(ctx, vopts)
	if err != nil {
		return nil, fmt.Errorf("-issuer %s: %w", f.Issuer, err)
	}
	authz, err := auth.NewAuthorizer(auth.AuthorizerOptions{Policy: policy, Auditor: audit, Clock: clk})
	if err != nil {
		return nil, err
	}
	return &Auth{
		Middleware: auth.Middleware(v, auth.MiddlewareOptions{Auditor: audit, Logger: logger, Clock: clk, Public: public}),
		Authorize:  authz.HTTP(),
	}, nil
}
