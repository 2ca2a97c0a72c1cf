package simcluster_test

import (
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/simcluster"
)

// t0 is where every test's mock clock starts.
var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// newCluster returns an empty cluster on a mock clock set to t0.
func newCluster(t testing.TB) (*simcluster.Cluster, *clock.Mock) {
	t.Helper()
	clk := clock.NewMock()
	clk.Set(t0)
	c, err := simcluster.New(simcluster.Options{Clock: clk})
	require.NoError(t, err)
	return c, clk
}

// spec returns a valid service spec: 100 rps per replica, 30s start-up,
// 40ms base latency, $0.50 per replica-hour, a constant 400 rps.
func spec(name string, replicas int32) simcluster.ServiceSpec {
	return simcluster.ServiceSpec{
		Name:                name,
		Replicas:            replicas,
		StartupDelay:        30 * time.Second,
		CapacityRPS:         100,
		BaseLatencyMS:       40,
		PricePerReplicaHour: 50,
		Trace:               simcluster.Constant(400),
	}
}

// requireKind asserts that err is an *mgmt.Error of kind with field.
func requireKind(t testing.TB, err error, kind mgmt.Kind, field string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, kind)
	require.Equal(t, field, mgmt.FieldOf(err), "field of %q", err)
}

// clockAt returns a mock clock set to t.
func clockAt(t time.Time) *clock.Mock {
	clk := clock.NewMock()
	clk.Set(t)
	return clk
}
