package ledger_test

import (
	"context"
	"fmt"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger"
)

// Treasury pays GPO $250,000.00: a two-phase transfer reserved, then
// posted; a retry of the same transfers changes nothing.
func Example() {
	ctx := context.Background()
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))
	l, err := ledger.NewMemory(ledger.Options{Clock: clk})
	if err != nil {
		panic(err)
	}
	const (
		funding, treasury, gpo uint64 = 1, 2, 3
	)
	accounts, _ := l.CreateAccounts(ctx, []ledger.Account{
		{ID: funding, Name: "Appropriations", Agency: "treasury", Currency: mgmt.Currency},
		{ID: treasury, Name: "Treasury", Agency: "treasury", Currency: mgmt.Currency, Flags: ledger.DebitsMustNotExceedCredits},
		{ID: gpo, Name: "GPO", Agency: "gpo", Currency: mgmt.Currency,
			Bank: &ledger.Bank{RoutingNumber: "011000015", AccountNumber: "4410020", AccountType: ledger.Checking}},
	})
	fmt.Println("accounts:", accounts[0].Code, accounts[1].Code, accounts[2].Code)

	amount, _ := mgmt.ParseDollars("250000.00")
	batch := []ledger.Transfer{
		{ID: 100, DebitAccountID: funding, CreditAccountID: treasury, Amount: 1_000_000_00, Flags: ledger.Linked},
		{ID: 101, DebitAccountID: treasury, CreditAccountID: gpo, Amount: amount, Flags: ledger.Pending, Timeout: 24 * time.Hour},
	}
	res, _ := l.CreateTransfers(ctx, batch)
	fmt.Println("reserve:", res[0].Code, res[1].Code)
	res, _ = l.CreateTransfers(ctx, []ledger.Transfer{{ID: 102, PendingID: 101, Flags: ledger.PostPending}})
	fmt.Println("post:", res[0].Code)
	res, _ = l.CreateTransfers(ctx, batch)
	fmt.Println("retry:", res[0].Code, res[1].Code)
	res, _ = l.CreateTransfers(ctx, []ledger.Transfer{{ID: 103, DebitAccountID: treasury, CreditAccountID: gpo, Amount: 1_000_000_00}})
	fmt.Println("overdraft:", res[0].Code, res[0].Err())

	b, _ := l.Balance(ctx, gpo, time.Time{})
	fmt.Printf("GPO credits posted $%s\n", b.CreditsPosted)
	b, _ = l.Balance(ctx, treasury, time.Time{})
	fmt.Printf("Treasury debits posted $%s of credits $%s\n", b.DebitsPosted, b.CreditsPosted)
	// Output:
	// accounts: ok ok ok
	// reserve: ok ok
	// post: ok
	// retry: exists exists
	// overdraft: exceeds_credits transfers[0].amount: exceeds_credits
	// GPO credits posted $250000.00
	// Treasury debits posted $250000.00 of credits $1000000.00
}

func ExampleValidRoutingNumber() {
	fmt.Println(ledger.ValidRoutingNumber("011000015"), ledger.ValidRoutingNumber("011000016"))
	// Output: true false
}
