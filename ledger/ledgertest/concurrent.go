package ledgertest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger"
)

func contextWithCancel(f *fixture) (context.Context, context.CancelFunc) {
	return context.WithCancel(f.ctx)
}

// testConcurrent runs 64 goroutines against the hot Treasury account, which
// holds $1,000.00 and may not go below zero: exactly the transfers that fit
// succeed, the books balance and the flag holds.
func testConcurrent(t *testing.T, nb NewBackend) {
	f := newFixture(t, nb)
	const workers, each = 64, 40
	var okSum atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				id := uint64(1000 + w*each + i)
				amount := mgmt.Money(1 + (w+i)%5*dollars)
				batch := []ledger.Transfer{xfer(id, amount)}
				if i%4 == 0 {
					batch = []ledger.Transfer{pend(id, amount, 0), post(id+1_000_000, id, 0)}
					batch[0].Flags |= ledger.Linked
				}
				res, err := f.b.CreateTransfers(f.ctx, batch)
				if !assert.NoError(t, err) {
					return
				}
				switch c := res[len(res)-1].Code; {
				case c == ledger.TransferOK:
					okSum.Add(int64(amount))
				case c == ledger.TransferExceedsCredits, c == ledger.TransferLinkedEventFailed:
				default:
					t.Errorf("transfer %d: %s", id, c)
				}
				// A retry from the same goroutine is never applied twice.
				if i%7 == 0 {
					_, err := f.b.CreateTransfers(f.ctx, batch)
					assert.NoError(t, err)
				}
			}
		}(w)
	}
	wg.Wait()
	tr := f.balance(Treasury)
	gpo := f.balance(GPO)
	assert.LessOrEqual(t, tr.DebitsPending+tr.DebitsPosted, tr.CreditsPosted, "the Treasury flag holds")
	assert.Equal(t, mgmt.Money(okSum.Load()), tr.DebitsPosted)
	assert.Equal(t, mgmt.Money(okSum.Load()), gpo.CreditsPosted)
	assert.Zero(t, tr.DebitsPending)
	var debits, credits mgmt.Money
	for _, id := range []uint64{Treasury, GPO, Funding, Receivable} {
		b := f.balance(id)
		debits += b.DebitsPosted + b.DebitsPending
		credits += b.CreditsPosted + b.CreditsPending
	}
	require.Equal(t, debits, credits, "Σ debits = Σ credits")
}
