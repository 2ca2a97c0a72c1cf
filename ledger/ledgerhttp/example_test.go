package ledgerhttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/ledgerhttp"
)

// The seed's call against an in-memory ledger: between agencies and over
// $100,000, so it waits for a second person; bob approves it.
func Example() {
	ctx := context.Background()
	l, _ := ledger.NewMemory(ledger.Options{})
	l.CreateAccounts(ctx, []ledger.Account{
		{ID: 1, Name: "Treasury", Agency: "treasury", Currency: mgmt.Currency},
		{ID: 2, Name: "GPO", Agency: "gpo", Currency: mgmt.Currency},
	})
	h, err := ledgerhttp.NewHandler(l, ledgerhttp.Options{Authorize: auth.AllowAll("dev"), Auditor: mgmt.NopAuditor})
	if err != nil {
		panic(err)
	}
	send := func(method, path, body, actor string) map[string]any {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("X-HMS-Actor", actor)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var m map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &m)
		fmt.Println(w.Code, m["status"])
		return m
	}
	m := send("POST", "/ach/transfer", `{"from": "Treasury", "to": "GPO", "amount": 250000}`, "ana")
	send("POST", "/ach/transfers/"+m["id"].(string)+"/approve", "", "bob")
	b, _ := l.Balance(ctx, 2, time.Time{})
	fmt.Println("GPO:", b.CreditsPosted)
	// Output:
	// 201 pending_approval
	// 200 posted
	// GPO: 250000.00
}
