package httperr_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hms-platform/mgmt/internal/httperr"
)

// manyLabels returns a JSON object {"name": …, "labels": {…}} of about size
// bytes whose labels hold as many keys as fit.
func manyLabels(size int) []byte {
	var b strings.Builder
	b.WriteString(`{"name": "eligibility-api", "labels": {`)
	for i := 0; b.Len() < size-20; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `"k%06d": "v%d"`, i, i)
	}
	b.WriteString("}}")
	return []byte(b.String())
}

// BenchmarkDecodeManyKeys decodes bodies of many keys; the time per byte
// stays flat as the body grows.
func BenchmarkDecodeManyKeys(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10, 256 << 10, 1 << 20} {
		data := manyLabels(size)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var v struct {
					Name   string            `json:"name"`
					Labels map[string]string `json:"labels"`
				}
				if err := httperr.Decode(data, "", &v); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(data)), "ns/byte")
		})
	}
}
