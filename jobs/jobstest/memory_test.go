package jobstest_test

import (
	"testing"

	"github.com/hms-platform/mgmt/jobs"
	"github.com/hms-platform/mgmt/jobs/jobstest"
)

func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	jobstest.RunStore(t, func(t *testing.T) jobstest.StoreFixture {
		s := jobs.NewMemory()
		return jobstest.StoreFixture{Store: s, Replica: func() jobs.Store { return s }}
	})
}
