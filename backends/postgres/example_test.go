package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/hms-platform/mgmt/backends/postgres"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/patch"
)

// A host opens the store once, hands it to the budget and closes it on
// the way out. (Not run: it needs a server.)
func ExampleOpen() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := postgres.Open(ctx, postgres.Options{DSN: os.Getenv("MGMT_POSTGRES_DSN")})
	if err != nil {
		log.Fatal(err) // never shows the DSN's password
	}
	defer store.Close()

	recs, err := budget.NormalizeAll([]budget.Record{{
		ID: "invoice-2026-11/line-1", Service: "eligibility-api", Amount: 125_00,
		At: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC),
	}})
	if err != nil {
		log.Fatal(err)
	}
	added, err := store.AddSpend(ctx, recs) // a replay adds 0
	if err != nil {
		log.Fatal(err)
	}
	w := budget.Month.Window(recs[0].At)
	spent, err := store.Spend(ctx, budget.SpendFilter{Service: "eligibility-api", From: w.Start, To: w.End})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(added, spent)
}

// A host keeps patches in the same database as the budget: Patches
// shares the store's pool. (Not run: it needs a server.)
func ExampleStore_Patches() {
	ctx := context.Background()
	store, err := postgres.Open(ctx, postgres.Options{DSN: os.Getenv("MGMT_POSTGRES_DSN")})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	patches := store.Patches()

	// Every host may submit at once: decide runs under the tenant's
	// advisory lock, so the quota holds across hosts.
	// decide sees the live patches that the scope selects: those of
	// the tenant whose windows overlap and that change rate_limit_rps.
	now := time.Now().UTC()
	window := patch.Window{Start: now, End: now.Add(14 * 24 * time.Hour)}
	scope := patch.Scope{Window: window, Shared: []string{"rate_limit_rps"}}
	rec, err := patches.Create(ctx, "iacb", scope, func(live []patch.Record) (patch.Record, error) {
		if len(live) >= 3 {
			return patch.Record{}, errors.New("quota: 3 live patches per tenant in one window")
		}
		return patch.Record{
			Patch: patch.Patch{Service: "artist-registry-api", Tenant: "iacb",
				Changes: patch.Changes{"rate_limit_rps": int64(200)},
				Window:  window},
			Status: patch.Queued, Created: now, Updated: now,
			History: []patch.Transition{{To: patch.Queued, Actor: "ana@example.gov", At: now}},
		}, nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rec.Patch.ID, rec.Status)
}

// A host keeps the ledger in the same database: every host may run one
// (each group of calls locks the ledger for its transaction), and each
// call returns once its group is committed durably. (Not run: it needs a
// server.)
func ExampleStore_Ledger() {
	ctx := context.Background()
	store, err := postgres.Open(ctx, postgres.Options{DSN: os.Getenv("MGMT_POSTGRES_DSN")})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	l, err := store.Ledger(ledger.DurableOptions{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := l.CreateAccounts(ctx, []ledger.Account{
		{ID: 1, Name: "Treasury", Agency: "treasury", Currency: "USD", Flags: ledger.DebitsMustNotExceedCredits},
		{ID: 2, Name: "GPO", Agency: "gpo", Currency: "USD"},
	}); err != nil {
		log.Fatal(err)
	}
	res, err := l.CreateTransfers(ctx, []ledger.Transfer{{ID: 100, DebitAccountID: 1, CreditAccountID: 2, Amount: 25_000_00}})
	if err != nil {
		log.Fatal(err) // unavailable: resubmit the same IDs
	}
	fmt.Println(res[0].Code) // exceeds_credits: Treasury was never funded
}
