package redis

import (
	"encoding/json"
	"fmt"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/patch"
)

// The JSON of a stream entry is the Message's, Seq aside (it is the entry
// ID). patch.Changes keeps each number's Go type through JSON (2.0 is a
// float64, 2 an int64); times are RFC 3339 with nanoseconds and the zone
// offset.

// wireMessage is patch.Message on the wire.
type wireMessage struct {
	Op    patch.Op    `json:"op"`
	Patch patch.Patch `json:"patch"`
	Sent  time.Time   `json:"sent"`
}

func encodeMessage(m patch.Message) ([]byte, error) {
	return encodeJSON(wireMessage{Op: m.Op, Patch: m.Patch, Sent: m.Sent})
}

func decodeMessage(b []byte) (patch.Message, error) {
	var w wireMessage
	if err := decodeJSON(b, &w); err != nil {
		return patch.Message{}, err
	}
	return patch.Message{Op: w.Op, Patch: w.Patch, Sent: w.Sent}, nil
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
