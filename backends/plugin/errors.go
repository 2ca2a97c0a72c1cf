package plugin

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	mgmt "github.com/hms-platform/mgmt"
	scalerv1 "github.com/hms-platform/mgmt/backends/plugin/proto/scaler/v1"
)

// errorDomain names the ErrorInfo detail that carries an mgmt.Error's kind
// (Reason) and field (Metadata["field"]) across the boundary.
const errorDomain = "mgmt.hms-platform.github.com"

// The two context errors, by their wire names.
const (
	ctxDeadline = "deadline_exceeded"
	ctxCanceled = "canceled"
)

// This file is the one place where mgmt kinds meet gRPC codes.
var kindCodes = [...]codes.Code{
	mgmt.KindInternal:        codes.Internal,
	mgmt.KindInvalid:         codes.InvalidArgument,
	mgmt.KindNotFound:        codes.NotFound,
	mgmt.KindConflict:        codes.FailedPrecondition,
	mgmt.KindForbidden:       codes.PermissionDenied,
	mgmt.KindUnauthenticated: codes.Unauthenticated,
	mgmt.KindUnavailable:     codes.Unavailable,
}

// codeKind maps a gRPC code without an ErrorInfo detail (from gRPC itself
// or a foreign server) to a kind.
func codeKind(c codes.Code) mgmt.Kind {
	switch c {
	case codes.InvalidArgument, codes.OutOfRange:
		return mgmt.KindInvalid
	case codes.NotFound:
		return mgmt.KindNotFound
	case codes.FailedPrecondition, codes.Aborted, codes.AlreadyExists:
		return mgmt.KindConflict
	case codes.PermissionDenied:
		return mgmt.KindForbidden
	case codes.Unauthenticated:
		return mgmt.KindUnauthenticated
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Canceled:
		return mgmt.KindUnavailable
	}
	return mgmt.KindInternal
}

// toStatus encodes err, as an implementation returned it, in a gRPC status
// error: the code follows the kind, an ErrorInfo carries kind and field.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	var code codes.Code
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	default:
		code = kindCodes[kindIndex(mgmt.KindOf(err))]
	}
	st := status.New(code, err.Error())
	info := &errdetails.ErrorInfo{Reason: mgmt.KindOf(err).Code(), Domain: errorDomain}
	if f := mgmt.FieldOf(err); f != "" {
		info.Metadata = map[string]string{"field": f}
	}
	if withInfo, derr := st.WithDetails(info); derr == nil {
		st = withInfo
	}
	return st.Err()
}

func kindIndex(k mgmt.Kind) mgmt.Kind {
	if int(k) < len(kindCodes) {
		return k
	}
	return mgmt.KindInternal
}

// fromStatus decodes an error a stub returned into an *mgmt.Error (wrapping
// the context error for DeadlineExceeded and Canceled). name names the
// plugin for errors that come from the transport, not the plugin.
func fromStatus(name string, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		// A context error from the client side of gRPC, or another local failure.
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return mgmt.Errorf(mgmt.KindUnavailable, "", "plugin %s: %w", name, err)
		}
		return mgmt.Errorf(mgmt.KindInternal, "", "plugin %s: %w", name, err)
	}
	kind, field, fromPlugin := codeKind(st.Code()), "", false
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == errorDomain {
			if k, ok := mgmt.ParseKindCode(info.GetReason()); ok {
				kind, fromPlugin = k, true
			}
			field = info.GetMetadata()["field"]
		}
	}
	msg := st.Message()
	switch st.Code() {
	case codes.DeadlineExceeded:
		return withCause(kind, field, trimField(msg, field), context.DeadlineExceeded)
	case codes.Canceled:
		return withCause(kind, field, trimField(msg, field), context.Canceled)
	}
	if !fromPlugin {
		// gRPC's own error: the connection broke, the process is gone.
		if st.Code() == codes.Unavailable {
			return mgmt.Errorf(mgmt.KindUnavailable, "", "plugin %s unavailable: %s", name, msg)
		}
		return mgmt.Errorf(kind, field, "plugin %s: %s: %s", name, st.Code(), msg)
	}
	return &mgmt.Error{Kind: kind, Field: field, Message: trimField(msg, field)}
}

// fromPlugin reports whether err is a status the plugin's implementation
// returned (it carries an ErrorInfo of errorDomain).
func fromPlugin(err error) bool {
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == errorDomain {
			return true
		}
	}
	return false
}

// trimField drops the "field: " prefix that mgmt.Error.Error added on the
// plugin side, so that the host's Error() does not repeat it.
func trimField(msg, field string) string {
	if field != "" && len(msg) > len(field)+2 && msg[:len(field)+2] == field+": " {
		return msg[len(field)+2:]
	}
	return msg
}

// toItemError encodes one item's error of a batch call.
func toItemError(err error) *scalerv1.Error {
	if err == nil {
		return nil
	}
	e := &scalerv1.Error{Kind: mgmt.KindOf(err).Code(), Field: mgmt.FieldOf(err)}
	e.Message = trimField(err.Error(), e.Field)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e.Context = ctxDeadline
	case errors.Is(err, context.Canceled):
		e.Context = ctxCanceled
	}
	return e
}

// fromItemError decodes one item's error of a batch call.
func fromItemError(e *scalerv1.Error) error {
	if e == nil || e.GetKind() == "" {
		return nil
	}
	kind, ok := mgmt.ParseKindCode(e.GetKind())
	if !ok {
		kind = mgmt.KindInternal
	}
	switch e.GetContext() {
	case ctxDeadline:
		return withCause(kind, e.GetField(), e.GetMessage(), context.DeadlineExceeded)
	case ctxCanceled:
		return withCause(kind, e.GetField(), e.GetMessage(), context.Canceled)
	}
	return &mgmt.Error{Kind: kind, Field: e.GetField(), Message: e.GetMessage()}
}

// withCause returns an *mgmt.Error with message msg that wraps cause
// without repeating its text (msg already holds it).
func withCause(kind mgmt.Kind, field, msg string, cause error) error {
	return mgmt.Errorf(kind, field, "%s%w", msg, silent{cause})
}

// silent wraps an error for %w without adding text.
type silent struct{ err error }

func (s silent) Error() string { return "" }
func (s silent) Unwrap() error { return s.err }
