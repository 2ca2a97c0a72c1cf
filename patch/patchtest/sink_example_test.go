package patchtest_test

import (
	"fmt"
	"testing"

	"github.com/hms-platform/mgmt/patch"
	"github.com/hms-platform/mgmt/patch/patchtest"
)

// A sink's test hands RunSink a function returning a fresh host side and
// agent side; for the in-process sink they are one value.
func ExampleRunSink() {
	var t *testing.T // the test's argument
	if t != nil {
		patchtest.RunSink(t, func(t *testing.T) (patch.ConfigSink, patch.Feed) {
			s := patch.NewMemorySink()
			return s, s
		})
	}
	fmt.Println(patchtest.SinkFanout)
	// Output: 1000
}
