// Package httperr is the one place where error kinds (mgmt.Kind) become
// HTTP statuses, and where the module's HTTP APIs write their error bodies.
//
// The mapping:
//
//	invalid          400 Bad Request
//	unauthenticated  401 Unauthorized
//	forbidden        403 Forbidden
//	not found        404 Not Found
//	conflict         409 Conflict
//	unavailable      503 Service Unavailable
//	internal         500 Internal Server Error (and any error without a kind)
//
// A few protocol errors have statuses of their own and are built here:
// MethodNotAllowed (405), TooLarge (413) and UnsupportedMediaType (415);
// their kind is invalid.
//
// Every error body has the same shape:
//
//	{"error": {"kind": "invalid", "field": "maxReplicas", "message": "0 must be at least 1"}}
//
// "field" is the dotted JSON path of the offending input and is omitted when
// there is none. An internal error never shows its text: its message is
// "internal error", and WriteLog records the real error on the server's log.
// Nothing here logs request bodies, headers or query strings.
//
// ReadBody and Decode read request bodies: ReadBody checks the Content-Type
// (application/json or none) and the size limit (DefaultMaxBody, 1 MiB);
// Decode and DecodeContext are strict JSON decoding through
// internal/strictjson (repeated keys, keys in another case, unknown fields,
// invalid UTF-8, lone surrogates, wrong types and trailing data are errors)
// whose errors name the field. ParseID reads the canonical form of a
// numeric ID in a path; anything else is to be answered 404. WrapMux makes an
// http.ServeMux answer unknown paths and wrong methods with the same JSON
// errors instead of plain text.
//
// All functions are safe for concurrent use.
package httperr
