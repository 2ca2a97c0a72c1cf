package jobstest

import (
	"path"
	"testing"
)

// The subtests of RunRunner, for RunnerFixture.Skip.
const (
	RunnerOutput               = "Output"
	RunnerExitCode             = "ExitCode"
	RunnerBounded              = "Bounded"
	RunnerCancelled            = "Cancelled"
	RunnerCancelledBeforeStart = "CancelledBeforeStart"
)

// skip skips t, a subtest of RunRunner, when f.Skip names it, with the
// reason given there.
func (f RunnerFixture) skip(t *testing.T) {
	t.Helper()
	name := path.Base(t.Name())
	if why, ok := f.Skip[name]; ok {
		t.Skipf("%s: not checked for this runner: %s", name, why)
	}
}
