package postgres_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/hms-platform/mgmt/backends/postgres"
	"github.com/hms-platform/mgmt/budget"
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
