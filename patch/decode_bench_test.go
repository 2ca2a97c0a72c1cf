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

// BenchmarkDecodeManyKeys decodes JSON patches of many keys. Up to
// MaxDocumentKeys keys (about 20 KiB here) the document is parsed whole and
// then refused for holding more than MaxChanges changes; a larger one is
// refused at key MaxDocumentKeys+1, so its cost stops growing.
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

// longValuesPatch returns a JSON patch of about size bytes whose changes
// hold few keys (at most MaxDocumentKeys) with long string values, on one
// line: the parser reads all of it.
func longValuesPatch(size int) []byte {
	var b strings.Builder
	b.WriteString(`{"service": "ARTIST_REGISTRY_API", "tenant": "IACB", "window": {"start": "2024-11-20T00:00Z", "end": "2024-12-05T00:00Z"}, "changes": {`)
	value := strings.Repeat("é", 480) // 960 bytes
	for i := 0; b.Len() < size-1024; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `"key_%07d": "%s"`, i, value)
	}
	b.WriteString("}}\n")
	return []byte(b.String())
}

// BenchmarkDecodeLongValues decodes JSON patches that the parser reads to
// the end (bodies over 400 KiB are then refused by Validate: too many
// changes). The time per byte stays flat as the body grows.
func BenchmarkDecodeLongValues(b *testing.B) {
	for _, size := range []int{16 << 10, 64 << 10, 256 << 10, 1<<20 - 64} {
		data := longValuesPatch(size)
		b.Run(fmt.Sprintf("%dKiB", (size+64)>>10), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = patch.Decode(data, patch.JSON)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(data)), "ns/byte")
		})
	}
}
