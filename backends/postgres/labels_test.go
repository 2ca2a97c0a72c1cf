package postgres_test

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/postgres"
)

// FuzzAppendLabels: the hand-written JSON of labels decodes to the same
// labels; invalid UTF-8 is refused.
func FuzzAppendLabels(f *testing.F) {
	f.Add("program", "eligibility", "agency", "hhs")
	f.Add("q", `say "hi"`, "b", `back\slash`)
	f.Add("ctl", "\x00\x01\x1f\x7f", "u", "é — 日本 \u2028")
	f.Add("bad", "\xff", "k", "v")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		l := mgmt.Labels{k1: v1, k2: v2}
		b, err := postgres.AppendLabels([]byte("prefix"), l)
		valid := true
		for k, v := range l { // k1 == k2 leaves one label
			valid = valid && utf8.ValidString(k) && utf8.ValidString(v)
		}
		if !valid {
			require.Error(t, err)
			return
		}
		require.NoError(t, err)
		require.Equal(t, "prefix", string(b[:6]))
		var got mgmt.Labels
		require.NoError(t, json.Unmarshal(b[6:], &got), "%s", b[6:])
		assert.Equal(t, l, got)
	})
}

func TestAppendLabelsEmpty(t *testing.T) {
	for _, l := range []mgmt.Labels{nil, {}} {
		b, err := postgres.AppendLabels(nil, l)
		require.NoError(t, err)
		assert.Equal(t, "{}", string(b))
	}
}
