package simcluster_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/scaler"
)

// calls are the three faultable calls of a service named "api".
var calls = []struct {
	name string
	call func(context.Context, *simcluster.Cluster) error
	set  func(*simcluster.Fault, simcluster.FaultMode)
}{
	{
		"Metric",
		func(ctx context.Context, c *simcluster.Cluster) error {
			_, err := c.Metric(ctx, scaler.MetricQuery{Service: "api", Metric: "http_rps"})
			return err
		},
		func(f *simcluster.Fault, m simcluster.FaultMode) { f.Metrics = m },
	},
	{
		"Replicas",
		func(ctx context.Context, c *simcluster.Cluster) error {
			_, err := c.Replicas(ctx, "api")
			return err
		},
		func(f *simcluster.Fault, m simcluster.FaultMode) { f.Replicas = m },
	},
	{
		"SetReplicas",
		func(ctx context.Context, c *simcluster.Cluster) error {
			return c.SetReplicas(ctx, "api", 3, "fault test")
		},
		func(f *simcluster.Fault, m simcluster.FaultMode) { f.SetReplicas = m },
	},
}

func TestFaultFail(t *testing.T) {
	t.Parallel()
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := newCluster(t)
			require.NoError(t, c.AddService(spec("api", 1)))
			require.NoError(t, c.AddService(spec("web", 1)))
			ctx := context.Background()

			var f simcluster.Fault
			tc.set(&f, simcluster.FaultFail)
			require.NoError(t, c.SetFault("api", f))
			err := tc.call(ctx, c)
			require.ErrorIs(t, err, mgmt.ErrUnavailable)
			require.ErrorIs(t, err, simcluster.ErrFault)
			assert.Contains(t, err.Error(), tc.name)

			// Only the faulty call of the faulty service fails.
			for _, other := range calls {
				if other.name != tc.name {
					assert.NoError(t, other.call(ctx, c), other.name)
				}
			}
			_, err = c.Replicas(ctx, "web")
			assert.NoError(t, err)

			require.NoError(t, c.SetFault("api", simcluster.Fault{}))
			assert.NoError(t, tc.call(ctx, c), "the fault is cleared")
		})
	}
}

// A slow backend blocks until the caller's deadline passes, on the mock
// clock.
func TestFaultBlockHonoursDeadline(t *testing.T) {
	t.Parallel()
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, clk := newCluster(t)
			require.NoError(t, c.AddService(spec("api", 1)))
			var f simcluster.Fault
			tc.set(&f, simcluster.FaultBlock)
			require.NoError(t, c.SetFault("api", f))

			ctx, cancel := clk.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- tc.call(ctx, c) }()
			waitBlocked(t, c, "api", 1)

			clk.Add(time.Second)
			select {
			case err := <-done:
				t.Fatalf("returned before the deadline: %v", err)
			default:
			}
			clk.Add(time.Second)
			err := <-done
			require.ErrorIs(t, err, mgmt.ErrUnavailable)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			waitBlocked(t, c, "api", 0)
		})
	}
}

// Clearing the fault releases blocked calls, which then succeed.
func TestFaultBlockReleasedBySetFault(t *testing.T) {
	t.Parallel()
	c, _ := newCluster(t)
	require.NoError(t, c.AddService(spec("api", 1)))
	require.NoError(t, c.SetFault("api", simcluster.Fault{Replicas: simcluster.FaultBlock}))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.Replicas(ctx, "api")
		done <- err
	}()
	waitBlocked(t, c, "api", 1)
	// Switching to another blocking fault keeps the call blocked…
	require.NoError(t, c.SetFault("api", simcluster.Fault{Replicas: simcluster.FaultBlock, Metrics: simcluster.FaultFail}))
	waitBlocked(t, c, "api", 1)
	// …switching to no fault lets it through.
	require.NoError(t, c.SetFault("api", simcluster.Fault{}))
	require.NoError(t, <-done)
}

func TestFaultBlockSwitchedToFail(t *testing.T) {
	t.Parallel()
	c, _ := newCluster(t)
	require.NoError(t, c.AddService(spec("api", 1)))
	require.NoError(t, c.SetFault("api", simcluster.Fault{Metrics: simcluster.FaultBlock}))
	done := make(chan error, 1)
	go func() {
		_, err := c.Metric(context.Background(), scaler.MetricQuery{Service: "api", Metric: "http_rps"})
		done <- err
	}()
	waitBlocked(t, c, "api", 1)
	require.NoError(t, c.SetFault("api", simcluster.Fault{Metrics: simcluster.FaultFail}))
	require.ErrorIs(t, <-done, simcluster.ErrFault)
}

// A context that is already done fails every call at once, faulty or not.
func TestDoneContext(t *testing.T) {
	t.Parallel()
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := newCluster(t)
			require.NoError(t, c.AddService(spec("api", 1)))
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			err := tc.call(ctx, c)
			require.ErrorIs(t, err, mgmt.ErrUnavailable)
			require.ErrorIs(t, err, context.Canceled)
			assert.Equal(t, mgmt.KindUnavailable, mgmt.KindOf(err))
		})
	}
}

// waitBlocked yields until n calls on service are blocked by a fault.
func waitBlocked(t *testing.T, c *simcluster.Cluster, service string, n int) {
	t.Helper()
	for {
		got, err := c.Blocked(service)
		require.NoError(t, err)
		if got == n {
			return
		}
		runtime.Gosched()
	}
}

func TestSetFaultErrors(t *testing.T) {
	t.Parallel()
	c, _ := newCluster(t)
	require.NoError(t, c.AddService(spec("api", 1)))
	requireKind(t, c.SetFault("nope", simcluster.Fault{}), mgmt.KindNotFound, "service")
	_, err := c.Blocked("nope")
	requireKind(t, err, mgmt.KindNotFound, "service")
	requireKind(t, c.SetFault("api", simcluster.Fault{Replicas: 7}), mgmt.KindInvalid, "fault")
	assert.Equal(t, "block", simcluster.FaultBlock.String())
	assert.Equal(t, "FaultMode(7)", simcluster.FaultMode(7).String())
}
