package auth

import (
	"errors"

	"github.com/hms-platform/mgmt"
)

// reason is a sentinel naming why a token was refused or an action denied.
// Errors returned by this package wrap one, so that callers and tests can
// tell the cases apart with errors.Is, and audit records carry its code.
type reason struct {
	code string
	msg  string
}

func (r *reason) Error() string { return r.msg }

// Reasons a token is refused. Verify returns an *mgmt.Error of kind
// mgmt.KindUnauthenticated (401) that wraps exactly one of them.
var (
	ErrMissingToken   error = &reason{"missing_token", "no bearer token"}
	ErrTokenTooLarge  error = &reason{"token_too_large", "token too large"}
	ErrMalformed      error = &reason{"malformed", "malformed token"}
	ErrAlgorithm      error = &reason{"algorithm", "signature algorithm not allowed"}
	ErrUnknownKey     error = &reason{"unknown_key", "unknown signing key"}
	ErrSignature      error = &reason{"signature", "invalid signature"}
	ErrExpired        error = &reason{"expired", "token expired"}
	ErrNotYetValid    error = &reason{"not_yet_valid", "token not yet valid"}
	ErrIssuedInFuture error = &reason{"issued_in_future", "token issued in the future"}
	ErrIssuer         error = &reason{"issuer", "wrong issuer"}
	ErrAudience       error = &reason{"audience", "wrong audience"}
	ErrMissingClaim   error = &reason{"missing_claim", "missing claim"}
	ErrInvalidClaim   error = &reason{"invalid_claim", "invalid claim"}
)

// Reasons an action is denied. Authorize returns an *mgmt.Error of kind
// mgmt.KindForbidden (403) that wraps one of them.
var (
	ErrNoPermission    error = &reason{"no_permission", "permission denied"}
	ErrWrongTenant     error = &reason{"wrong_tenant", "resource belongs to another tenant"}
	ErrConditionFailed error = &reason{"condition", "permission condition not met"}
)

// ReasonOf returns the short code of the reason err wraps, such as
// "expired", "unknown_key" or "wrong_tenant"; audit records carry it. It
// returns "unauthenticated", "forbidden", "invalid", "unavailable" or
// "error" for errors that wrap no reason of this package, and "" for nil.
func ReasonOf(err error) string {
	if err == nil {
		return ""
	}
	var r *reason
	if errors.As(err, &r) {
		return r.code
	}
	switch mgmt.KindOf(err) {
	case mgmt.KindUnauthenticated:
		return "unauthenticated"
	case mgmt.KindForbidden:
		return "forbidden"
	case mgmt.KindInvalid:
		return "invalid"
	case mgmt.KindUnavailable:
		return "unavailable"
	}
	return "error"
}

// unauthenticated returns a 401 error wrapping r with a detail message. The
// detail never contains the token or a signature.
func unauthenticated(r error, format string, args ...any) *mgmt.Error {
	return mgmt.Errorf(mgmt.KindUnauthenticated, "token", "%w: "+format, append([]any{r}, args...)...)
}

// forbidden returns a 403 error wrapping r.
func forbidden(r error, format string, args ...any) *mgmt.Error {
	return mgmt.Errorf(mgmt.KindForbidden, "", "%w: "+format, append([]any{r}, args...)...)
}
