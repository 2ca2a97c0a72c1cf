package patch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/Masterminds/semver/v3"

	mgmt "github.com/hms-platform/mgmt"
)

// Patch is a time-boxed configuration change for one service of one tenant:
// "raise ARTIST_REGISTRY_API's rate limit to 200 rps and run 6 replicas for
// the IACB tenant from 20 Nov to 5 Dec". Decode reads it from the seed's
// YAML or JSON; Validate checks its shape (policies come later, in a
// Validator).
type Patch struct {
	// ID is assigned by the Store when the patch is submitted; 0 before.
	ID int64 `json:"id,omitempty"`
	// Service names the catalog service the patch changes.
	Service string `json:"service"`
	// VersionSelector is a semver range such as ">=2.1.0"; agents whose
	// service version it does not match ignore the patch. Empty or "*"
	// matches every version.
	VersionSelector string `json:"version_selector,omitempty"`
	// Changes maps configuration keys (dotted paths into the agent's YAML
	// config, such as "rate_limit_rps" or "limits.cpu") to new values.
	Changes Changes `json:"changes"`
	// Tenant is the tenant whose agents receive the patch.
	Tenant string `json:"tenant"`
	// Window is when the change is live: published at Start, reverted at
	// End.
	Window Window `json:"window"`
	// Author submitted the patch; the approver must be someone else.
	Author string `json:"author,omitempty"`
	// Reason says why, for the audit trail.
	Reason string `json:"reason,omitempty"`
	// Labels slice patches for audits (agency, program, fiscalYear, ...).
	Labels mgmt.Labels `json:"labels,omitempty"`
}

// Window is the half-open interval [Start, End) in which a patch is live.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Overlaps reports whether w and o share an instant.
func (w Window) Overlaps(o Window) bool {
	return w.Start.Before(o.End) && o.Start.Before(w.End)
}

// Contains reports whether t is inside w.
func (w Window) Contains(t time.Time) bool {
	return !t.Before(w.Start) && t.Before(w.End)
}

// Changes maps configuration keys to typed values. A value is one of
// int64, float64, string or bool; Decode produces nothing else, and
// Validate rejects anything else.
type Changes map[string]any

// Keys returns the keys in order.
func (c Changes) Keys() []string { return slices.Sorted(maps.Keys(c)) }

// Int returns the value of key as an integer, when it is one (a float64
// with no fractional part counts).
func (c Changes) Int(key string) (int64, bool) {
	switch v := c[key].(type) {
	case int64:
		return v, true
	case float64:
		if v == float64(int64(v)) {
			return int64(v), true
		}
	}
	return 0, false
}

// Limits on a patch's shape. They keep a patch small (one service, a few
// knobs) and every stored field bounded.
const (
	MaxChanges     = 100
	MaxKeyLen      = 200
	MaxStringValue = 4096
	MaxNameLen     = 63
	MaxTextLen     = 1024
	MaxLabels      = mgmt.MaxLabels
)

// Validate checks the patch's shape: required fields, names, keys, value
// types and the selector. It returns every problem at once (joined
// *mgmt.Error values of KindInvalid, each naming its field). It does not
// check policies (caps, windows against the clock, quotas, conflicts):
// that is the Validator's job.
func (p *Patch) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(ValidateName("service", p.Service))
	add(ValidateName("tenant", p.Tenant))
	if _, err := ParseSelector(p.VersionSelector); err != nil {
		add(err)
	}
	if len(p.Changes) == 0 {
		add(mgmt.Invalid("changes", "is empty: a patch changes at least one key"))
	}
	if len(p.Changes) > MaxChanges {
		add(mgmt.Invalid("changes", "has %d keys, more than %d", len(p.Changes), MaxChanges))
	}
	for _, k := range p.Changes.Keys() {
		add(ValidateKey("changes", k))
		add(validateValue("changes."+k, p.Changes[k]))
	}
	switch {
	case p.Window.Start.IsZero():
		add(mgmt.Invalid("window.start", "is required"))
	case p.Window.End.IsZero():
		add(mgmt.Invalid("window.end", "is required"))
	}
	// Free text: valid UTF-8 (so no lone surrogates); one-line fields
	// without control characters, the reason may span lines.
	add(mgmt.ValidateText("author", p.Author, true))
	add(mgmt.ValidateText("version_selector", p.VersionSelector, true))
	add(mgmt.ValidateText("reason", p.Reason, false))
	if len(p.Author) > MaxTextLen {
		add(mgmt.Invalid("author", "is %d bytes, more than %d", len(p.Author), MaxTextLen))
	}
	if len(p.Reason) > MaxTextLen {
		add(mgmt.Invalid("reason", "is %d bytes, more than %d", len(p.Reason), MaxTextLen))
	}
	if p.Labels != nil { // at most MaxLabels (mgmt.MaxLabels), Kubernetes syntax
		add(p.Labels.Validate("labels"))
	}
	return joinErrs(errs)
}

// joinErrs is errors.Join that returns the lone error unwrapped.
func joinErrs(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return joined(errs)
}

type joined []error

func (j joined) Error() string {
	s := make([]string, len(j))
	for i, e := range j {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

func (j joined) Unwrap() []error { return j }

// ValidateName checks a catalog service or tenant name. The grammar, part
// of the API (the seed's "ARTIST_REGISTRY_API", "IACB"): 1–63 letters,
// digits, '_', '-' and '.', starting and ending with a letter or digit —
// [A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?. So ".." and names with '/',
// spaces or control characters are not names.
func ValidateName(field, s string) error {
	if s == "" {
		return mgmt.Invalid(field, "is required")
	}
	if err := mgmt.ValidateText(field, s, true); err != nil {
		return err
	}
	if len(s) > MaxNameLen {
		return mgmt.Invalid(field, "is %d bytes, more than %d", len(s), MaxNameLen)
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	ok := alnum(s[0]) && alnum(s[len(s)-1])
	for i := 1; ok && i < len(s)-1; i++ {
		ok = alnum(s[i]) || s[i] == '-' || s[i] == '_' || s[i] == '.'
	}
	if !ok {
		return mgmt.Invalid(field, "%q: only letters, digits, '-', '_' and '.' are allowed, starting and ending with a letter or digit", s)
	}
	return nil
}

// ValidateKey checks a configuration key: dot-separated identifiers
// (letters, digits, '_'; not starting with a digit).
func ValidateKey(field, k string) error {
	if k == "" {
		return mgmt.Invalid(field, "has an empty key")
	}
	if len(k) > MaxKeyLen {
		return mgmt.Invalid(field, "key of %d bytes, more than %d", len(k), MaxKeyLen)
	}
	for _, part := range strings.Split(k, ".") {
		if part == "" {
			return mgmt.Invalid(field+"."+k, "has an empty path segment")
		}
		for i, r := range part {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || i > 0 && r >= '0' && r <= '9'
			if !ok {
				return mgmt.Invalid(field+"."+k, "is not a key: use letters, digits and '_', dot-separated, not starting with a digit")
			}
		}
	}
	return nil
}

func validateValue(field string, v any) error {
	switch v := v.(type) {
	case int64, bool:
		return nil
	case float64:
		if v != v || v > 1e308 || v < -1e308 {
			return mgmt.Invalid(field, "is not a finite number")
		}
		return nil
	case string:
		if !utf8.ValidString(v) {
			return mgmt.Invalid(field, "is not valid UTF-8")
		}
		if len(v) > MaxStringValue {
			return mgmt.Invalid(field, "is a string of %d bytes, more than %d", len(v), MaxStringValue)
		}
		return nil
	case nil:
		return mgmt.Invalid(field, "is null: a change sets a value")
	default:
		return mgmt.Invalid(field, "is a %T: a change is an integer, number, string or boolean", v)
	}
}

// Selector is a parsed version selector.
type Selector struct {
	src string
	c   *semver.Constraints
}

// ParseSelector parses a semver range such as ">=2.1.0", "^2.1", "2.x" or
// ">=2.1.0, <3". Empty and "*" match every version.
func ParseSelector(s string) (Selector, error) {
	if strings.TrimSpace(s) == "" || strings.TrimSpace(s) == "*" {
		return Selector{src: s}, nil
	}
	if len(s) > MaxTextLen {
		return Selector{}, mgmt.Invalid("version_selector", "is %d bytes, more than %d", len(s), MaxTextLen)
	}
	c, err := semver.NewConstraint(s)
	if err != nil {
		return Selector{}, mgmt.Invalid("version_selector", "%q is not a semver range: %v", s, err)
	}
	return Selector{src: s, c: c}, nil
}

// String returns the selector's source.
func (s Selector) String() string { return s.src }

// Matches reports whether version satisfies the selector. A version that is
// not semver matches only the match-all selector. Pre-release versions
// (2.1.0-cdc-boosters) match a range whose bounds allow them, as semver
// ranges define.
func (s Selector) Matches(version string) bool {
	if s.c == nil {
		return true
	}
	v, err := semver.NewVersion(version)
	if err != nil {
		return false
	}
	if ok, _ := s.c.Validate(v); ok {
		return true
	}
	// Let a range such as ">=2.1.0" include 2.1.0-cdc-boosters builds of
	// later releases: compare the release without its pre-release part.
	if v.Prerelease() != "" {
		r, err := v.SetPrerelease("")
		if err == nil {
			ok, _ := s.c.Validate(&r)
			return ok
		}
	}
	return false
}

// Status is where a patch is in its lifecycle:
//
//	QUEUED → APPROVED → PUBLISHED → APPLIED (every targeted agent acked)
//	                              → PARTIAL (some applied, some failed)
//	                              → FAILED  (none applied)
//	QUEUED → REJECTED (by a policy or an approver)
//	any live status → EXPIRED (window ended) or ROLLED_BACK
type Status string

// The statuses.
const (
	Queued     Status = "QUEUED"
	Approved   Status = "APPROVED"
	Published  Status = "PUBLISHED"
	Applied    Status = "APPLIED"
	Partial    Status = "PARTIAL"
	Failed     Status = "FAILED"
	Rejected   Status = "REJECTED"
	Expired    Status = "EXPIRED"
	RolledBack Status = "ROLLED_BACK"
)

// statuses lists every status, the live ones first.
var statuses = [...]Status{Queued, Approved, Published, Applied, Partial, Failed, Rejected, Expired, RolledBack}

// Statuses returns every status, in a slice of the caller's own.
func Statuses() []Status { return slices.Clone(statuses[:]) }

// LiveStatuses returns the statuses Status.Live accepts, in a slice of the
// caller's own: what stores and the Manager select live patches by.
func LiveStatuses() []Status {
	var out []Status
	for _, s := range statuses {
		if s.Live() {
			out = append(out, s)
		}
	}
	return out
}

// Live reports whether a patch in status s may still change (or has
// changed) configuration: it counts for quotas and conflicts.
func (s Status) Live() bool {
	switch s {
	case Queued, Approved, Published, Applied, Partial, Failed:
		return true
	}
	return false
}

// Delivered reports whether a patch in status s has been published to
// agents and not yet reverted.
func (s Status) Delivered() bool {
	switch s {
	case Published, Applied, Partial, Failed:
		return true
	}
	return false
}

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool { return slices.Contains(statuses[:], s) }

// ParseStatus returns the status named s (case-sensitive, as in the API).
func ParseStatus(field, s string) (Status, error) {
	if st := Status(s); st.Valid() {
		return st, nil
	}
	return "", mgmt.Invalid(field, "%q is not a status (want one of %v)", s, statuses)
}

// Violation is a policy a patch failed.
type Violation struct {
	Policy  string `json:"policy"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (v Violation) String() string {
	if v.Field == "" {
		return fmt.Sprintf("%s: %s", v.Policy, v.Message)
	}
	return fmt.Sprintf("%s: %s: %s", v.Policy, v.Field, v.Message)
}

// Transition records one status change: who moved the patch, when, why.
type Transition struct {
	From   Status    `json:"from,omitempty"` // empty for the submission
	To     Status    `json:"to"`
	Actor  string    `json:"actor"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// Record is a stored patch with its lifecycle.
type Record struct {
	Patch      Patch        `json:"patch"`
	Status     Status       `json:"status"`
	Created    time.Time    `json:"created"`
	Updated    time.Time    `json:"updated"`
	Violations []Violation  `json:"violations,omitempty"`
	History    []Transition `json:"history"`
	// Targets are the agents the patch was published to: every agent of
	// the tenant running the service at a matching version when it was
	// published, plus any that acknowledged it later.
	Targets []string `json:"targets,omitempty"`
	// ApplySeq and RevertSeq are the stream positions of the apply and
	// revert messages, once sent.
	ApplySeq  string `json:"apply_seq,omitempty"`
	RevertSeq string `json:"revert_seq,omitempty"`
	// Acks holds the latest acknowledgement of each agent for each op,
	// ordered by agent then op.
	Acks []Ack `json:"acks,omitempty"`
}

// Clone returns a deep copy of r.
func (r Record) Clone() Record {
	r.Patch.Changes = maps.Clone(r.Patch.Changes)
	r.Patch.Labels = maps.Clone(r.Patch.Labels)
	r.Violations = slices.Clone(r.Violations)
	r.History = slices.Clone(r.History)
	r.Targets = slices.Clone(r.Targets)
	r.Acks = slices.Clone(r.Acks)
	return r
}

// AckOf returns the acknowledgement of agent for op, if any.
func (r *Record) AckOf(agent string, op Op) (Ack, bool) {
	for _, a := range r.Acks {
		if a.Agent == agent && a.Op == op {
			return a, true
		}
	}
	return Ack{}, false
}

// SetAck stores a as the latest acknowledgement of its agent for its op,
// keeping Acks ordered, and reports whether anything changed. An ack
// identical to the stored one (a redelivery) changes nothing.
func (r *Record) SetAck(a Ack) bool {
	i, found := slices.BinarySearchFunc(r.Acks, a, CompareAck)
	if found {
		if r.Acks[i].Equal(a) {
			return false
		}
		r.Acks[i] = a
		return true
	}
	r.Acks = slices.Insert(r.Acks, i, a)
	return true
}

// Equal reports whether a and b are the same acknowledgement: every field
// equal, At as an instant (zone and monotonic reading aside).
func (a Ack) Equal(b Ack) bool {
	if !a.At.Equal(b.At) {
		return false
	}
	a.At, b.At = time.Time{}, time.Time{}
	return a == b
}

// CompareAck orders acknowledgements as Record.Acks keeps them: by agent,
// then op.
func CompareAck(x, y Ack) int {
	if c := strings.Compare(x.Agent, y.Agent); c != 0 {
		return c
	}
	return strings.Compare(string(x.Op), string(y.Op))
}

// MarshalJSON writes the changes as a JSON object whose numbers keep their
// type: an int64 without a decimal point, a float64 always with one (2.0),
// so that UnmarshalJSON — and every store and sink that carries changes as
// JSON — reads back exactly the types Decode produced.
func (c Changes) MarshalJSON() ([]byte, error) {
	if c == nil {
		return []byte("null"), nil
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range c.Keys() {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		switch v := c[k].(type) {
		case float64:
			if math.IsInf(v, 0) || math.IsNaN(v) {
				return nil, mgmt.Invalid("changes."+k, "is not a finite number")
			}
			s := strconv.FormatFloat(v, 'g', -1, 64)
			if !strings.ContainsAny(s, ".eE") {
				s += ".0"
			}
			b.WriteString(s)
		case int64, string, bool:
			vb, _ := json.Marshal(v)
			b.Write(vb)
		default:
			return nil, validateValue("changes."+k, v)
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads what MarshalJSON writes: a number without '.', 'e'
// or 'E' is an int64, any other a float64; strings and booleans as they
// are. Other values are errors naming the key.
func (c *Changes) UnmarshalJSON(data []byte) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		*c = nil
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return mgmt.Invalid("changes", "is not a JSON object: %v", err)
	}
	out := make(Changes, len(raw))
	for k, r := range raw {
		r = bytes.TrimSpace(r)
		switch {
		case len(r) > 0 && (r[0] == '-' || r[0] >= '0' && r[0] <= '9'):
			s := string(r)
			if strings.ContainsAny(s, ".eE") {
				f, err := strconv.ParseFloat(s, 64)
				if err != nil {
					return mgmt.Invalid("changes."+k, "%s is not a finite number", s)
				}
				out[k] = f
			} else {
				n, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return mgmt.Invalid("changes."+k, "%s is not an integer in the range of int64", s)
				}
				out[k] = n
			}
		default:
			var v any
			if err := json.Unmarshal(r, &v); err != nil {
				return mgmt.Invalid("changes."+k, "%v", err)
			}
			switch v.(type) {
			case string, bool:
				out[k] = v
			default:
				return mgmt.Invalid("changes."+k, "is %s: a change is an integer, number, string or boolean", string(r))
			}
		}
	}
	*c = out
	return nil
}
