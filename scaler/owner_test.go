package scaler_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/scaler"
)

func TestControllerOwner(t *testing.T) {
	t.Parallel()
	c, mem, _ := newController(t)
	ctx := context.Background()
	require.NoError(t, mem.SetReplicas(ctx, "owned", 2, ""))
	mem.SetOwner("owned", "ED")
	require.NoError(t, mem.SetReplicas(ctx, "unowned", 2, ""))

	for _, tc := range []struct {
		service, want string
		kind          error
	}{
		{"owned", "ED", nil},
		{"unowned", "", nil},
		{"no-such-service", "", mgmt.ErrNotFound},
	} {
		t.Run(tc.service, func(t *testing.T) {
			got, err := c.Owner(ctx, tc.service)
			if tc.kind != nil {
				require.ErrorIs(t, err, tc.kind)
				assert.Equal(t, "service", mgmt.FieldOf(err))
				assert.Contains(t, err.Error(), tc.service)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// blockingScaler answers nothing until its context ends, as an
// unresponsive cluster would; it returns the bare context error.
type blockingScaler struct{ scaler.Scaler }

func (blockingScaler) Replicas(ctx context.Context, _ string) (scaler.ReplicaStatus, error) {
	<-ctx.Done()
	return scaler.ReplicaStatus{}, ctx.Err()
}

func TestControllerOwnerHasTheCallTimeout(t *testing.T) {
	t.Parallel()
	c, err := scaler.New(scaler.Options{Scaler: blockingScaler{}, Sources: map[string]scaler.MetricSource{"": scaler.NewMemory()},
		CallTimeout: 20 * time.Millisecond, Logger: discardLogger()})
	require.NoError(t, err)
	_, err = c.Owner(context.Background(), "svc")
	require.ErrorIs(t, err, context.DeadlineExceeded, "the call has a deadline although the caller's ctx has none")
	assert.ErrorIs(t, err, mgmt.ErrUnavailable)
}

func TestControllerOwnerKeepsUnavailable(t *testing.T) {
	t.Parallel()
	c, err := scaler.New(scaler.Options{Scaler: unavailableScaler{}, Sources: map[string]scaler.MetricSource{"": scaler.NewMemory()}, Logger: discardLogger()})
	require.NoError(t, err)
	_, err = c.Owner(context.Background(), "svc")
	require.ErrorIs(t, err, mgmt.ErrUnavailable)
	assert.Contains(t, err.Error(), "cluster down")
}

type unavailableScaler struct{ scaler.Scaler }

func (unavailableScaler) Replicas(context.Context, string) (scaler.ReplicaStatus, error) {
	return scaler.ReplicaStatus{}, mgmt.Unavailable("cluster down")
}

// A host takes the tenant of a rule from the service's owner as the
// cluster reports it, not from the rule its caller sent.
func ExampleController_Owner() {
	ctx := context.Background()
	mem := scaler.NewMemory()
	_ = mem.SetReplicas(ctx, "eligibility-api", 4, "")
	mem.SetOwner("eligibility-api", "hhs")
	ctrl, _ := scaler.New(scaler.Options{Scaler: mem, Sources: map[string]scaler.MetricSource{"": mem}})

	owner, err := ctrl.Owner(ctx, "eligibility-api")
	fmt.Printf("%q %v\n", owner, err)
	_, err = ctrl.Owner(ctx, "no-such-service")
	fmt.Println(errors.Is(err, mgmt.ErrNotFound))
	// Output:
	// "hhs" <nil>
	// true
}
