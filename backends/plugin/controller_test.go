package plugin_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/plugin"
	"github.com/hms-platform/mgmt/scaler"
)

// counting is the plugin's Client counting the calls a controller makes.
type counting struct {
	*plugin.Client
	mu    sync.Mutex
	calls map[string]int
}

func (c *counting) count(method string) {
	c.mu.Lock()
	c.calls[method]++
	c.mu.Unlock()
}

func (c *counting) Replicas(ctx context.Context, svc string) (scaler.ReplicaStatus, error) {
	c.count("Replicas")
	return c.Client.Replicas(ctx, svc)
}

func (c *counting) SetReplicas(ctx context.Context, svc string, n int32, reason string) error {
	c.count("SetReplicas")
	return c.Client.SetReplicas(ctx, svc, n, reason)
}

func (c *counting) Metric(ctx context.Context, q scaler.MetricQuery) (float64, error) {
	c.count("Metric")
	return c.Client.Metric(ctx, q)
}

func (c *counting) ReplicasBatch(ctx context.Context, services []string) ([]scaler.ReplicaStatus, []error) {
	c.count("ReplicasBatch")
	return c.Client.ReplicasBatch(ctx, services)
}

func (c *counting) SetReplicasBatch(ctx context.Context, changes []scaler.ReplicaChange) []error {
	c.count("SetReplicasBatch")
	return c.Client.SetReplicasBatch(ctx, changes)
}

func (c *counting) MetricBatch(ctx context.Context, queries []scaler.MetricQuery) ([]float64, []error) {
	c.count("MetricBatch")
	return c.Client.MetricBatch(ctx, queries)
}

func newPluginController(t *testing.T, be *counting, timeout time.Duration, services ...string) (*scaler.Controller, []string) {
	t.Helper()
	ctrl, err := scaler.New(scaler.Options{
		Clock: clock.NewMock(), Scaler: be, Sources: map[string]scaler.MetricSource{"": be},
		CallTimeout: timeout, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	var ids []string
	for _, svc := range services {
		r, err := ctrl.AddRule(t.Context(), scaler.Rule{
			Service: svc, MinReplicas: 1, MaxReplicas: 20,
			Triggers: []scaler.Trigger{{Metric: "http_rps", Type: scaler.Target, Value: 100}},
			Behavior: scaler.DefaultBehavior(),
		})
		require.NoError(t, err)
		ids = append(ids, r.ID)
	}
	be.mu.Lock()
	clear(be.calls)
	be.mu.Unlock()
	return ctrl, ids
}

// TestControllerBatchOverPlugin: a tick over the plugin makes one call of
// each batch RPC, and each service's own failure is its rule's.
func TestControllerBatchOverPlugin(t *testing.T) {
	t.Parallel()
	be := &counting{Client: open(t, nil, "TESTPLUGIN_SERVICES=3"), calls: map[string]int{}}
	ctrl, ids := newPluginController(t, be, 5*time.Second, "svc-0000", "svc-0001", "svc-0002", "nope")
	ctrl.Tick(t.Context())
	assert.Equal(t, map[string]int{"ReplicasBatch": 1, "MetricBatch": 1, "SetReplicasBatch": 1}, be.calls)
	for _, id := range ids[:3] {
		st, err := ctrl.Status(id)
		require.NoError(t, err)
		assert.Equal(t, int32(3), st.Replicas, "250 rps at 100 per replica")
		assert.True(t, st.Last.Applied)
	}
	st, err := ctrl.Status(ids[3])
	require.NoError(t, err)
	assert.Equal(t, scaler.ReasonReplicasUnavailable, st.Last.Reason)
	assert.Contains(t, st.Last.Error, "nope")
	got, err := be.Client.Replicas(t.Context(), "svc-0001")
	require.NoError(t, err)
	assert.Equal(t, int32(3), got.Desired)
}

// TestControllerBatchDeadlineOverPlugin: a batch that outlives its
// deadline fails every rule of it, for that tick only.
func TestControllerBatchDeadlineOverPlugin(t *testing.T) {
	t.Parallel()
	be := &counting{Client: open(t, nil, "TESTPLUGIN_SERVICES=2"), calls: map[string]int{}}
	ctrl, ids := newPluginController(t, be, 200*time.Millisecond, "svc-0000", "svc-0001", "block")
	// The batch call blocks on "block" until its deadline ends it: the
	// tick returns, and every rule of the batch holds, unavailable. (gRPC
	// reports the ended call as a deadline or as a cancelled stream,
	// depending on which side notices first.)
	ctrl.Tick(t.Context())
	for _, id := range ids {
		st, err := ctrl.Status(id)
		require.NoError(t, err)
		assert.Equal(t, scaler.ReasonReplicasUnavailable, st.Last.Reason, id)
		assert.Equal(t, mgmt.KindUnavailable, st.Last.ErrorKind, "%s: %s", id, st.Last.Error)
	}
	assert.Equal(t, map[string]int{"ReplicasBatch": 1}, be.calls)

	require.NoError(t, ctrl.DeleteRule(t.Context(), ids[2]))
	ctrl.Tick(t.Context())
	for _, id := range ids[:2] {
		st, err := ctrl.Status(id)
		require.NoError(t, err)
		assert.True(t, st.Last.Applied, id)
		assert.Equal(t, int32(3), st.Replicas, id)
	}
	_, err := ctrl.Status(ids[2])
	assert.ErrorIs(t, err, mgmt.ErrNotFound)
}
