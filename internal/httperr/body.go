package httperr

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	mgmt "github.com/hms-platform/mgmt"
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

// Decode decodes one JSON value from data into v, strictly: unknown object
// fields, values of the wrong type, an empty input and data after the value
// are errors. Errors are *mgmt.Error of kind invalid whose Field is the
// JSON path of the problem, prefixed by field ("trace[3]") when that is not
// empty; problems with the document as a whole name field, or "body" at
// the top. An error returned by a json.Unmarshaler inside v is kept, with
// its Field prefixed the same way.
func Decode(data []byte, field string, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(field, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return mgmt.Invalid(orBody(field), "unexpected data after the JSON value")
	}
	return nil
}

// Join joins a field path and a sub-path with a dot, omitting empty parts.
func Join(field, sub string) string {
	switch {
	case field == "":
		return sub
	case sub == "":
		return field
	}
	return field + "." + sub
}

// PrefixField returns err with its field prefixed by field (see Join).
// Errors other than *mgmt.Error are returned unchanged.
func PrefixField(field string, err error) error {
	var me *mgmt.Error
	if field == "" || !errors.As(err, &me) {
		return err
	}
	return mgmt.Errorf(me.Kind, Join(field, me.Field), "%s", message(me))
}

func orBody(field string) string {
	if field == "" {
		return "body"
	}
	return field
}

func jsonError(field string, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var me *mgmt.Error
	switch {
	case errors.Is(err, io.EOF):
		return mgmt.Invalid(orBody(field), "is empty; a JSON value is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return mgmt.Invalid(orBody(field), "truncated JSON")
	case errors.As(err, &syn):
		return mgmt.Invalid(orBody(field), "invalid JSON at byte %d: %s", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))
	case errors.As(err, &typ):
		f := Join(field, typ.Field)
		return mgmt.Invalid(orBody(f), "expected %s, got a JSON %s", typeName(typ), typ.Value)
	case errors.As(err, &me):
		return PrefixField(field, me)
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return mgmt.Invalid(Join(field, strings.Trim(name, `"`)), "unknown field")
	}
	return mgmt.Invalid(orBody(field), "%s", strings.TrimPrefix(msg, "json: "))
}

func typeName(typ *json.UnmarshalTypeError) string {
	t := typ.Type
	if t == nil {
		return "another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind().String() {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "a list"
	}
	return t.String()
}
