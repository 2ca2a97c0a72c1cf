package cronspec_test

import (
	"testing"
	"time"

	"github.com/hms-platform/mgmt/internal/cronspec"
)

// FuzzParse: any expression is parsed or refused without a panic, and a
// parsed one fires after its Next, in order, and never twice at one key.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"0 2 * * *", "*/15 * * * *", "0 9 1 * MON", "@daily", "0 0 29 2 *", "5-10/2 1,3 * JAN-MAR SUN"} {
		f.Add(s, "America/New_York")
	}
	start := time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, expr, zone string) {
		s, err := cronspec.Parse(expr, zone)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		prev := start
		for _, at := range s.Fires(start, start.Add(72*time.Hour), 200) {
			if !at.After(prev) {
				t.Fatalf("%s: fire %v not after %v", s, at, prev)
			}
			if k := s.Key(at); seen[k] {
				t.Fatalf("%s: key %s fired twice", s, k)
			} else {
				seen[k] = true
			}
			prev = at
		}
	})
}
