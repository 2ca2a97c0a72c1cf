package strictjson_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hms-platform/mgmt/internal/strictjson"
)

// manyLabels returns a JSON object {"name": …, "labels": {…}} of about size
// bytes whose labels hold as many keys as fit, all on one line.
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

// BenchmarkDecodeManyKeys decodes bodies of many keys into a struct; the
// time per byte stays flat as the body grows. BenchmarkScanManyKeys is the
// scanner's pass alone.
func BenchmarkDecodeManyKeys(b *testing.B) {
	benchSizes(b, func(data []byte) error {
		var v struct {
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		}
		return strictjson.Decode(context.Background(), data, "", &v)
	})
}

func BenchmarkScanManyKeys(b *testing.B) {
	benchSizes(b, func(data []byte) error { return strictjson.Check(context.Background(), data) })
}

func benchSizes(b *testing.B, fn func([]byte) error) {
	for _, size := range []int{1 << 10, 16 << 10, 256 << 10, 1 << 20} {
		data := manyLabels(size)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := fn(data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(data)), "ns/byte")
		})
	}
}
