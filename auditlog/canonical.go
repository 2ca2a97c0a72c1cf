package auditlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// wire is the canonical form of an event: a JSON object whose keys are in
// byte order (the fields below are declared in that order, and
// encoding/json writes a map's keys sorted), every key present but
// "details", which is left out when there are none.
type wire struct {
	Action   string            `json:"action"`
	Actor    string            `json:"actor"`
	At       string            `json:"at"`
	Details  map[string]string `json:"details,omitempty"`
	Outcome  string            `json:"outcome"`
	Reason   string            `json:"reason"`
	Resource string            `json:"resource"`
	Tenant   string            `json:"tenant"`
}

// Canonical returns the canonical encoding of e: one line of JSON (no
// trailing newline), keys in byte order (action, actor, at, details,
// outcome, reason, resource, tenant), "at" the time in UTC in RFC 3339
// with nanoseconds and no trailing zeros (time.RFC3339Nano), "details"
// left out when empty, encoding/json's escaping. The same event always
// gives the same bytes, and Decode(Canonical(e)) gives e back but for
// what the encoding cannot hold: the time's location and monotonic
// reading, the difference between nil and empty Details, and invalid
// UTF-8 (replaced by U+FFFD). What is stored and hashed is these bytes,
// so what is verified is exactly what was written.
func Canonical(e mgmt.AuditEvent) ([]byte, error) {
	return appendCanonical(nil, e)
}

func appendCanonical(dst []byte, e mgmt.AuditEvent) ([]byte, error) {
	if y := e.At.UTC().Year(); y < 0 || y > 9999 {
		return dst, fmt.Errorf("auditlog: encode event %s %s: the time %s is outside years 0000 to 9999", e.Action, e.Resource, e.At)
	}
	w := wire{
		Action:   e.Action,
		Actor:    e.Actor,
		At:       e.At.UTC().Format(time.RFC3339Nano),
		Outcome:  e.Outcome,
		Reason:   e.Reason,
		Resource: e.Resource,
		Tenant:   e.Tenant,
	}
	if len(e.Details) > 0 {
		w.Details = e.Details
	}
	b, err := json.Marshal(w)
	if err != nil {
		return dst, fmt.Errorf("auditlog: encode event %s %s: %w", e.Action, e.Resource, err)
	}
	return append(dst, b...), nil
}

// Decode parses a canonical encoding back into an event. It is strict:
// unknown keys, a missing key or trailing data are errors.
func Decode(b []byte) (mgmt.AuditEvent, error) {
	var w struct {
		Action   *string           `json:"action"`
		Actor    *string           `json:"actor"`
		At       *string           `json:"at"`
		Details  map[string]string `json:"details"`
		Outcome  *string           `json:"outcome"`
		Reason   *string           `json:"reason"`
		Resource *string           `json:"resource"`
		Tenant   *string           `json:"tenant"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return mgmt.AuditEvent{}, fmt.Errorf("auditlog: decode event: %w", err)
	}
	if dec.More() {
		return mgmt.AuditEvent{}, fmt.Errorf("auditlog: decode event: data after the object")
	}
	for name, p := range map[string]*string{"action": w.Action, "actor": w.Actor, "at": w.At,
		"outcome": w.Outcome, "reason": w.Reason, "resource": w.Resource, "tenant": w.Tenant} {
		if p == nil {
			return mgmt.AuditEvent{}, fmt.Errorf("auditlog: decode event: key %q is missing", name)
		}
	}
	at, err := time.Parse(time.RFC3339Nano, *w.At)
	if err != nil {
		return mgmt.AuditEvent{}, fmt.Errorf("auditlog: decode event: at: %w", err)
	}
	if y := at.UTC().Year(); y < 0 || y > 9999 {
		return mgmt.AuditEvent{}, fmt.Errorf("auditlog: decode event: at %s is outside years 0000 to 9999 in UTC", *w.At)
	}
	return mgmt.AuditEvent{
		At: at.UTC(), Actor: *w.Actor, Action: *w.Action, Resource: *w.Resource, Tenant: *w.Tenant,
		Outcome: *w.Outcome, Reason: *w.Reason, Details: w.Details,
	}, nil
}
