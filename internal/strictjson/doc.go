// Package strictjson is the one JSON input layer of the module's HTTP APIs
// (rules, budget caps, patches): every request body they read goes
// through it, and so follows one set of rules.
//
// A document is refused — with a *mgmt.Error of kind invalid whose Field is
// the JSON path of the problem, such as "labels.agency" or
// "triggers[1].metric" — when it
//
//   - is not JSON (RFC 8259), or holds data after its value;
//   - holds invalid UTF-8 anywhere, or a \u escape of a lone surrogate
//     ("\ud800"), which encoding/json would silently turn into U+FFFD;
//   - repeats a key in an object (encoding/json keeps the last);
//   - nests objects and arrays deeper than MaxDepth (32);
//   - has a key that is not exactly the JSON name of a field of the struct
//     it decodes into: unknown keys, and keys that differ from a field only
//     in case ("MinReplicas"), which encoding/json matches.
//
// How: a Scanner (a hand-written tokenizer) makes one pass over the bytes
// and checks all of the above, walking the target's type alongside to
// check keys against struct fields; then encoding/json decodes the same
// bytes with DisallowUnknownFields, so that for any document both accept
// the value is encoding/json's. The cost is linear in the size of the
// document: each byte is looked at a constant number of times, each
// object's keys are kept in a map, and positions (Lines) are computed
// incrementally. The scan stops with the context's error once the context
// ends (it looks every 1024 tokens).
//
// Value rules (label syntax, service names, …) are not here: they live
// with the types (mgmt.Labels.Validate, mgmt.ValidateServiceName, …).
//
// All functions are safe for concurrent use; a Scanner is not.
package strictjson
