package postgres_test

import (
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/ledgertest"
)

func TestLedgerConformance(t *testing.T) {
	t.Parallel()
	ledgertest.Run(t, func(t *testing.T, clk clock.Clock) ledger.Backend {
		d, err := openFresh(t).Ledger(ledger.DurableOptions{Clock: clk})
		require.NoError(t, err)
		return d
	})
}
