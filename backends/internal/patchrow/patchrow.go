package patchrow

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/patch"
)

// storedPatch is the JSON of a patch in the database: the patch's own
// fields but its ID (the row's), and its changes typed, so that an int64
// stays an int64 (and 3.0 a float64) whatever reads the JSON. The
// shallower Changes field hides the embedded one from encoding/json. (Were
// patch.Patch to get a MarshalJSON method, it would be promoted here and
// bypass the typing: TestPatchRoundTrip would fail.)
type storedPatch struct {
	patch.Patch
	Changes typedChanges `json:"changes"`
}

// typedChanges encodes each value as {"int": "…"}, {"float": "…"},
// {"string": "…"} or {"bool": true}; numbers as strings, exact.
type typedChanges patch.Changes

type typedValue struct {
	Int    *string `json:"int,omitempty"`
	Float  *string `json:"float,omitempty"`
	String *string `json:"string,omitempty"`
	Bool   *bool   `json:"bool,omitempty"`
}

func (c typedChanges) MarshalJSON() ([]byte, error) {
	if c == nil {
		return []byte("null"), nil
	}
	m := make(map[string]typedValue, len(c))
	for k, v := range c {
		var tv typedValue
		switch v := v.(type) {
		case int64:
			s := strconv.FormatInt(v, 10)
			tv.Int = &s
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, mgmt.Invalid("patch.changes."+k, "is not a finite number")
			}
			s := strconv.FormatFloat(v, 'g', -1, 64)
			tv.Float = &s
		case string:
			tv.String = &v
		case bool:
			tv.Bool = &v
		default:
			return nil, mgmt.Invalid("patch.changes."+k, "is a %T: a change is an int64, float64, string or bool", v)
		}
		m[k] = tv
	}
	return json.Marshal(m)
}

func (c *typedChanges) UnmarshalJSON(b []byte) error {
	var m map[string]typedValue
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if m == nil {
		*c = nil
		return nil
	}
	out := make(typedChanges, len(m))
	for k, tv := range m {
		switch {
		case tv.Int != nil:
			v, err := strconv.ParseInt(*tv.Int, 10, 64)
			if err != nil {
				return fmt.Errorf("changes.%s: %w", k, err)
			}
			out[k] = v
		case tv.Float != nil:
			v, err := strconv.ParseFloat(*tv.Float, 64)
			if err != nil {
				return fmt.Errorf("changes.%s: %w", k, err)
			}
			out[k] = v
		case tv.String != nil:
			out[k] = *tv.String
		case tv.Bool != nil:
			out[k] = *tv.Bool
		default:
			return fmt.Errorf("changes.%s: no typed value", k)
		}
	}
	*c = out
	return nil
}

// EncodePatch returns the JSON stored for p. A string that is not valid
// UTF-8 is refused: JSON would store U+FFFD in its place.
func EncodePatch(p patch.Patch) (string, error) {
	if err := checkPatchUTF8(&p); err != nil {
		return "", err
	}
	sp := storedPatch{Patch: p, Changes: typedChanges(p.Changes)}
	sp.Patch.ID = 0
	sp.Patch.Changes = nil
	b, err := json.Marshal(sp)
	if err != nil {
		var me *mgmt.Error
		if errors.As(err, &me) {
			return "", me
		}
		return "", mgmt.Invalid("patch", "cannot be stored: %v", err)
	}
	return string(b), nil
}

// DecodePatch reads the JSON of the patch with the given ID.
func DecodePatch(id int64, s string) (patch.Patch, error) {
	var sp storedPatch
	if err := json.Unmarshal([]byte(s), &sp); err != nil {
		return patch.Patch{}, fmt.Errorf("patch %d: %w", id, err)
	}
	p := sp.Patch
	p.ID = id
	p.Changes = patch.Changes(sp.Changes)
	return p, nil
}

// EncodeJSON returns v's JSON; nil slices as [].
func EncodeJSON[T any](field string, v []T) (string, error) {
	if v == nil {
		return "[]", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", mgmt.Invalid(field, "cannot be stored: %v", err)
	}
	return string(b), nil
}

// DecodeJSON reads a JSON array; an empty one is nil.
func DecodeJSON[T any](id int64, field, s string) ([]T, error) {
	var v []T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("patch %d: %s: %w", id, field, err)
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

// CheckRecord checks what the schema needs of r beyond CheckNew and
// CheckUpdate: times the stored text can hold, and acks with one entry
// per agent and op. It sorts r.Acks as the store returns them.
func CheckRecord(r *patch.Record) error {
	check := func(field string, t interface{ Year() int }) error {
		if y := t.Year(); y < 0 || y > 9999 {
			return mgmt.Invalid(field, "year %d is out of range (0–9999)", y)
		}
		return nil
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(check("created", r.Created.UTC()))
	add(check("updated", r.Updated.UTC()))
	add(check("patch.window.start", r.Patch.Window.Start.UTC()))
	add(check("patch.window.end", r.Patch.Window.End.UTC()))
	for i := range r.History {
		add(check(fmt.Sprintf("history[%d].at", i), r.History[i].At.UTC()))
	}
	for i := range r.Acks {
		add(check(fmt.Sprintf("acks[%d].at", i), r.Acks[i].At.UTC()))
	}
	for i, v := range r.Violations {
		if !utf8.ValidString(v.Policy) || !utf8.ValidString(v.Field) || !utf8.ValidString(v.Message) {
			add(mgmt.Invalid(fmt.Sprintf("violations[%d]", i), "is not valid UTF-8"))
		}
	}
	for i, t := range r.Targets {
		if !utf8.ValidString(t) {
			add(mgmt.Invalid(fmt.Sprintf("targets[%d]", i), "is not valid UTF-8"))
		}
	}
	slices.SortStableFunc(r.Acks, patch.CompareAck)
	for i := 1; i < len(r.Acks); i++ {
		if patch.CompareAck(r.Acks[i-1], r.Acks[i]) == 0 {
			add(mgmt.Invalid("acks", "agent %q has two acknowledgements of %s: use Record.SetAck", r.Acks[i].Agent, r.Acks[i].Op))
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// ChangedAcks returns the acks of cur that old (sorted) lacks or holds
// with other values: what an Update writes.
func ChangedAcks(old, cur []patch.Ack) []patch.Ack {
	var out []patch.Ack
	for _, a := range cur {
		i, found := slices.BinarySearchFunc(old, a, patch.CompareAck)
		if !found || !old[i].Equal(a) {
			out = append(out, a)
		}
	}
	return out
}

func checkPatchUTF8(p *patch.Patch) error {
	for _, f := range []struct{ field, s string }{
		{"patch.service", p.Service}, {"patch.version_selector", p.VersionSelector}, {"patch.tenant", p.Tenant},
		{"patch.author", p.Author}, {"patch.reason", p.Reason},
	} {
		if !utf8.ValidString(f.s) {
			return mgmt.Invalid(f.field, "is not valid UTF-8")
		}
	}
	for k, v := range p.Labels {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return mgmt.Invalid("patch.labels."+strings.ToValidUTF8(k, "\uFFFD"), "is not valid UTF-8")
		}
	}
	for k, v := range p.Changes {
		if s, ok := v.(string); !utf8.ValidString(k) || ok && !utf8.ValidString(s) {
			return mgmt.Invalid("patch.changes."+strings.ToValidUTF8(k, "\uFFFD"), "is not valid UTF-8")
		}
	}
	return nil
}

// Seconds returns w in whole seconds since the epoch, widened: start at
// or before w.Start, end at or after w.End. The rows of patch_keys hold them,
// and a scope's window is looked up by them: a record whose window
// overlaps w has start_s < end and end_s > start, and starts no earlier
// than start minus its span (end_s - start_s).
func Seconds(w patch.Window) (start, end int64) {
	start, end = w.Start.Unix(), w.End.Unix()
	if w.End.Nanosecond() > 0 {
		end++
	}
	return start, end
}

// Select returns the records of rs other than except that sc selects
// (patch.Scope.Matches), in order: the exact check after a lookup by
// Seconds, which may find more.
func Select(rs []patch.Record, sc patch.Scope, except int64) []patch.Record {
	out := rs[:0]
	for i := range rs {
		if rs[i].Patch.ID != except && sc.Matches(&rs[i]) {
			out = append(out, rs[i])
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// TimeKey returns t, whose UTC year is 0–9999, as the UTC time
// "2006-01-02T15:04:05.000000000Z": 30 bytes of fixed width, whose byte
// order is the times' order.
func TimeKey(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}
