package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/lease"
	"github.com/hms-platform/mgmt/lease/leasetest"
)

func TestLeasesConformance(t *testing.T) {
	t.Parallel()
	leasetest.Run(t, leasetest.Harness{
		New: func(t *testing.T) lease.Lock {
			s := open(t)
			t.Cleanup(func() { assert.NoError(t, s.Close()) })
			return s.Leases()
		},
		TTL:  time.Second,
		Wait: time.Sleep,
	})
}

// TestLeasesConformanceMemory runs the suite on an in-memory database,
// whose one connection serves reads and writes.
func TestLeasesConformanceMemory(t *testing.T) {
	t.Parallel()
	leasetest.Run(t, leasetest.Harness{
		New: func(t *testing.T) lease.Lock {
			s, err := sqlite.Open(t.Context(), sqlite.Options{Path: sqlite.Memory})
			require.NoError(t, err, "Open")
			t.Cleanup(func() { assert.NoError(t, s.Close()) })
			return s.Leases()
		},
	})
}

// TestLeasesTwoStores runs two replicas (two Opens, as two processes
// would) on one file: a lease one holds, the other cannot take until it
// is released.
func TestLeasesTwoStores(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "mgmt.db")
	sa, sb := openAt(t, path), openAt(t, path)
	defer sa.Close()
	defer sb.Close()
	a, b := sa.Leases(), sb.Patches().Leases()
	ctx := t.Context()
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
