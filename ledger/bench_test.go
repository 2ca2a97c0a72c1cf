package ledger_test

import (
	"context"
	"testing"

	"github.com/benbjohnson/clock"

	"github.com/hms-platform/mgmt/ledger"
)

// BenchmarkCreateTransfers applies batches of 100 transfers from one hot
// account to another on the in-memory backend; ns/op is per batch.
func BenchmarkCreateTransfers(b *testing.B) {
	ctx := context.Background()
	l, err := ledger.NewMemory(ledger.Options{Clock: clock.NewMock()})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := l.CreateAccounts(ctx, []ledger.Account{
		{ID: 1, Name: "Treasury", Agency: "treasury", Currency: "USD"},
		{ID: 2, Name: "GPO", Agency: "gpo", Currency: "USD"},
	}); err != nil {
		b.Fatal(err)
	}
	batch := make([]ledger.Transfer, 100)
	id := uint64(0)
	b.ReportAllocs()
	for b.Loop() {
		for i := range batch {
			id++
			batch[i] = ledger.Transfer{ID: id, DebitAccountID: 1, CreditAccountID: 2, Amount: 1}
		}
		res, err := l.CreateTransfers(ctx, batch)
		if err != nil || res[99].Code != ledger.TransferOK {
			b.Fatal(err, res[99].Code)
		}
	}
}
