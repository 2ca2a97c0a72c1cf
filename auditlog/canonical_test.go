package auditlog_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auditlog"
)

func TestCanonical(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 6, 9, 30, 0, 123450000, time.FixedZone("EST", -5*3600))
	for _, tc := range []struct {
		name string
		e    mgmt.AuditEvent
		want string
	}{
		{"full", mgmt.AuditEvent{At: at, Actor: "alice", Action: "patch.approve", Resource: "patch/784", Tenant: "nea",
			Outcome: "APPROVED", Reason: "ok", Details: map[string]string{"z": "1", "a": "<2>"}},
			`{"action":"patch.approve","actor":"alice","at":"2026-12-06T14:30:00.12345Z","details":{"a":"\u003c2\u003e","z":"1"},"outcome":"APPROVED","reason":"ok","resource":"patch/784","tenant":"nea"}`},
		{"empty", mgmt.AuditEvent{At: time.Unix(0, 0), Details: map[string]string{}},
			`{"action":"","actor":"","at":"1970-01-01T00:00:00Z","outcome":"","reason":"","resource":"","tenant":""}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := auditlog.Canonical(tc.e)
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(b))
			got, err := auditlog.Decode(b)
			require.NoError(t, err)
			b2, err := auditlog.Canonical(got)
			require.NoError(t, err)
			assert.Equal(t, string(b), string(b2))
			assert.True(t, tc.e.At.Equal(got.At))
		})
	}
}

func TestDecodeStrict(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		``, `{}`, `{"action":"","actor":"","at":"x","outcome":"","reason":"","resource":"","tenant":""}`,
		`{"action":"","actor":"","at":"1970-01-01T00:00:00Z","outcome":"","reason":"","resource":"","tenant":"","extra":1}`,
		`{"action":"","actor":"","at":"1970-01-01T00:00:00Z","outcome":"","reason":"","resource":"","tenant":""} {}`,
	} {
		_, err := auditlog.Decode([]byte(in))
		assert.Error(t, err, in)
	}
}

// FuzzDecode: whatever Decode accepts encodes canonically to bytes that
// decode to the same encoding again.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"action":"a","actor":"b","at":"2026-12-06T14:30:00.12345Z","details":{"k":"v"},"outcome":"ok","reason":"","resource":"r","tenant":"t"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := auditlog.Decode(b)
		if err != nil {
			return
		}
		c, err := auditlog.Canonical(e)
		require.NoError(t, err)
		e2, err := auditlog.Decode(c)
		require.NoError(t, err)
		c2, err := auditlog.Canonical(e2)
		require.NoError(t, err)
		require.Equal(t, string(c), string(c2))
	})
}
