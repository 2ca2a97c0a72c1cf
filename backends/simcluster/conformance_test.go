package simcluster_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/scaler"
	"github.com/hms-platform/mgmt/scaler/scalertest"
)

// simFixture runs the scaler conformance suite against the simulated
// cluster, with a start-up delay so that Ready lags Desired.
type simFixture struct{ c *simcluster.Cluster }

func (f simFixture) Scaler() scaler.Scaler       { return f.c }
func (f simFixture) Source() scaler.MetricSource { return f.c }
func (f simFixture) Metric() string              { return simcluster.MetricHTTPRPS }

func (f simFixture) AddService(t testing.TB, name string, replicas int32) {
	t.Helper()
	f.add(t, name, replicas, nil)
}

// AddOwnedService gives the service the agency label, which is its owner.
func (f simFixture) AddOwnedService(t testing.TB, name string, replicas int32, owner string) {
	t.Helper()
	f.add(t, name, replicas, mgmt.Labels{mgmt.LabelAgency: owner, mgmt.LabelProgram: "scalertest"})
}

func (f simFixture) add(t testing.TB, name string, replicas int32, labels mgmt.Labels) {
	t.Helper()
	require.NoError(t, f.c.AddService(simcluster.ServiceSpec{
		Name: name, Replicas: replicas, StartupDelay: 30 * time.Second,
		CapacityRPS: 100, Trace: simcluster.Constant(250), Labels: labels,
	}))
}

func TestConformance(t *testing.T) {
	scalertest.Run(t, func(*testing.T) scalertest.Fixture {
		c, err := simcluster.New(simcluster.Options{})
		require.NoError(t, err)
		return simFixture{c}
	})
}
