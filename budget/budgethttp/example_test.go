package budgethttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/budget/budgethttp"
)

// The seed's guardrail over HTTP: a $10,000 monthly cap on
// eligibility-api, which has spent $7,360 and runs 4 replicas at $0.96 per
// replica-hour, allows it 15 replicas.
func ExampleNewHandler() {
	ctx := context.Background()
	clk := clock.NewMock()
	clk.Set(time.Date(2026, time.November, 23, 8, 50, 0, 0, time.UTC))
	b, err := budget.New(ctx, budget.Options{
		Store: budget.NewMemory(), Clock: clk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	_ = b.SetService(ctx, "eligibility-api", budget.ServiceInfo{PricePerReplicaHour: 96}) // $0.96
	_, _ = b.Record(ctx, budget.Record{ID: "invoice-1", Service: "eligibility-api", Amount: 736_000, At: clk.Now().Add(-time.Hour)})
	b.Observe("eligibility-api", 4, clk.Now())

	// auth.AllowAll is for development; hosts pass auth.Authorizer.HTTP()
	// behind auth.Middleware.
	h, err := budgethttp.NewHandler(b, budgethttp.Options{Authorize: auth.AllowAll("dev")})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	res, err := http.Post(srv.URL+"/budgets/eligibility-api", "application/json", strings.NewReader(`{"monthlyUSD": 10000}`))
	if err != nil {
		panic(err)
	}
	res.Body.Close()
	fmt.Println(res.StatusCode)

	res, err = http.Get(srv.URL + "/budgets/eligibility-api")
	if err != nil {
		panic(err)
	}
	var st struct {
		Cap        budget.Cap      `json:"cap"`
		MonthlyUSD json.RawMessage `json:"monthlyUSD"`
		Spend      json.RawMessage `json:"spendUSD"`
		Forecast   json.RawMessage `json:"forecastUSD"`
		ReplicaCap *int32          `json:"replicaCap"`
	}
	_ = json.NewDecoder(res.Body).Decode(&st)
	res.Body.Close()
	fmt.Println(st.Cap.ID, "monthlyUSD", string(st.MonthlyUSD))
	fmt.Println("spend", string(st.Spend), "forecast", string(st.Forecast), "replicaCap", *st.ReplicaCap)
	// Output:
	// 201
	// eligibility-api/month monthlyUSD 10000.00
	// spend 7360.00 forecast 8063.36 replicaCap 15
}
