package logship

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// Kind says what a Record carries.
type Kind string

// The kinds of Record.
const (
	KindLog   Kind = "log"
	KindAudit Kind = "audit"
)

// Record is one log line or audit event on its way to a search cluster.
type Record struct {
	// ID is unique per record (NewID: 16 random bytes, hex). Sinks that
	// honour it (Elasticsearch's `_id` with `create`) make a resend
	// idempotent.
	ID      string
	Time    time.Time
	Level   string // slog's level name: "INFO", "ERROR"…; "INFO" for audit
	Message string
	// Attrs is a JSON object: the record's attributes (slog's, nested
	// by group) or the audit event.
	Attrs json.RawMessage
	Kind  Kind
}

// Size is what the record counts for against a queue's byte bound.
func (r Record) Size() int64 {
	return int64(len(r.ID) + len(r.Level) + len(r.Message) + len(r.Attrs) + len(r.Kind) + 8)
}

// Validate reports what is wrong with r, if anything.
func (r Record) Validate() error {
	switch {
	case r.ID == "":
		return mgmt.Invalid("record.id", "is required")
	case r.Kind != KindLog && r.Kind != KindAudit:
		return mgmt.Invalid("record.kind", "%q is neither %q nor %q", r.Kind, KindLog, KindAudit)
	case len(r.Attrs) > 0 && !ValidJSON(r.Attrs):
		return mgmt.Invalid("record.attrs", "record %s: not valid JSON", r.ID)
	}
	return nil
}

// NewID returns a Record ID: 16 bytes in hex, the first 6 the Unix time
// in milliseconds (big-endian), the other 10 random. IDs made later sort
// after (to the millisecond, by the wall clock), so that a queue's index
// of IDs grows at its end instead of everywhere at once (a clock set back
// costs only that); 80 random bits keep IDs of the same millisecond
// apart.
func NewID() string {
	var b [16]byte
	// The wall clock, not an injected one: the time part only orders IDs
	// for the index's sake, across processes and restarts; a record's time
	// is Record.Time.
	ms := uint64(time.Now().UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (8 * (5 - i)))
	}
	_, _ = rand.Read(b[6:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}
