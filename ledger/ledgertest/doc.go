// Package ledgertest is the conformance suite every ledger.Backend passes:
// call Run from a test of the backend's package.
//
//	func TestConformance(t *testing.T) {
//		ledgertest.Run(t, func(t *testing.T, clk clock.Clock) ledger.Backend {
//			m, err := ledger.NewMemory(ledger.Options{Clock: clk})
//			require.NoError(t, err)
//			return m
//		})
//	}
//
// The suite drives time through the mock clock it hands the constructor;
// nothing sleeps. It covers every result code and its precedence, linked
// chains, two-phase transfers and their expiry, idempotent retries, balance
// flags, point-in-time balances, paging, bad input, 64 concurrent writers on
// one account, and a model-based randomized test against a small reference
// model kept apart from the ledger's own rules. The randomized test runs
// 1,000 seeds; set LEDGERTEST_SEEDS for more (or fewer), and
// LEDGERTEST_SEED to replay one.
package ledgertest
