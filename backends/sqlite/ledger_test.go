package sqlite_test

import (
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/ledgertest"
)

// openLedger returns a durable ledger in a new file under t's temporary
// directory; the store closes with t.
func openLedger(t *testing.T, clk clock.Clock) (*ledger.Durable, *sqlite.Store) {
	t.Helper()
	s := open(t)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	d, err := s.Ledger(ledger.DurableOptions{Clock: clk})
	require.NoError(t, err)
	return d, s
}

func TestLedgerConformance(t *testing.T) {
	t.Parallel()
	ledgertest.Run(t, func(t *testing.T, clk clock.Clock) ledger.Backend {
		d, _ := openLedger(t, clk)
		return d
	})
}
