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
// have) on one database: leasetest.RunReplicas.
func TestLeasesReplicas(t *testing.T) {
	t.Parallel()
	dsn := srv.NewDatabase(t)
	leasetest.RunReplicas(t, open(t, dsn).Leases(), open(t, dsn).Patches().Leases())
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
