package ledgerhttp_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger/ledgerhttp"
)

// TestIdempotencyKey: the same key and body answer the first answer; the
// same key with another body is refused with the ledger's precise code.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	key := []string{"Idempotency-Key", "3f1c2a9e-payroll-42"}
	first := e.raw(t, "POST", "/ach/transfer", seedBody, "ana", key...)
	require.Equal(t, http.StatusCreated, first.Code, first.Body.String())
	e.clock.Add(time.Minute)
	again := e.raw(t, "POST", "/ach/transfer", seedBody, "ana", key...)
	assert.Equal(t, http.StatusOK, again.Code)
	assert.Equal(t, first.Body.String(), again.Body.String(), "the first answer")
	assert.Contains(t, first.Body.String(), `"id":"`+strconv.FormatUint(ledgerhttp.KeyTransferID("treasury", "3f1c2a9e-payroll-42"), 10)+`"`)
	assert.Equal(t, mgmt.Money(250_000_00), e.balance(t, treasuryID).DebitsPending, "reserved once")

	for _, c := range []struct{ body, actor, code string }{
		{`{"from": "Treasury", "to": "GPO", "amount": 250000.01}`, "ana", "exists_with_different_amount"},
		{`{"from": "Treasury", "to": "Treasury Ops", "amount": 250000}`, "ana", "exists_with_different_credit_account_id"},
		{`{"from": "Treasury", "to": "GPO", "amount": 250000, "code": 9}`, "ana", "exists_with_different_code"},
		{seedBody, "bob", "exists_with_different_user_data"},
		{`{"from": "Treasury", "to": "Treasury Ops", "amount": 5}`, "ana", "exists_with_different_flags"},
	} {
		status, m := e.do(t, "POST", "/ach/transfer", c.body, c.actor, key...)
		require.Equal(t, http.StatusConflict, status, "%s: %v", c.body, m)
		kind, field, msg := errOf(t, m)
		assert.Equal(t, "conflict", kind)
		assert.Equal(t, "Idempotency-Key", field)
		assert.True(t, strings.HasPrefix(msg, c.code+":"), "%s: %s", c.body, msg)
	}
	// The key belongs to the debited tenant: the same key from another
	// tenant's account is another transfer.
	status, m := e.do(t, "POST", "/ach/transfer", `{"from": "GPO", "to": "Treasury Ops", "amount": 1}`, "gil", key...)
	require.Equal(t, http.StatusCreated, status, "%v", m)
	assert.Equal(t, strconv.FormatUint(ledgerhttp.KeyTransferID("gpo", "3f1c2a9e-payroll-42"), 10), m["id"])

	// Without a key every request is a new transfer.
	a := e.raw(t, "POST", "/ach/transfer", `{"from": "Treasury", "to": "Treasury Ops", "amount": 1}`, "")
	b := e.raw(t, "POST", "/ach/transfer", `{"from": "Treasury", "to": "Treasury Ops", "amount": 1}`, "")
	require.Equal(t, http.StatusCreated, a.Code)
	require.Equal(t, http.StatusCreated, b.Code)
	assert.NotEqual(t, a.Body.String(), b.Body.String())
	assert.Equal(t, mgmt.Money(2_00), e.balance(t, opsID).CreditsPosted)
}

// pending submits the seed transfer as ana and returns its ID.
func pending(t *testing.T, e *env) string {
	t.Helper()
	status, m := e.do(t, "POST", "/ach/transfer", seedBody, "ana")
	require.Equal(t, http.StatusCreated, status, "%v", m)
	require.Equal(t, "pending_approval", m["status"])
	return m["id"].(string)
}

// TestDualControl: the submitter cannot approve; a second person can,
// exactly once.
func TestDualControl(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	id := pending(t, e)
	approve := "/ach/transfers/" + id + "/approve"

	status, m := e.do(t, "POST", approve, "", "ana")
	require.Equal(t, http.StatusForbidden, status, "%v", m)
	kind, field, msg := errOf(t, m)
	assert.Equal(t, "forbidden", kind)
	assert.Equal(t, "approver", field)
	assert.Contains(t, msg, "submitter")
	status, m = e.do(t, "POST", "/ach/transfers/"+id+"/reject", "", "ana")
	require.Equal(t, http.StatusForbidden, status, "the submitter may not reject either: %v", m)
	assert.Zero(t, e.balance(t, gpoID).CreditsPosted)

	status, m = e.do(t, "POST", approve, "", "bob")
	require.Equal(t, http.StatusOK, status, "%v", m)
	assert.Equal(t, "posted", m["status"])
	assert.Equal(t, "pending", m["kind"])
	a := m["approval"].(map[string]any)
	assert.Equal(t, "posted", a["status"])
	assert.Equal(t, strconv.FormatUint(ledgerhttp.PostID(mustID(t, id)), 10), a["resolvedBy"])
	assert.Equal(t, mgmt.Money(250_000_00), e.balance(t, gpoID).CreditsPosted)
	tb := e.balance(t, treasuryID)
	assert.Zero(t, tb.DebitsPending)
	assert.Equal(t, mgmt.Money(250_000_00), tb.DebitsPosted)

	again := e.raw(t, "POST", approve, "", "bob")
	assert.Equal(t, http.StatusOK, again.Code, "bob's retry: %s", again.Body.String())
	status, m = e.do(t, "POST", approve, "", "cy")
	assert.Equal(t, http.StatusConflict, status)
	_, _, msg = errOf(t, m)
	assert.True(t, strings.HasPrefix(msg, "pending_transfer_already_posted:"), msg)
	status, m = e.do(t, "POST", "/ach/transfers/"+id+"/reject", "", "cy")
	assert.Equal(t, http.StatusConflict, status)
	_, field, msg = errOf(t, m)
	assert.Equal(t, "transfer", field)
	assert.True(t, strings.HasPrefix(msg, "pending_transfer_already_posted:"), msg)
	assert.Equal(t, mgmt.Money(250_000_00), e.balance(t, gpoID).CreditsPosted, "posted once")

	status, m = e.do(t, "GET", "/ach/transfers/"+id, "", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "posted", m["status"])
	// The approval itself is a transfer of the ledger.
	status, m = e.do(t, "GET", "/ach/transfers/"+a["resolvedBy"].(string), "", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "post", m["kind"])
	assert.Equal(t, id, m["pendingId"])
	// Approving a transfer that needs no approval is a conflict.
	status, m = e.do(t, "POST", "/ach/transfers/1000/approve", "", "bob")
	assert.Equal(t, http.StatusConflict, status)
	_, _, msg = errOf(t, m)
	assert.True(t, strings.HasPrefix(msg, "pending_transfer_not_pending:"), msg)
	status, _ = e.do(t, "POST", approve, `{"note": "ok"}`, "bob")
	assert.Equal(t, http.StatusBadRequest, status, "approve takes no body")

	var actions []string
	for _, ev := range e.audit.Events() {
		actions = append(actions, ev.Actor+" "+ev.Action+" "+ev.Outcome)
	}
	assert.Equal(t, []string{"ana ledger.transfer pending_approval", "ana ledger.approve deny", "ana ledger.reject deny",
		"bob ledger.approve ok", "cy ledger.approve refused", "cy ledger.reject refused"}, actions)
}

func mustID(t *testing.T, s string) uint64 {
	t.Helper()
	id, err := strconv.ParseUint(s, 10, 64)
	require.NoError(t, err)
	return id
}

func TestReject(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	id := pending(t, e)
	status, m := e.do(t, "POST", "/ach/transfers/"+id+"/reject", "", "bob")
	require.Equal(t, http.StatusOK, status, "%v", m)
	assert.Equal(t, "voided", m["status"])
	assert.Equal(t, "voided", m["approval"].(map[string]any)["status"])
	tb := e.balance(t, treasuryID)
	assert.Zero(t, tb.DebitsPending, "the reservation is released")
	assert.Zero(t, tb.DebitsPosted)
	status, m = e.do(t, "POST", "/ach/transfers/"+id+"/approve", "", "cy")
	assert.Equal(t, http.StatusConflict, status)
	_, _, msg := errOf(t, m)
	assert.True(t, strings.HasPrefix(msg, "pending_transfer_already_voided:"), msg)
}

// TestExpiry: once the timeout passes on the ledger's clock the transfer
// is rejected automatically.
func TestExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{opts: ledgerhttp.Options{ApprovalTimeout: time.Hour}})
	id := pending(t, e)
	e.clock.Add(59 * time.Minute)
	status, m := e.do(t, "GET", "/ach/transfers/"+id, "", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "pending_approval", m["status"])

	e.clock.Add(time.Minute + time.Millisecond) // the ledger's timestamp is t0 and a few nanoseconds
	status, m = e.do(t, "GET", "/ach/transfers/"+id, "", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "expired", m["status"])
	assert.Equal(t, "expired", m["approval"].(map[string]any)["status"])
	status, m = e.do(t, "POST", "/ach/transfers/"+id+"/approve", "", "bob")
	require.Equal(t, http.StatusConflict, status, "%v", m)
	_, field, msg := errOf(t, m)
	assert.Equal(t, "transfer", field)
	assert.True(t, strings.HasPrefix(msg, "pending_transfer_expired:"), msg)
	assert.Zero(t, e.balance(t, treasuryID).DebitsPending, "released")
	assert.Zero(t, e.balance(t, gpoID).CreditsPosted)
}

// TestPolicyOption: a stricter policy, over the principal.
func TestPolicyOption(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, `cents >= 100 || principal.subject == "intern"`)
	e := newEnv(t, envOptions{opts: ledgerhttp.Options{Approval: p}})
	status, m := e.do(t, "POST", "/ach/transfer", `{"from": "Treasury", "to": "GPO", "amount": 0.99}`, "ana")
	require.Equal(t, http.StatusCreated, status)
	assert.Equal(t, "posted", m["status"], "across agencies, but under $1")
	status, m = e.do(t, "POST", "/ach/transfer", `{"from": "Treasury", "to": "GPO", "amount": 0.99}`, "intern")
	require.Equal(t, http.StatusCreated, status)
	assert.Equal(t, "pending_approval", m["status"])
}
