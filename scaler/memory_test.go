package scaler_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/scaler"
)

// The Scaler and MetricSource contract of Memory is checked by
// scaler/scalertest; this covers what is Memory's own.

func TestMemorySetReady(t *testing.T) {
	t.Parallel()
	mem := scaler.NewMemory()
	ctx := context.Background()
	require.NoError(t, mem.SetReplicas(ctx, "svc", 5, ""))
	for _, tc := range []struct{ set, want int32 }{{3, 3}, {9, 5}, {-2, 0}, {5, 5}} {
		mem.SetReady("svc", tc.set)
		st, err := mem.Replicas(ctx, "svc")
		require.NoError(t, err)
		assert.Equal(t, scaler.ReplicaStatus{Desired: 5, Ready: tc.want}, st, "SetReady(%d)", tc.set)
	}
}

func TestMemoryDoesNotAllocate(t *testing.T) {
	mem := scaler.NewMemory()
	ctx := context.Background()
	require.NoError(t, mem.SetReplicas(ctx, "svc", 5, ""))
	mem.SetMetric("svc", "http_rps", 500)
	q := scaler.MetricQuery{Service: "svc", Metric: "http_rps"}
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = mem.Replicas(ctx, "svc")
		_, _ = mem.Metric(ctx, q)
		_ = mem.SetReplicas(ctx, "svc", 6, "")
	})
	assert.Zero(t, allocs)
}
