package patchtest_test

import (
	"testing"

	"github.com/hms-platform/mgmt/patch"
	"github.com/hms-platform/mgmt/patch/patchtest"
)

func TestMemorySink(t *testing.T) {
	t.Parallel()
	patchtest.RunSink(t, func(t *testing.T) (patch.ConfigSink, patch.Feed) {
		s := patch.NewMemorySink()
		return s, s
	})
}
