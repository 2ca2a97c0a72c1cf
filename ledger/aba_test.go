package ledger_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hms-platform/mgmt/ledger"
)

func TestValidRoutingNumber(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want bool
	}{
		{"011000015", true}, // Federal Reserve Bank of Boston
		{"021000021", true},
		{"111000025", true},
		{"011000016", false}, // wrong check digit
		{"01100001", false},
		{"0110000155", false},
		{"01100001a", false},
		{" 11000015", false},
		{"", false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			assert.Equal(t, c.want, ledger.ValidRoutingNumber(c.in))
		})
	}
}

func FuzzValidRoutingNumber(f *testing.F) {
	for _, s := range []string{"011000015", "021000021", "011000016", "", "abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !ledger.ValidRoutingNumber(s) {
			return
		}
		if len(s) != 9 {
			t.Fatalf("%q accepted with %d characters", s, len(s))
		}
		if _, err := strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%q accepted but is not digits", s)
		}
		w := [3]int{3, 7, 1}
		sum := 0
		for i, c := range s {
			sum += int(c-'0') * w[i%3]
		}
		if sum%10 != 0 {
			t.Fatalf("%q accepted with checksum %d", s, sum)
		}
		// Changing any one digit breaks the check digit.
		b := []byte(s)
		b[4] = '0' + (b[4]-'0'+1)%10
		if ledger.ValidRoutingNumber(string(b)) {
			t.Fatalf("%q accepted after a one-digit change of %q", b, s)
		}
	})
}
