package redis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/patch"
)

// The JSON of a stream entry is the Message's, except that a change's
// number keeps its Go type: a float64 is always written with a '.' or an
// exponent (2 → 2.0) and read back as float64; a number without one is an
// int64, read exactly (encoding/json alone would write float64(2) as 2 and
// read every number as float64). Times are RFC 3339 with nanoseconds and
// the zone offset.

// wireMessage is patch.Message on the wire; Seq is the entry ID, not
// stored.
type wireMessage struct {
	Op    patch.Op  `json:"op"`
	Patch wirePatch `json:"patch"`
	Sent  time.Time `json:"sent"`
}

// plainPatch is patch.Patch without its methods, so that a JSON method
// added to it does not take over wirePatch's encoding.
type plainPatch patch.Patch

// wirePatch is patch.Patch whose Changes keep their types; its Changes
// field shadows the embedded one.
type wirePatch struct {
	plainPatch
	Changes typedChanges `json:"changes"`
}

type typedChanges patch.Changes

func encodeMessage(m patch.Message) ([]byte, error) {
	w := wireMessage{Op: m.Op, Patch: wirePatch{plainPatch: plainPatch(m.Patch), Changes: typedChanges(m.Patch.Changes)}, Sent: m.Sent}
	w.Patch.plainPatch.Changes = nil
	return encodeJSON(w)
}

func decodeMessage(b []byte) (patch.Message, error) {
	var w wireMessage
	if err := decodeJSON(b, &w); err != nil {
		return patch.Message{}, err
	}
	p := patch.Patch(w.Patch.plainPatch)
	p.Changes = patch.Changes(w.Patch.Changes)
	return patch.Message{Op: w.Op, Patch: p, Sent: w.Sent}, nil
}

func encodeJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		var ke *mgmt.Error
		if e, ok := err.(*json.MarshalerError); ok && asMgmt(e.Err, &ke) {
			return nil, ke
		}
		return nil, mgmt.Errorf(mgmt.KindInvalid, "", "redis: cannot encode: %w", err)
	}
	return b, nil
}

func asMgmt(err error, target **mgmt.Error) bool {
	e, ok := err.(*mgmt.Error)
	if ok {
		*target = e
	}
	return ok
}

func decodeJSON(b []byte, v any) error {
	if len(b) == 0 {
		return fmt.Errorf("empty entry")
	}
	return json.Unmarshal(b, v)
}

// MarshalJSON writes the changes with typed numbers.
func (c typedChanges) MarshalJSON() ([]byte, error) {
	if c == nil {
		return []byte("null"), nil
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range patch.Changes(c).Keys() {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		switch v := c[k].(type) {
		case int64:
			b.WriteString(strconv.FormatInt(v, 10))
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, mgmt.Invalid("patch.changes."+k, "is not a finite number")
			}
			s := strconv.FormatFloat(v, 'g', -1, 64)
			if !strings.ContainsAny(s, ".eE") {
				s += ".0"
			}
			b.WriteString(s)
		case string, bool:
			vb, _ := json.Marshal(v)
			b.Write(vb)
		default:
			return nil, mgmt.Invalid("patch.changes."+k, "is a %T: a change is an int64, float64, string or bool", v)
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads changes written by MarshalJSON.
func (c *typedChanges) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*c = nil
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	out := make(typedChanges, len(raw))
	for k, r := range raw {
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		switch v := v.(type) {
		case json.Number:
			s := v.String()
			if strings.ContainsAny(s, ".eE") {
				f, err := strconv.ParseFloat(s, 64)
				if err != nil {
					return fmt.Errorf("change %q: %w", k, err)
				}
				out[k] = f
			} else {
				n, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return fmt.Errorf("change %q: %w", k, err)
				}
				out[k] = n
			}
		case string, bool:
			out[k] = v
		default:
			return fmt.Errorf("change %q is a %T", k, v)
		}
	}
	*c = out
	return nil
}
