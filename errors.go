package mgmt

import (
	"errors"
	"fmt"
)

// Kind classifies an error so that callers can react to it without parsing
// messages. Kinds survive the plugin boundary and map to HTTP statuses in one
// place (internal/httperr). A Kind is itself an error, so the kinds double as
// sentinels: errors.Is(err, mgmt.ErrNotFound) reports whether err, or any
// error it wraps, is an *Error of kind KindNotFound.
type Kind uint8

// The error kinds. KindInternal is the zero-value fallback for errors that
// carry no kind.
const (
	KindInternal        Kind = iota // a bug or an unexpected failure
	KindInvalid                     // the input is malformed or breaks a rule
	KindNotFound                    // the named thing does not exist
	KindConflict                    // the request collides with current state
	KindForbidden                   // the caller may not do this
	KindUnauthenticated             // the caller is not known
	KindUnavailable                 // a dependency cannot be reached; retry later
)

var kindNames = [...]string{
	KindInternal:        "internal",
	KindInvalid:         "invalid",
	KindNotFound:        "not found",
	KindConflict:        "conflict",
	KindForbidden:       "forbidden",
	KindUnauthenticated: "unauthenticated",
	KindUnavailable:     "unavailable",
}

// String returns the kind's name, such as "not found".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Code returns the kind's machine-readable name, as HTTP error bodies and
// the plugin protocol carry it: "internal", "invalid", "not_found",
// "conflict", "forbidden", "unauthenticated" or "unavailable".
func (k Kind) Code() string {
	if k == KindNotFound {
		return "not_found"
	}
	return k.String()
}

// ParseKindCode returns the kind whose Code is code.
func ParseKindCode(code string) (Kind, bool) {
	for k := range kindNames {
		if Kind(k).Code() == code {
			return Kind(k), true
		}
	}
	return KindInternal, false
}

// Error makes a Kind usable as a sentinel error.
func (k Kind) Error() string { return k.String() }

// Sentinels for errors.Is.
var (
	ErrInternal        error = KindInternal
	ErrInvalid         error = KindInvalid
	ErrNotFound        error = KindNotFound
	ErrConflict        error = KindConflict
	ErrForbidden       error = KindForbidden
	ErrUnauthenticated error = KindUnauthenticated
	ErrUnavailable     error = KindUnavailable
)

// Error is the error type shared by every package of the module. Field names
// the offending input with a dotted path ("rule.maxReplicas",
// "trigger.threshold") when there is one.
type Error struct {
	Kind    Kind
	Field   string
	Message string
	Err     error // the cause, if any

	causeInMessage bool // Message already holds the cause's text
}

// Error formats the error as "field: message: cause".
func (e *Error) Error() string {
	msg := e.Message
	if e.Err != nil && !e.causeInMessage {
		if msg == "" {
			msg = e.Err.Error()
		} else {
			msg += ": " + e.Err.Error()
		}
	}
	if msg == "" {
		msg = e.Kind.String()
	}
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the Kind of e.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// Errorf returns an *Error of the given kind and field with a formatted
// message. A %w verb in format sets the cause; with several %w verbs the
// cause wraps them all.
func Errorf(kind Kind, field, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	e := &Error{Kind: kind, Field: field, Message: err.Error()}
	switch w := err.(type) {
	case interface{ Unwrap() error }:
		if u := w.Unwrap(); u != nil {
			e.Err, e.causeInMessage = u, true
		}
	case interface{ Unwrap() []error }:
		if len(w.Unwrap()) > 0 {
			e.Err, e.causeInMessage = err, true
		}
	}
	return e
}

// Invalid returns a KindInvalid error for field.
func Invalid(field, format string, args ...any) *Error {
	return Errorf(KindInvalid, field, format, args...)
}

// NotFound returns a KindNotFound error.
func NotFound(field, format string, args ...any) *Error {
	return Errorf(KindNotFound, field, format, args...)
}

// Conflict returns a KindConflict error.
func Conflict(field, format string, args ...any) *Error {
	return Errorf(KindConflict, field, format, args...)
}

// Unavailable returns a KindUnavailable error.
func Unavailable(format string, args ...any) *Error {
	return Errorf(KindUnavailable, "", format, args...)
}

// KindOf returns the kind of the first *Error in err's chain, or the Kind
// itself when err is a bare sentinel. Context deadline and cancellation
// errors count as KindUnavailable; anything else is KindInternal.
func KindOf(err error) Kind {
	if err == nil {
		return KindInternal
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	var k Kind
	if errors.As(err, &k) {
		return k
	}
	if errors.Is(err, errDeadline) || errors.Is(err, errCanceled) {
		return KindUnavailable
	}
	return KindInternal
}

// FieldOf returns the Field of the first *Error in err's chain, or "".
func FieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}
