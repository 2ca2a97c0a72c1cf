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
// would) on one file: leasetest.RunReplicas.
func TestLeasesTwoStores(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "mgmt.db")
	sa, sb := openAt(t, path), openAt(t, path)
	defer sa.Close()
	defer sb.Close()
	leasetest.RunReplicas(t, sa.Leases(), sb.Patches().Leases())
}
