package budget_test

import (
	"context"
	"fmt"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/scaler"
)

// The seed's guardrail: a $10,000 monthly cap stops eligibility-api's
// scale-up at the replicas whose forecast stays within it.
func Example() {
	ctx := context.Background()
	clk := clock.NewMock()
	clk.Set(time.Date(2026, time.November, 23, 8, 50, 0, 0, time.UTC))
	b, err := budget.New(ctx, budget.Options{Store: budget.NewMemory(), Clock: clk})
	if err != nil {
		panic(err)
	}
	_ = b.SetService(ctx, "eligibility-api", budget.ServiceInfo{PricePerReplicaHour: 96}) // $0.96
	c, _ := b.SetCap(ctx, budget.Cap{Service: "eligibility-api", Amount: 1_000_000})      // $10,000 a month
	_, _ = b.Record(ctx, budget.Record{ID: "invoice-1", Service: "eligibility-api", Amount: 736_000, At: clk.Now().Add(-time.Hour)})
	b.Observe("eligibility-api", 4, clk.Now())

	rule := &scaler.Rule{Service: "eligibility-api", MinReplicas: 4, MaxReplicas: 50}
	n, reason, _ := b.Guard().Limit(ctx, scaler.Proposal{Rule: rule, Now: clk.Now(), Current: 4, Desired: 40})
	st, _ := b.Status(ctx, c.ID)
	fmt.Println(c.ID, "spend", st.Spend, "forecast", st.Forecast)
	fmt.Println(n)
	fmt.Println(reason)
	// Output:
	// eligibility-api/month spend 7360.00 forecast 8063.36
	// 15
	// capped by budget eligibility-api/month: 15 replicas forecast $9997.60, 40 would forecast $14393.60 against the cap $10000.00 (spend $7360.00, $175.84 per replica to the end of 2026-11)
}
