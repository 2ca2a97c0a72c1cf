package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/ledger"
)

// Keep a durable ledger in the store's file: two accounts, a transfer,
// and the balances, read back after the store is reopened.
func ExampleStore_Ledger() {
	dir, err := os.MkdirTemp("", "ledger")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	path := filepath.Join(dir, "mgmt.db")
	clk := clock.NewMock()
	clk.Set(time.Date(2026, time.November, 20, 9, 0, 0, 0, time.UTC))

	store, err := sqlite.Open(ctx, sqlite.Options{Path: path})
	if err != nil {
		log.Fatal(err)
	}
	l, err := store.Ledger(ledger.DurableOptions{Clock: clk})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := l.CreateAccounts(ctx, []ledger.Account{
		{ID: 1, Name: "Treasury", Agency: "treasury", Currency: "USD"},
		{ID: 2, Name: "GPO", Agency: "gpo", Currency: "USD"},
	}); err != nil {
		log.Fatal(err)
	}
	res, err := l.CreateTransfers(ctx, []ledger.Transfer{{ID: 100, DebitAccountID: 1, CreditAccountID: 2, Amount: 250_000_00}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("transfer 100:", res[0].Code)
	if err := store.Close(); err != nil {
		log.Fatal(err)
	}

	store, err = sqlite.Open(ctx, sqlite.Options{Path: path})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	l, err = store.Ledger(ledger.DurableOptions{Clock: clk})
	if err != nil {
		log.Fatal(err)
	}
	for _, id := range []uint64{1, 2} {
		b, err := l.Balance(ctx, id, time.Time{})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("account %d: debits %s, credits %s\n", id, b.DebitsPosted, b.CreditsPosted)
	}
	// Output:
	// transfer 100: ok
	// account 1: debits 250000.00, credits 0.00
	// account 2: debits 0.00, credits 250000.00
}
