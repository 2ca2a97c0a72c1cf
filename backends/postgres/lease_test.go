package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/lease"
	"github.com/hms-platform/mgmt/lease/leasetest"
)

func TestLeasesConformance(t *testing.T) {
	t.Parallel()
	leasetest.Run(t, leasetest.Harness{
		New:  func(t *testing.T) lease.Lock { return openFresh(t).Leases() },
		TTL:  time.Second,
		Wait: time.Sleep,
	})
}

// TestLeasesReplicas runs two replicas (two pools, as two hosts would
// have) on one database: a lease one holds, the other cannot take until
// it is released.
func TestLeasesReplicas(t *testing.T) {
	t.Parallel()
	dsn := srv.NewDatabase(t)
	a, b := open(t, dsn).Leases(), open(t, dsn).Patches().Leases()
	ctx := ctxFor(t)
	const name, ttl = "hms-mgt/patches", time.Minute

	ok, err := a.Acquire(ctx, name, "replica-a", ttl)
	require.NoError(t, err)
	require.True(t, ok, "A takes the free lease")
	ok, err = b.Acquire(ctx, name, "replica-b", ttl)
	require.NoError(t, err)
	assert.False(t, ok, "B took A's lease")
	h, err := b.Holder(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, "replica-a", h, "B's view of the holder")

	require.NoError(t, b.Release(ctx, name, "replica-b"), "B releases a lease it does not hold")
	ok, err = a.Acquire(ctx, name, "replica-a", ttl)
	require.NoError(t, err)
	assert.True(t, ok, "A renews")

	require.NoError(t, a.Release(ctx, name, "replica-a"))
	ok, err = b.Acquire(ctx, name, "replica-b", ttl)
	require.NoError(t, err)
	assert.True(t, ok, "B takes the released lease")
	h, err = a.Holder(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, "replica-b", h, "A's view of the holder")
}

// TestLeasesClosed: a Lock over a closed store fails as unavailable.
func TestLeasesClosed(t *testing.T) {
	t.Parallel()
	s := openFresh(t)
	l := s.Leases()
	require.NoError(t, s.Close())
	_, err := l.Acquire(context.Background(), "loop", "a", time.Minute)
	require.Error(t, err)
	assert.ErrorIs(t, err, mgmt.ErrUnavailable)
}

// TestLeasesServerClock: the expiry is the server's time plus the TTL.
func TestLeasesServerClock(t *testing.T) {
	t.Parallel()
	dsn := srv.NewDatabase(t)
	l := open(t, dsn).Leases()
	ok, err := l.Acquire(ctxFor(t), "loop", "a", time.Hour)
	require.NoError(t, err)
	require.True(t, ok)
	var left time.Duration
	require.NoError(t, connect(t, dsn).QueryRow(ctxFor(t),
		`SELECT expires_at - clock_timestamp() FROM mgmt_leases WHERE name = 'loop'`).Scan(&left))
	assert.InDelta(t, float64(time.Hour), float64(left), float64(time.Minute), "time left by the server's clock")
}
