package patch_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hms-platform/mgmt/patch"
)

// manyKeysPatch returns a JSON patch of about size bytes whose changes hold
// as many keys as fit, all on one line (the worst case for
// tracking columns).
func manyKeysPatch(size int) []byte {
	var b strings.Builder
	b.WriteString(`{"service": "ARTIST_REGISTRY_API", "tenant": "IACB",` + "\n" +
		`"window": {"start": "2024-11-20T00:00Z", "end": "2024-12-05T00:00Z"},` + "\n" + `"changes": {`)
	for i := 0; b.Len() < size-40; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `"key_%07d": %d`, i, i)
	}
	b.WriteString("}}\n")
	return []byte(b.String())
}

// BenchmarkDecodeManyKeys decodes JSON patches of many keys (a patch of
// more than MaxChanges keys is refused, after the whole document has been
// parsed). The time per byte (see -benchmem's MB/s) stays flat as the
// body grows: decoding is linear in its size.
func BenchmarkDecodeManyKeys(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20} {
		data := manyKeysPatch(size)
		if len(data) > patch.MaxDocument {
			data = manyKeysPatch(patch.MaxDocument - 64)
		}
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = patch.Decode(data, patch.JSON)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(data)), "ns/byte")
		})
	}
}
