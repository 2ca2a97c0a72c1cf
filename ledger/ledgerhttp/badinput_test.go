package ledgerhttp_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBadTransfers: every refusal names the field and the reason, never a
// 5xx, and nothing is stored.
func TestBadTransfers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, c := range []struct {
		name, body     string
		status         int
		field, message string
	}{
		{"zero", `{"from": "Treasury", "to": "GPO", "amount": 0}`, 400, "amount", "must be more than 0"},
		{"negative", `{"from": "Treasury", "to": "GPO", "amount": -1}`, 400, "amount", "must be more than 0"},
		{"negative zero", `{"from": "Treasury", "to": "GPO", "amount": -0}`, 400, "amount", "must be more than 0"},
		{"exponent", `{"from": "Treasury", "to": "GPO", "amount": 1e5}`, 400, "amount", "not a decimal number of dollars"},
		{"string", `{"from": "Treasury", "to": "GPO", "amount": "100"}`, 400, "amount", `got the JSON string "100"`},
		{"three decimals", `{"from": "Treasury", "to": "GPO", "amount": 100.001}`, 400, "amount", "more than two decimals"},
		{"null", `{"from": "Treasury", "to": "GPO", "amount": null}`, 400, "amount", "got null"},
		{"bool", `{"from": "Treasury", "to": "GPO", "amount": true}`, 400, "amount", "got true or false"},
		{"missing", `{"from": "Treasury", "to": "GPO"}`, 400, "amount", "is required"},
		{"over the maximum", `{"from": "Treasury", "to": "GPO", "amount": 1000000000000.01}`, 400, "amount", "more than the largest transfer"},
		{"huge", `{"from": "Treasury", "to": "GPO", "amount": 99999999999999999999999}`, 400, "amount", "out of range"},
		{"unknown field", `{"from": "Treasury", "to": "GPO", "amount": 1, "memo": "x"}`, 400, "memo", "unknown"},
		{"duplicate key", `{"from": "Treasury", "to": "GPO", "amount": 1, "amount": 2}`, 400, "amount", "given twice"},
		{"case variant", `{"From": "Treasury", "to": "GPO", "amount": 1}`, 400, "From", ""},
		{"from = to", `{"from": "Treasury", "to": "Treasury", "amount": 1}`, 400, "to", "between two accounts"},
		{"from = to by ID", `{"from": "Treasury", "to": "2", "amount": 1}`, 400, "to", "between two accounts"},
		{"unknown from", `{"from": "Mint", "to": "GPO", "amount": 1}`, 404, "from", `no account "Mint"`},
		{"unknown to", `{"from": "Treasury", "to": "Mint", "amount": 1}`, 404, "to", `no account "Mint"`},
		{"missing from", `{"to": "GPO", "amount": 1}`, 400, "from", "is required"},
		{"empty to", `{"from": "Treasury", "to": "", "amount": 1}`, 400, "to", "is empty"},
		{"from not a string", `{"from": 2, "to": "GPO", "amount": 1}`, 400, "from", ""},
		{"code out of range", `{"from": "Treasury", "to": "GPO", "amount": 1, "code": 70000}`, 400, "code", ""},
		{"trailing data", `{"from": "Treasury", "to": "GPO", "amount": 1} {}`, 400, "", ""},
		{"not an object", `[1]`, 400, "", ""},
		{"empty body", ``, 400, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, m := e.do(t, "POST", "/ach/transfer", c.body, "")
			require.Equal(t, c.status, status, "%v", m)
			_, field, msg := errOf(t, m)
			if c.field != "" {
				assert.Equal(t, c.field, field, msg)
			}
			assert.Contains(t, msg, c.message)
		})
	}
	// Bad headers and parameters.
	status, m := e.do(t, "POST", "/ach/transfer", seedBody, "", "Idempotency-Key", "has space")
	assert.Equal(t, http.StatusBadRequest, status)
	_, field, _ := errOf(t, m)
	assert.Equal(t, "Idempotency-Key", field)
	status, _ = e.do(t, "POST", "/ach/transfer", seedBody, "", "Idempotency-Key", "a", "Idempotency-Key", "b")
	assert.Equal(t, http.StatusBadRequest, status)
	status, _ = e.do(t, "POST", "/ach/transfer", seedBody, "", "Idempotency-Key", strings.Repeat("k", 256))
	assert.Equal(t, http.StatusBadRequest, status)
	status, m = e.do(t, "POST", "/ach/transfer?dryRun=true", seedBody, "")
	assert.Equal(t, http.StatusBadRequest, status)
	_, field, _ = errOf(t, m)
	assert.Equal(t, "dryRun", field)
	r := httptest.NewRequest("POST", "/ach/transfer", strings.NewReader(seedBody))
	r.Header.Set("Content-Type", "text/plain")
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusUnsupportedMediaType, w.Code, w.Body.String())

	assert.Equal(t, 1, e.transferCount(t, treasuryID), "nothing was stored: only the funding")
	assert.Empty(t, e.audit.Events())
}

func TestBadQueries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, c := range []struct{ path, field string }{
		{"/ach/accounts?limit=0", "limit"},
		{"/ach/accounts?limit=1001", "limit"},
		{"/ach/accounts?limit=01", "limit"},
		{"/ach/accounts?after=x", "after"},
		{"/ach/accounts?sort=name", "sort"},
		{"/ach/accounts/Treasury?at=yesterday", "at"},
		{"/ach/accounts/Treasury?at=2026-01-01T00:00:00Z&at=2026-01-02T00:00:00Z", "at"},
		{"/ach/accounts/Treasury/transfers?after=1", "after"},
		{"/ach/accounts/Treasury/transfers?limit=-1", "limit"},
		{"/ach/transfers/1000?x=1", "x"},
	} {
		status, m := e.do(t, "GET", c.path, "", "")
		assert.Equal(t, http.StatusBadRequest, status, c.path)
		_, field, _ := errOf(t, m)
		assert.Equal(t, c.field, field, c.path)
	}
	for _, p := range []string{"/ach/transfers/0", "/ach/transfers/01000", "/ach/transfers/x", "/ach/transfers/18446744073709551615",
		"/ach/transfers/99999999999999999999", "/ach/accounts/Mint", "/ach/accounts/0", "/ach/accounts/%20Treasury"} {
		status, m := e.do(t, "GET", p, "", "")
		assert.Equal(t, http.StatusNotFound, status, p)
		assert.Equal(t, "not_found", m["error"].(map[string]any)["kind"], p)
	}
	status, _ := e.do(t, "DELETE", "/ach/transfers/1000", "", "")
	assert.Equal(t, http.StatusMethodNotAllowed, status)
}

func TestBadAccounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, c := range []struct {
		name, body     string
		status         int
		field, message string
	}{
		{"no name", `{"agency": "gpo"}`, 400, "name", "is required"},
		{"no agency", `{"name": "GPO 2"}`, 400, "agency", "is required"},
		{"control character", `{"name": "GPO\u0007", "agency": "gpo"}`, 400, "name", "control characters"},
		{"star agency", `{"name": "All", "agency": "*"}`, 400, "agency", "not a tenant"},
		{"bad id", `{"id": "01", "name": "GPO 2", "agency": "gpo"}`, 400, "id", "not an account ID"},
		{"numeric id", `{"id": 7, "name": "GPO 2", "agency": "gpo"}`, 400, "id", ""},
		{"bad flag", `{"name": "GPO 2", "agency": "gpo", "flags": ["overdraft"]}`, 400, "flags[0]", "not a flag"},
		{"both flags", `{"name": "GPO 2", "agency": "gpo", "flags": ["debits_must_not_exceed_credits", "credits_must_not_exceed_debits"]}`, 400, "flags", "flags_are_mutually_exclusive"},
		{"bad routing number", `{"name": "GPO 2", "agency": "gpo", "bank": {"routingNumber": "011000016", "accountNumber": "1", "accountType": "checking"}}`, 400, "bank.routingNumber", "routing_number_invalid"},
		{"bad account type", `{"name": "GPO 2", "agency": "gpo", "bank": {"routingNumber": "011000015", "accountNumber": "1", "accountType": "loan"}}`, 400, "bank.accountType", "bank_account_type_invalid"},
		{"unknown bank field", `{"name": "GPO 2", "agency": "gpo", "bank": {"iban": "x"}}`, 400, "bank.iban", ""},
		{"name taken", `{"id": "77", "name": "GPO", "agency": "gpo"}`, 409, "name", "name_already_used"},
		{"same name, other agency", `{"name": "GPO", "agency": "treasury"}`, 409, "name", "name_already_used"},
		{"same id, other name", `{"id": "3", "name": "GPO 2", "agency": "gpo"}`, 409, "name", "exists_with_different_name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, m := e.do(t, "POST", "/ach/accounts", c.body, "")
			require.Equal(t, c.status, status, "%v", m)
			_, field, msg := errOf(t, m)
			assert.Equal(t, c.field, field, msg)
			assert.Contains(t, msg, c.message)
		})
	}
	status, m := e.do(t, "GET", "/ach/accounts", "", "")
	require.Equal(t, http.StatusOK, status)
	assert.Len(t, m["accounts"], 4, "nothing was created")
}
