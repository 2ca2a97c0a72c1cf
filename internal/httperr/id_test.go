package httperr_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hms-platform/mgmt/internal/httperr"
)

func TestParseID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1", 1, true}, {"23", 23, true}, {"9223372036854775807", 1<<63 - 1, true},
		{"", 0, false}, {"0", 0, false}, {"023", 0, false}, {"00", 0, false}, {"+23", 0, false},
		{"-1", 0, false}, {"23 ", 0, false}, {" 23", 0, false}, {"2_3", 0, false}, {"0x17", 0, false},
		{"9223372036854775808", 0, false}, {"99999999999999999999", 0, false}, {"２３", 0, false},
	} {
		got, ok := httperr.ParseID(tc.in)
		assert.Equal(t, tc.ok, ok, "%q", tc.in)
		assert.Equal(t, tc.want, got, "%q", tc.in)
	}
	n, ok := httperr.ParsePrefixedID("AR-12", "AR-")
	assert.True(t, ok)
	assert.Equal(t, int64(12), n)
	for _, s := range []string{"AR-012", "ar-12", "AR-", "AR-+1", "12", "AR--1"} {
		_, ok := httperr.ParsePrefixedID(s, "AR-")
		assert.False(t, ok, s)
	}
}

// FuzzParseID checks that an ID is canonical: formatting it gives back the
// input.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1", "023", "+23", "9223372036854775807", "9223372036854775808", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := httperr.ParseID(s)
		if !ok {
			return
		}
		if n <= 0 || strconv.FormatInt(n, 10) != s {
			t.Fatalf("ParseID(%q) = %d", s, n)
		}
	})
}
