package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/budget"
)

// Open a store, record spend (twice: a replay counts once), and read the
// month's spend by service and by label selector.
func Example() {
	dir, err := os.MkdirTemp("", "budget")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	store, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "budget.db")})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	at := time.Date(2026, time.November, 10, 12, 0, 0, 0, time.UTC)
	recs, err := budget.NormalizeAll([]budget.Record{
		{ID: "inv-1/line-1", Service: "eligibility-api", Amount: 125_00, At: at, Labels: mgmt.Labels{"program": "eligibility"}},
		{ID: "inv-1/line-2", Service: "eligibility-api", Amount: 74_50, At: at, Labels: mgmt.Labels{"program": "eligibility"}},
		{ID: "inv-1/line-3", Service: "snap-portal", Amount: 20_00, At: at, Labels: mgmt.Labels{"program": "snap"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	for range 2 {
		added, err := store.AddSpend(ctx, recs)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("added", added)
	}

	month := budget.Month.Window(at)
	for _, f := range []budget.SpendFilter{
		{Service: "eligibility-api", From: month.Start, To: month.End},
		{Selector: budget.Selector{mgmt.LabelFiscalYear: "FY2027"}, From: month.Start, To: month.End},
	} {
		spent, err := store.Spend(ctx, f)
		if err != nil {
			log.Fatal(err)
		}
		target := f.Service
		if target == "" {
			target = f.Selector.String()
		}
		fmt.Printf("%s %s: $%s\n", month.Key, target, spent)
	}
	// Output:
	// added 3
	// added 0
	// 2026-11 eligibility-api: $199.50
	// 2026-11 fiscalYear=FY2027: $219.50
}
