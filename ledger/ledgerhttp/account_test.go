package ledgerhttp_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/ledger/approval"
	"github.com/hms-platform/mgmt/ledger/ledgerhttp"
)

func mustPolicy(t *testing.T, expr string) *approval.Policy {
	t.Helper()
	p, err := approval.Compile(expr, approval.Options{})
	require.NoError(t, err)
	return p
}

func TestAccounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	body := `{"name": "GPO Payroll", "agency": "gpo", "flags": ["debits_must_not_exceed_credits"],
	          "bank": {"routingNumber": "011000015", "accountNumber": "123456789", "accountType": "savings"}}`
	w := e.raw(t, "POST", "/ach/accounts", body, "")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	var m map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m))
	id := m["id"].(string)
	assert.Equal(t, formatID(ledgerhttp.AccountID("GPO Payroll")), id, "the ID comes from the name")
	assert.Equal(t, "/ach/accounts/"+id, w.Header().Get("Location"))
	assert.Equal(t, "*****6789", m["bank"].(map[string]any)["accountNumber"], "masked")
	assert.Equal(t, []any{"debits_must_not_exceed_credits"}, m["flags"])
	again := e.raw(t, "POST", "/ach/accounts", body, "")
	assert.Equal(t, http.StatusOK, again.Code, "idempotent")
	assert.Equal(t, w.Body.String(), again.Body.String())

	status, m2 := e.do(t, "POST", "/ach/accounts", `{"id": "42", "name": "Mint", "agency": "mint"}`, "")
	require.Equal(t, http.StatusCreated, status, "%v", m2)
	assert.Equal(t, "42", m2["id"])

	// By name and by ID, with balances.
	status, m = e.do(t, "GET", "/ach/accounts/"+url.PathEscape("GPO Payroll"), "", "")
	require.Equal(t, http.StatusOK, status, "%v", m)
	assert.Equal(t, id, m["id"])
	status, m = e.do(t, "GET", "/ach/accounts/2", "", "")
	require.Equal(t, http.StatusOK, status, "%v", m)
	assert.Equal(t, "Treasury", m["name"])
	bal := m["balance"].(map[string]any)
	assert.Equal(t, json.Number("10000000.00"), bal["creditsPosted"])
	assert.Equal(t, json.Number("10000000.00"), bal["available"])

	// A pending transfer lowers what is available, not the net.
	pending(t, e)
	e.clock.Add(time.Hour)
	_, m = e.do(t, "GET", "/ach/accounts/Treasury", "", "")
	bal = m["balance"].(map[string]any)
	assert.Equal(t, json.Number("10000000.00"), bal["net"])
	assert.Equal(t, json.Number("9750000.00"), bal["available"])
	// At a point in time before it.
	status, m = e.do(t, "GET", "/ach/accounts/Treasury?at="+url.QueryEscape(t0.Add(-time.Nanosecond).Format(time.RFC3339Nano)), "", "")
	require.Equal(t, http.StatusOK, status, "%v", m)
	bal = m["balance"].(map[string]any)
	assert.Equal(t, json.Number("0.00"), bal["creditsPosted"], "before the funding")

	// The list, a page at a time.
	status, m = e.do(t, "GET", "/ach/accounts?limit=4", "", "")
	require.Equal(t, http.StatusOK, status)
	assert.Len(t, m["accounts"], 4)
	assert.Equal(t, "4", m["next"])
	status, m = e.do(t, "GET", "/ach/accounts?limit=4&after=4", "", "")
	require.Equal(t, http.StatusOK, status)
	assert.Len(t, m["accounts"], 2, "42 and GPO Payroll")
	assert.Nil(t, m["next"])
}

func formatID(id uint64) string { return json.Number(uintString(id)).String() }

func uintString(id uint64) string {
	b, _ := json.Marshal(id)
	return string(b)
}

// TestHistory pages through an account's transfers.
func TestHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for range 5 {
		status, _ := e.do(t, "POST", "/ach/transfer", `{"from": "Treasury", "to": "Treasury Ops", "amount": 1}`, "")
		require.Equal(t, http.StatusCreated, status)
		e.clock.Add(time.Second)
	}
	var ids []string
	after := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		path := "/ach/accounts/Treasury/transfers?limit=2"
		if after != "" {
			path += "&after=" + url.QueryEscape(after)
		}
		status, m := e.do(t, "GET", path, "", "")
		require.Equal(t, http.StatusOK, status, "%v", m)
		for _, it := range m["transfers"].([]any) {
			ids = append(ids, it.(map[string]any)["id"].(string))
		}
		next, _ := m["next"].(string)
		if next == "" {
			break
		}
		after = next
	}
	assert.Len(t, ids, 6, "the funding and five transfers")
	assert.Equal(t, "1000", ids[0])
}
