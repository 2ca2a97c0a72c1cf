package ledgertest

import (
	"context"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger"
)

// NewBackend returns an empty backend that reads time from clk.
type NewBackend func(t *testing.T, clk clock.Clock) ledger.Backend

// Options tune Run.
type Options struct {
	// ModelSeeds is how many seeds the model-based test runs; 0 means
	// 1,000. The environment overrides it: LEDGERTEST_SEEDS=N runs N
	// seeds, LEDGERTEST_SEED=S replays seed S alone.
	ModelSeeds int
}

// Run runs the whole suite against backends made by newBackend; opts, if
// any, tune it.
func Run(t *testing.T, newBackend NewBackend, opts ...Options) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	t.Run("AccountCodes", func(t *testing.T) { t.Parallel(); testAccountCodes(t, newBackend) })
	t.Run("TransferCodes", func(t *testing.T) { t.Parallel(); testTransferCodes(t, newBackend) })
	t.Run("Linked", func(t *testing.T) { t.Parallel(); testLinked(t, newBackend) })
	t.Run("TwoPhase", func(t *testing.T) { t.Parallel(); testTwoPhase(t, newBackend) })
	t.Run("Idempotency", func(t *testing.T) { t.Parallel(); testIdempotency(t, newBackend) })
	t.Run("Accounts", func(t *testing.T) { t.Parallel(); testAccounts(t, newBackend) })
	t.Run("AccountQueries", func(t *testing.T) { t.Parallel(); testAccountQueries(t, newBackend) })
	t.Run("Timestamps", func(t *testing.T) { t.Parallel(); testTimestamps(t, newBackend) })
	t.Run("PointInTime", func(t *testing.T) { t.Parallel(); testPointInTime(t, newBackend) })
	t.Run("Paging", func(t *testing.T) { t.Parallel(); testPaging(t, newBackend) })
	t.Run("BadInput", func(t *testing.T) { t.Parallel(); testBadInput(t, newBackend) })
	t.Run("Concurrent", func(t *testing.T) { t.Parallel(); testConcurrent(t, newBackend) })
	t.Run("Model", func(t *testing.T) { testModel(t, newBackend, o.ModelSeeds) })
}

// The accounts of the fixture.
const (
	Treasury   uint64 = 1 // DebitsMustNotExceedCredits, funded with $1,000.00
	GPO        uint64 = 2
	Funding    uint64 = 3 // where Treasury's money came from
	Receivable uint64 = 4 // CreditsMustNotExceedDebits
)

const dollars = 100 // cents

type fixture struct {
	t   *testing.T
	ctx context.Context
	clk *clock.Mock
	b   ledger.Backend
}

func newFixture(t *testing.T, nb NewBackend) *fixture {
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))
	f := &fixture{t: t, ctx: context.Background(), clk: clk, b: nb(t, clk)}
	f.accounts(ledger.AccountOK, ledger.AccountOK, ledger.AccountOK, ledger.AccountOK)(
		ledger.Account{ID: Treasury, Name: "Treasury", Agency: "treasury", Currency: mgmt.Currency, Flags: ledger.DebitsMustNotExceedCredits},
		ledger.Account{ID: GPO, Name: "GPO", Agency: "gpo", Currency: mgmt.Currency},
		ledger.Account{ID: Funding, Name: "Funding", Agency: "treasury", Currency: mgmt.Currency},
		ledger.Account{ID: Receivable, Name: "Receivable", Agency: "gpo", Currency: mgmt.Currency, Flags: ledger.CreditsMustNotExceedDebits},
	)
	f.transfers(ledger.TransferOK)(ledger.Transfer{ID: 1, DebitAccountID: Funding, CreditAccountID: Treasury, Amount: 1000 * dollars})
	return f
}

func (f *fixture) accounts(want ...ledger.AccountCode) func(...ledger.Account) {
	return func(as ...ledger.Account) {
		f.t.Helper()
		res, err := f.b.CreateAccounts(f.ctx, as)
		require.NoError(f.t, err)
		require.Equal(f.t, want, accountCodes(res))
	}
}

func (f *fixture) transfers(want ...ledger.TransferCode) func(...ledger.Transfer) {
	return func(ts ...ledger.Transfer) {
		f.t.Helper()
		res, err := f.b.CreateTransfers(f.ctx, ts)
		require.NoError(f.t, err)
		require.Equal(f.t, want, transferCodes(res))
	}
}

func (f *fixture) balance(id uint64) ledger.Balance {
	f.t.Helper()
	b, err := f.b.Balance(f.ctx, id, time.Time{})
	require.NoError(f.t, err)
	return b
}

func (f *fixture) balanceAt(id uint64, at time.Time) ledger.Balance {
	f.t.Helper()
	b, err := f.b.Balance(f.ctx, id, at)
	require.NoError(f.t, err)
	return b
}

func (f *fixture) transfer(id uint64) ledger.Transfer {
	f.t.Helper()
	ts, err := f.b.LookupTransfers(f.ctx, []uint64{id})
	require.NoError(f.t, err)
	require.Len(f.t, ts, 1, "transfer %d", id)
	return ts[0]
}

func accountCodes(res []ledger.AccountResult) []ledger.AccountCode {
	out := make([]ledger.AccountCode, len(res))
	for i, r := range res {
		out[i] = r.Code
	}
	return out
}

func transferCodes(res []ledger.TransferResult) []ledger.TransferCode {
	out := make([]ledger.TransferCode, len(res))
	for i, r := range res {
		out[i] = r.Code
	}
	return out
}

func bal(id uint64, dp, dpo, cp, cpo mgmt.Money) ledger.Balance {
	return ledger.Balance{AccountID: id, DebitsPending: dp, DebitsPosted: dpo, CreditsPending: cp, CreditsPosted: cpo}
}
