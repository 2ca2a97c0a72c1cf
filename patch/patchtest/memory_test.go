package patchtest_test

import (
	"testing"

	"github.com/hms-platform/mgmt/patch"
	"github.com/hms-platform/mgmt/patch/patchtest"
)

func TestMemoryStore(t *testing.T) {
	t.Parallel()
	patchtest.RunStoreWith(t, func(*testing.T) patch.Store { return patch.NewMemory() }, patchtest.StoreOptions{Parallel: true})
}

func BenchmarkMemoryStore(b *testing.B) {
	patchtest.BenchStore(b, func(*testing.B) patch.Store { return patch.NewMemory() })
}
