package authtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
)

// AuditLog collects audit events; safe for concurrent use.
type AuditLog struct {
	mu     sync.Mutex
	events []mgmt.AuditEvent
}

// Audit implements mgmt.Auditor.
func (a *AuditLog) Audit(_ context.Context, e mgmt.AuditEvent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
}

// Events returns the events recorded so far, in order.
func (a *AuditLog) Events() []mgmt.AuditEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]mgmt.AuditEvent(nil), a.events...)
}

// Guard is what a host puts in front of an API: a verifier of the
// issuer's tokens, an authorizer with a policy, and every decision in
// Audit.
type Guard struct {
	// Authorize is the authorizer's HTTP(), for the API's
	// Options.Authorize.
	Authorize auth.HTTPAuthorizer
	Audit     *AuditLog
	mw        func(http.Handler) http.Handler
}

// Guard returns a Guard trusting i's tokens, authorizing with policy (nil:
// auth.DefaultPolicy()).
func (i *Issuer) Guard(t testing.TB, policy *auth.Policy) *Guard {
	t.Helper()
	v, err := auth.NewVerifier(context.Background(), i.VerifierOptions())
	if err != nil {
		t.Fatal(err)
	}
	g := &Guard{Audit: &AuditLog{}}
	authz, err := auth.NewAuthorizer(auth.AuthorizerOptions{Policy: policy, Auditor: g.Audit})
	if err != nil {
		t.Fatal(err)
	}
	g.Authorize = authz.HTTP()
	g.mw = auth.Middleware(v, auth.MiddlewareOptions{Auditor: g.Audit})
	return g
}

// Protect puts h behind the guard's middleware.
func (g *Guard) Protect(h http.Handler) http.Handler { return g.mw(h) }

// Serve serves one request to h with a JSON body ("" for none) and bearer
// token tok ("" for none).
func Serve(h http.Handler, method, path, body, tok string) *httptest.ResponseRecorder {
	w, _ := serveCounting(h, method, path, body, tok)
	return w
}
