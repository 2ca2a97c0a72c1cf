package ledgerhttp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	mgmt "github.com/hms-platform/mgmt"
)

// maxKeys bounds the object keys of a request body: a body with more is
// refused as soon as the scan meets one too many.
const maxKeys = 64

// transferRequest is the body of POST /ach/transfer. Amount stays raw so
// that its JSON number literal is parsed exactly.
type transferRequest struct {
	From   *string         `json:"from"`
	To     *string         `json:"to"`
	Amount json.RawMessage `json:"amount"`
	Code   *uint16         `json:"code"`
}

// parseAmount reads a JSON number of dollars into exact cents: the number
// literal's text (json.Number) is parsed by mgmt.ParseDollars, never
// through a float. It must be more than 0 and at most MaxAmount; strings,
// null, exponents and more than two decimals are refused.
func parseAmount(field string, raw json.RawMessage) (mgmt.Money, error) {
	if raw == nil {
		return 0, mgmt.Invalid(field, "is required: a number of dollars such as 250000 or 12.50")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil { // raw is one valid JSON value
		return 0, mgmt.Invalid(field, "is not valid JSON")
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, mgmt.Invalid(field, "expected a number of dollars such as 250000 or 12.50, got %s", jsonKind(v))
	}
	m, err := mgmt.ParseDollars(n.String())
	if err != nil {
		return 0, mgmt.Invalid(field, "%w", err)
	}
	switch {
	case m <= 0:
		return 0, mgmt.Invalid(field, "must be more than 0, got %s", n)
	case m > MaxAmount:
		return 0, mgmt.Invalid(field, "%s is more than the largest transfer, %s", n, MaxAmount)
	}
	return m, nil
}

// jsonKind names the JSON type of a decoded value for error messages.
func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		if len(v) > 40 {
			return "a JSON string"
		}
		return fmt.Sprintf("the JSON string %q", v)
	case bool:
		return "true or false"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// requiredName checks a required account or agency name of a body.
func requiredName(field string, s *string) (string, error) {
	switch {
	case s == nil:
		return "", mgmt.Invalid(field, "is required")
	case *s == "":
		return "", mgmt.Invalid(field, "is empty")
	case !validName(*s):
		return "", mgmt.Invalid(field, "must be 1 to %d bytes without control characters or surrounding spaces", MaxNameBytes)
	}
	return *s, nil
}

// idempotencyKey returns the request's Idempotency-Key, "" when it has
// none: 1 to MaxKeyBytes visible ASCII characters, given once.
func idempotencyKey(r *http.Request) (string, error) {
	const field = "Idempotency-Key"
	vs := r.Header.Values(field)
	switch {
	case len(vs) == 0:
		return "", nil
	case len(vs) > 1:
		return "", mgmt.Invalid(field, "is given %d times; give it once", len(vs))
	}
	k := vs[0]
	if k == "" || len(k) > MaxKeyBytes {
		return "", mgmt.Invalid(field, "must be 1 to %d characters", MaxKeyBytes)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return "", mgmt.Invalid(field, "must be visible ASCII characters (no spaces), such as a UUID")
		}
	}
	return k, nil
}

// noBody refuses a request body on endpoints that take none.
func noBody(r *http.Request) error {
	if r.ContentLength > 0 || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody) {
		var b [1]byte
		if n, _ := r.Body.Read(b[:]); n > 0 {
			return mgmt.Invalid("body", "this endpoint takes no body")
		}
	}
	return nil
}
