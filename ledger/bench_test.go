package ledger_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

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

// BenchmarkDurableGroupCommit has 64 clients submit one transfer each per
// call from one hot account through Durable over the in-memory map
// storage: the cost of gathering and deciding groups, without a disk. The
// SQLite and PostgreSQL backends' benchmarks add their storage.
func BenchmarkDurableGroupCommit(b *testing.B) {
	ctx := context.Background()
	d, err := ledger.NewDurable(newMapStorage(), ledger.DurableOptions{Clock: clock.NewMock()})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := d.CreateAccounts(ctx, []ledger.Account{
		{ID: 1, Name: "Treasury", Agency: "treasury", Currency: "USD"},
		{ID: 2, Name: "GPO", Agency: "gpo", Currency: "USD"},
	}); err != nil {
		b.Fatal(err)
	}
	var next atomic.Uint64
	b.SetParallelism(64) // × GOMAXPROCS goroutines; make bench runs -cpu 1
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := d.CreateTransfers(ctx, []ledger.Transfer{{ID: next.Add(1), DebitAccountID: 1, CreditAccountID: 2, Amount: 1}})
			if err != nil || res[0].Code != ledger.TransferOK {
				b.Error(err, res)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "transfers/s")
	b.ReportMetric(float64(b.N)/float64(max(d.Groups()-1, 1)), "transfers/group")
}
