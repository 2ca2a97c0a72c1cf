package redis_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/redis"
	"github.com/hms-platform/mgmt/patch"
)

// FuzzChangesRoundTrip: every int64, finite float64, string and bool
// comes back with its type and value.
func FuzzChangesRoundTrip(f *testing.F) {
	f.Add(int64(0), 0.0, "", false)
	f.Add(int64(math.MaxInt64), 2.0, "quote \" \\ \n \x00 é", true)
	f.Add(int64(math.MinInt64), -1e-300, "\xff invalid utf-8", false)
	f.Add(int64(1)<<53+1, 1e21, "日本", true)
	f.Fuzz(func(t *testing.T, i int64, x float64, s string, b bool) {
		m := patch.Message{Op: patch.OpApply, Patch: patch.Patch{Tenant: "t", Changes: patch.Changes{"i": i, "f": x, "s": s, "b": b}}}
		enc, err := redis.EncodeMessage(m)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			require.ErrorIs(t, err, mgmt.ErrInvalid)
			return
		}
		require.NoError(t, err)
		got, err := redis.DecodeMessage(enc)
		require.NoError(t, err, "%s", enc)
		assert.Equal(t, i, got.Patch.Changes["i"])
		assert.Equal(t, x, got.Patch.Changes["f"])
		assert.Equal(t, b, got.Patch.Changes["b"])
		// encoding/json replaces invalid UTF-8 with U+FFFD.
		if gs, ok := got.Patch.Changes["s"].(string); assert.True(t, ok) && gs != s {
			assert.Contains(t, gs, "\ufffd")
		}
	})
}

// FuzzDecodeMessage: any entry either decodes into changes of the four
// types, which encode and decode again to the same, or fails; it never
// panics.
func FuzzDecodeMessage(f *testing.F) {
	f.Add([]byte(`{"op":"apply","patch":{"tenant":"t","changes":{"a":1,"b":2.0,"c":"x","d":true}},"sent":"2024-11-20T08:00:00Z"}`))
	f.Add([]byte(`{"patch":{"changes":{"a":1e400}}}`))
	f.Add([]byte(`{"patch":{"changes":{"a":99999999999999999999}}}`))
	f.Add([]byte(`{"patch":{"changes":null}}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := redis.DecodeMessage(b)
		if err != nil {
			return
		}
		for k, v := range m.Patch.Changes {
			switch v.(type) {
			case int64, float64, string, bool:
			default:
				t.Fatalf("change %q is a %T", k, v)
			}
		}
		enc, err := redis.EncodeMessage(m)
		require.NoError(t, err)
		again, err := redis.DecodeMessage(enc)
		require.NoError(t, err)
		assert.Equal(t, m.Patch.Changes, again.Patch.Changes)
	})
}

// FuzzParsePosition: a position is accepted only as an entry ID, and an
// error names the field.
func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{"", "0", "0-0", "1732060800000-0", "18446744073709551615-18446744073709551615", "-", "+", "$", ">", "1-", "-1", "+1-0", "1-+0", "bogus", "1-2-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := redis.ParsePosition("after", s)
		if err != nil {
			assert.ErrorIs(t, err, mgmt.ErrInvalid)
			assert.Equal(t, "after", mgmt.FieldOf(err))
			return
		}
		if s == "" {
			assert.Equal(t, "0", got)
			return
		}
		assert.Equal(t, s, got)
		assert.Regexp(t, `^[0-9]+(-[0-9]+)?$`, s)
	})
}
