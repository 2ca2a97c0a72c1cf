package ledger_test

import (
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/ledgertest"
)

func TestMemory(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T, clk clock.Clock) ledger.Backend {
		m, err := ledger.NewMemory(ledger.Options{Clock: clk})
		require.NoError(t, err)
		return m
	})
}
