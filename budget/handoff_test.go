package budget_test

import (
	"context"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/scaler"
)

// TestMeterHandoff: two hosts on one store, one metering at a time. The
// second observes the cluster from its start but meters only once it takes
// over (ResetMeter): each replica-hour is billed once, never twice.
func TestMeterHandoff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := budget.NewMemory()
	clk := clock.NewMock()
	clk.Set(t0)
	cluster := scaler.NewMemory()
	require.NoError(t, cluster.SetReplicas(ctx, "svc", 10, ""))
	newB := func() *budget.Budget {
		b, err := budget.New(ctx, budget.Options{Store: store, Clock: clk, Logger: discard()})
		require.NoError(t, err)
		require.NoError(t, b.SetService(ctx, "svc", budget.ServiceInfo{PricePerReplicaHour: 100})) // $1 per replica-hour
		return b
	}
	first, second := newB(), newB()
	require.NoError(t, first.Poll(ctx, cluster))
	require.NoError(t, second.Poll(ctx, cluster))
	spend := func() mgmt.Money {
		t.Helper()
		m, err := store.Spend(ctx, budget.SpendFilter{Service: "svc", From: t0.Add(-time.Hour), To: t0.Add(24 * time.Hour)})
		require.NoError(t, err)
		return m
	}

	// The first meters one hour at 10 replicas: $10.
	clk.Add(30 * time.Minute)
	require.NoError(t, first.Poll(ctx, cluster))
	require.NoError(t, second.Poll(ctx, cluster))
	clk.Add(30 * time.Minute)
	_, err := first.Flush(ctx)
	require.NoError(t, err)
	assert.Equal(t, mgmt.Money(1000), spend())

	// It dies; the second takes over and meters the next hour at 20. It
	// has observed the service since its start: without the reset it
	// would bill that first hour again.
	second.ResetMeter(clk.Now())
	require.NoError(t, cluster.SetReplicas(ctx, "svc", 20, ""))
	require.NoError(t, second.Poll(ctx, cluster))
	clk.Add(time.Hour)
	_, err = second.Flush(ctx)
	require.NoError(t, err)
	assert.Equal(t, mgmt.Money(1000+2000), spend(), "the first hour is not billed again")
}

// The meter follows a batch backend's reads and sets too, which the
// wrapper passes on as batches.
func TestWrapScalerKeepsBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewMock()
	clk.Set(t0)
	store := budget.NewMemory()
	b, err := budget.New(ctx, budget.Options{Store: store, Clock: clk, Logger: discard()})
	require.NoError(t, err)
	require.NoError(t, b.SetService(ctx, "svc", budget.ServiceInfo{PricePerReplicaHour: 100})) // $1 per replica-hour
	mem := scaler.BatchMemory{Memory: scaler.NewMemory()}
	require.NoError(t, mem.SetReplicas(ctx, "svc", 3, ""))
	w, ok := b.WrapScaler(mem).(scaler.BatchScaler)
	require.True(t, ok, "still a BatchScaler")
	_, errs := w.ReplicasBatch(ctx, []string{"svc"})
	require.NoError(t, errs[0])
	clk.Add(time.Hour)
	require.NoError(t, w.SetReplicasBatch(ctx, []scaler.ReplicaChange{{Service: "svc", Replicas: 5}})[0])
	clk.Add(time.Hour)
	_, err = b.Flush(ctx)
	require.NoError(t, err)
	spent, err := store.Spend(ctx, budget.SpendFilter{Service: "svc", From: t0, To: t0.Add(3 * time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, mgmt.Money(300+500), spent, "3 replicas read, then 5 set: an hour each")
}
