package scalertest_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/scaler"
	"github.com/hms-platform/mgmt/scaler/scalertest"
)

// memoryFixture runs the suite against scaler.Memory. Memory's metrics are
// whatever was set: AddService sets http_rps to 0 so that it reads.
type memoryFixture struct{ m *scaler.Memory }

func (f memoryFixture) Scaler() scaler.Scaler       { return f.m }
func (f memoryFixture) Source() scaler.MetricSource { return f.m }
func (f memoryFixture) Metric() string              { return "http_rps" }

func (f memoryFixture) AddService(t testing.TB, name string, replicas int32) {
	t.Helper()
	require.NoError(t, f.m.SetReplicas(t.Context(), name, replicas, "scalertest: added"))
	f.m.SetMetric(name, "http_rps", 0)
}

func (f memoryFixture) AddOwnedService(t testing.TB, name string, replicas int32, owner string) {
	t.Helper()
	f.AddService(t, name, replicas)
	f.m.SetOwner(name, owner)
}

func TestMemory(t *testing.T) {
	scalertest.Run(t, func(*testing.T) scalertest.Fixture {
		return memoryFixture{scaler.NewMemory()}
	})
}

func TestMemoryRules(t *testing.T) {
	t.Parallel()
	scalertest.RunRuleStore(t, func(*testing.T) scalertest.RuleStoreFixture {
		s := scaler.NewMemoryRules()
		return scalertest.RuleStoreFixture{Store: s, Replica: func() scaler.RuleStore { return s }}
	})
}
