package httperr

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	mgmt "github.com/hms-platform/mgmt"
)

// ContentType is the Content-Type of every body this package writes.
const ContentType = "application/json"

// internalMessage is all a client learns about an internal error.
const internalMessage = "internal error"

// Body is the JSON envelope of an error response.
type Body struct {
	Error Detail `json:"error"`
}

// Detail describes one error: its kind's code ("invalid", "not_found", …),
// the JSON path of the offending input if any, and a message for people.
type Detail struct {
	Kind    string `json:"kind"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// KindStatus returns the HTTP status of an error kind. Unknown kinds are
// internal errors.
func KindStatus(k mgmt.Kind) int {
	switch k {
	case mgmt.KindInvalid:
		return http.StatusBadRequest
	case mgmt.KindUnauthenticated:
		return http.StatusUnauthorized
	case mgmt.KindForbidden:
		return http.StatusForbidden
	case mgmt.KindNotFound:
		return http.StatusNotFound
	case mgmt.KindConflict:
		return http.StatusConflict
	case mgmt.KindUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Status returns the HTTP status Write uses for err.
func Status(err error) int {
	status, _ := Response(err)
	return status
}

// Response returns the status and the body Write sends for err. A nil err
// is reported as an internal error: it is a bug to write one.
func Response(err error) (int, Body) {
	var se *statusError
	if errors.As(err, &se) {
		return se.status, Body{Detail{Kind: mgmt.KindInvalid.Code(), Field: se.err.Field, Message: message(se.err)}}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		e := tooLarge(mbe.Limit)
		return e.status, Body{Detail{Kind: mgmt.KindInvalid.Code(), Field: e.err.Field, Message: message(e.err)}}
	}
	kind := mgmt.KindOf(err)
	status := KindStatus(kind)
	if err == nil || status == http.StatusInternalServerError {
		return http.StatusInternalServerError, Body{Detail{Kind: mgmt.KindInternal.Code(), Message: internalMessage}}
	}
	d := Detail{Kind: kind.Code(), Field: mgmt.FieldOf(err), Message: err.Error()}
	var me *mgmt.Error
	if errors.As(err, &me) {
		d.Message = message(me)
	}
	return status, Body{d}
}

// message returns e's text without the "field: " prefix, since the body
// carries the field separately.
func message(e *mgmt.Error) string {
	msg := e.Error()
	if e.Field != "" {
		msg = strings.TrimPrefix(msg, e.Field+": ")
	}
	return msg
}

// Write writes err as a JSON error response with the status of its kind.
// An internal error (any error without a kind) is written as "internal
// error" without its text. Write does not log; see WriteLog.
func Write(w http.ResponseWriter, err error) {
	status, body := Response(err)
	var se *statusError
	if errors.As(err, &se) && se.allow != "" {
		w.Header().Set("Allow", se.allow)
	}
	WriteJSON(w, status, body)
}

// WriteLog is Write plus one log record on logger: a 5xx at Error level
// with the error's text (which the client does not see), a 4xx at Debug
// level with the kind and field. The record names the method and the path,
// never the query string, the headers or the body. A nil logger logs
// nothing.
func WriteLog(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	status, body := Response(err)
	if logger != nil {
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", status, "kind", body.Error.Kind}
		if status >= 500 {
			logger.ErrorContext(r.Context(), "http: request failed", append(attrs, "err", errText(err))...)
		} else {
			logger.DebugContext(r.Context(), "http: request rejected", append(attrs, "field", body.Error.Field)...)
		}
	}
	Write(w, err)
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// WriteJSON writes v as JSON with the given status and Content-Type
// application/json. Values that cannot be encoded are a bug; they produce a
// 500 internal error body instead.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(Body{Detail{Kind: mgmt.KindInternal.Code(), Message: internalMessage}})
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// statusError is an invalid-kind error with an HTTP status that no kind
// maps to (405, 413, 415).
type statusError struct {
	status int
	allow  string // the Allow header of a 405
	err    *mgmt.Error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// MethodNotAllowed returns the error of a 405 response. allow lists the
// methods the path accepts; Write sends them in the Allow header.
func MethodNotAllowed(method string, allow ...string) error {
	msg := "method " + strconv.Quote(method) + " is not allowed here"
	if len(allow) > 0 {
		msg += "; use " + strings.Join(allow, ", ")
	}
	return &statusError{
		status: http.StatusMethodNotAllowed,
		allow:  strings.Join(allow, ", "),
		err:    mgmt.Invalid("method", "%s", msg),
	}
}

// UnsupportedMediaType returns the error of a 415 response to a body sent
// with the given Content-Type, naming the types accepted (application/json
// when none are given).
func UnsupportedMediaType(contentType string, accepted ...string) error {
	if len(accepted) == 0 {
		accepted = []string{ContentType}
	}
	return &statusError{
		status: http.StatusUnsupportedMediaType,
		err:    mgmt.Invalid("Content-Type", "%q is not supported; send %s", contentType, strings.Join(accepted, " or ")),
	}
}

// TooLarge returns the error of a 413 response to a body over limit bytes.
func TooLarge(limit int64) error { return tooLarge(limit) }

func tooLarge(limit int64) *statusError {
	return &statusError{
		status: http.StatusRequestEntityTooLarge,
		err:    mgmt.Invalid("body", "is larger than the limit of %d bytes", limit),
	}
}
