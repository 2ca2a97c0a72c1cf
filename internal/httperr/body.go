package httperr

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/strictjson"
)

// DefaultMaxBody is the request body limit of ReadBody when the caller
// gives none: 1 MiB.
const DefaultMaxBody int64 = 1 << 20

// CheckContentType accepts a request whose body is JSON: Content-Type
// application/json (with no charset or charset utf-8), or no Content-Type
// at all. Anything else is an UnsupportedMediaType error (415).
func CheckContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return UnsupportedMediaType(ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return UnsupportedMediaType(ct)
	}
	return nil
}

// ReadBody checks the request's Content-Type and reads its body, at most
// limit bytes (DefaultMaxBody when limit ≤ 0). A larger body is a TooLarge
// error (413); an unreadable one is invalid. w is needed so that the server
// closes the connection after an oversized body.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if err := CheckContentType(r); err != nil {
		return nil, err
	}
	return ReadLimited(w, r, limit)
}

// ReadLimited is ReadBody for an API that checks the Content-Type itself
// (one that takes more than JSON).
func ReadLimited(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	if r.ContentLength > limit {
		return nil, TooLarge(limit)
	}
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, TooLarge(limit)
		}
		return nil, mgmt.Invalid("body", "could not be read: %v", err)
	}
	return b, nil
}

// Decode is DecodeContext without a context, for callers that have none.
func Decode(data []byte, field string, v any) error {
	return DecodeContext(context.Background(), data, field, v)
}

// DecodeContext decodes one JSON value from data into v, strictly, with
// strictjson.Decode: syntax errors, invalid UTF-8, lone surrogate escapes,
// repeated keys, keys that are unknown or differ from a field only in case,
// values of the wrong type, an empty input and data after the value are
// errors. Errors are *mgmt.Error of kind invalid whose Field is the JSON
// path of the problem, prefixed by field ("trace[3]") when that is not
// empty; problems with the document as a whole name field, or "body" at
// the top. An error returned by a json.Unmarshaler inside v is kept, with
// its Field prefixed the same way. Once ctx ends, DecodeContext stops with
// ctx's error.
func DecodeContext(ctx context.Context, data []byte, field string, v any) error {
	return strictjson.Decode(ctx, data, field, v)
}

// Join joins a field path and a sub-path with a dot (directly before an
// index such as "[2]"), omitting empty parts.
func Join(field, sub string) string { return strictjson.Join(field, sub) }

// PrefixField returns err with its field prefixed by field (see Join).
// Errors other than *mgmt.Error are returned unchanged.
func PrefixField(field string, err error) error {
	var me *mgmt.Error
	if field == "" || !errors.As(err, &me) {
		return err
	}
	return mgmt.Errorf(me.Kind, Join(field, me.Field), "%s", message(me))
}
