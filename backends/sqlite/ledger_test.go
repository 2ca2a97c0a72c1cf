package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/ledgertest"
)

func TestLedgerConformance(t *testing.T) {
	t.Parallel()
	// Each of the suite's ~1,000 ledgers starts as a copy of one new,
	// migrated and closed database file: Open then finds the schema
	// current, as it does when a process restarts.
	template := filepath.Join(t.TempDir(), "template.db")
	require.NoError(t, open(t).Close())
	s := openAt(t, template)
	require.NoError(t, s.Close())
	empty, err := os.ReadFile(template)
	require.NoError(t, err)
	ledgertest.Run(t, func(t *testing.T, clk clock.Clock) ledger.Backend {
		path := filepath.Join(t.TempDir(), "ledger.db")
		require.NoError(t, os.WriteFile(path, empty, 0o600))
		s := openAt(t, path)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		d, err := s.Ledger(ledger.DurableOptions{Clock: clk})
		require.NoError(t, err)
		return d
	})
}
