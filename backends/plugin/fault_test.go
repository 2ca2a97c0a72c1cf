package plugin_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/scaler"
)

// TestKillDuringControllerTick kills the plugin with SIGKILL while a
// controller tick over it runs: the tick returns, every rule holds its count
// (a failed read holds, nothing is scaled because of the kill), and the
// ticks after the restart succeed.
func TestKillDuringControllerTick(t *testing.T) {
	t.Parallel()
	const n = 300
	c := open(t, nil, fmt.Sprintf("TESTPLUGIN_SERVICES=%d", n))
	clk := clock.NewMock()
	// killer kills the plugin on the 100th Replicas call after it is armed:
	// in the middle of a tick.
	var (
		armed    atomic.Bool
		calls    atomic.Int64
		killOnce sync.Once
		killed   time.Time
	)
	killer := scaler.Scaler(scalerFuncs{
		replicas: func(ctx context.Context, svc string) (scaler.ReplicaStatus, error) {
			if armed.Load() && calls.Add(1) == 100 {
				killOnce.Do(func() {
					killed = time.Now()
					require.NoError(t, syscall.Kill(c.Pid(), syscall.SIGKILL))
				})
			}
			return c.Replicas(ctx, svc)
		},
		set: c.SetReplicas,
	})
	ctrl, err := scaler.New(scaler.Options{
		Clock: clk, Scaler: killer, Sources: map[string]scaler.MetricSource{"": c},
		Logger: slog.New(slog.DiscardHandler), Concurrency: 4,
	})
	require.NoError(t, err)
	ids := make([]string, n)
	for i := range n {
		r, err := ctrl.AddRule(context.Background(), scaler.Rule{
			Service: fmt.Sprintf("svc-%04d", i), MinReplicas: 1, MaxReplicas: 20,
			Triggers: []scaler.Trigger{{Metric: "http_rps", Type: scaler.Target, Value: 100}},
			Behavior: scaler.DefaultBehavior(),
		})
		require.NoError(t, err)
		ids[i] = r.ID
	}
	ctx := context.Background()
	tick := func() {
		clk.Add(ctrl.Interval())
		ctrl.Tick(ctx)
	}
	// 250 rps at 100 per replica: every service goes from 2 to 3 replicas.
	tick()
	tick()
	for _, id := range ids {
		st, err := ctrl.Status(id)
		require.NoError(t, err)
		require.Equal(t, int32(3), st.Desired)
		require.Equal(t, scaler.ReasonSteady, st.Last.Reason, "%s: %s", st.Service, st.Last.Error)
	}

	armed.Store(true)
	tick()
	require.False(t, killed.IsZero())
	t.Logf("the tick during the kill returned %v after it", time.Since(killed))
	failed := 0
	for _, id := range ids {
		st, err := ctrl.Status(id)
		require.NoError(t, err)
		assert.Equal(t, int32(3), st.Desired, "%s: the kill changed the decided count", st.Service)
		assert.Equal(t, st.Last.Current, st.Last.Desired, "%s: held", st.Service)
		if st.Last.Error != "" {
			failed++
			assert.Contains(t, []scaler.Reason{scaler.ReasonMetricUnavailable, scaler.ReasonReplicasUnavailable}, st.Last.Reason)
		}
	}
	t.Logf("%d of %d rules failed their reads in the tick of the kill", failed, n)

	require.Eventually(t, func() bool {
		_, err := c.Replicas(ctx, "svc-0000")
		return err == nil
	}, 20*time.Second, time.Millisecond)
	tick()
	recovered := time.Since(killed)
	for _, id := range ids {
		st, err := ctrl.Status(id)
		require.NoError(t, err)
		assert.Empty(t, st.Last.Error, st.Service)
		// The restarted simulated cluster starts over at 2 replicas (its
		// state lived in the killed process); the controller sets 3 again.
		assert.Equal(t, int32(3), st.Desired, st.Service)
	}
	t.Logf("first successful tick %v after kill -9", recovered)
}

type scalerFuncs struct {
	replicas func(context.Context, string) (scaler.ReplicaStatus, error)
	set      func(context.Context, string, int32, string) error
}

func (f scalerFuncs) Replicas(ctx context.Context, svc string) (scaler.ReplicaStatus, error) {
	return f.replicas(ctx, svc)
}

func (f scalerFuncs) SetReplicas(ctx context.Context, svc string, n int32, reason string) error {
	return f.set(ctx, svc, n, reason)
}
