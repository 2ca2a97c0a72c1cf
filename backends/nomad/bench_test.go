package nomad_test

import (
	"testing"

	"github.com/hms-platform/mgmt/backends/nomad"
)

// BenchmarkSetReplicas is one scale request against the real test server
// ("job/group": no read first) and, for comparison, Replicas (one read).
func BenchmarkSetReplicas(b *testing.B) {
	c := newCluster(b)
	c.register(b, "web", group{name: "web", count: 1})
	s := c.scaler(b, nomad.Options{})
	ctx := b.Context()
	b.Run("job/group", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if err := s.SetReplicas(ctx, "web/web", int32(1+i%10), "bench"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("job", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if err := s.SetReplicas(ctx, "web", int32(1+i%10), "bench"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Replicas", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Replicas(ctx, "web"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
