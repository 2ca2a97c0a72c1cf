package ledgerhttp_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/approval"
	"github.com/hms-platform/mgmt/ledger/ledgerhttp"
)

func TestNewHandlerRefuses(t *testing.T) {
	t.Parallel()
	l, err := ledger.NewMemory(ledger.Options{})
	require.NoError(t, err)
	_, err = ledgerhttp.NewHandler(nil, ledgerhttp.Options{Authorize: auth.AllowAll("dev")})
	assert.ErrorContains(t, err, "ledger: is required")
	_, err = ledgerhttp.NewHandler(l, ledgerhttp.Options{})
	assert.ErrorContains(t, err, "Options.Authorize: is required")
	_, err = ledgerhttp.NewHandler(l, ledgerhttp.Options{Authorize: auth.AllowAll("dev"), ApprovalTimeout: -time.Hour})
	assert.ErrorContains(t, err, "Options.ApprovalTimeout")
}

// TestSeedTransfer: the seed's body as written. Treasury to GPO is
// between agencies and over $100,000: by the default policy it waits for
// a second person, its amount reserved.
func TestSeedTransfer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	w := e.raw(t, "POST", "/ach/transfer", seedBody, "ana")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(w.Body.String()))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&m))
	id := m["id"].(string)
	assert.Equal(t, "/ach/transfers/"+id, w.Header().Get("Location"))
	assert.Equal(t, "pending_approval", m["status"])
	assert.Equal(t, json.Number("250000.00"), m["amount"])
	assert.Equal(t, "Treasury", m["from"])
	assert.Equal(t, "GPO", m["to"])
	assert.Equal(t, "2", m["fromAccountId"])
	a := m["approval"].(map[string]any)
	assert.Equal(t, "pending", a["status"])
	assert.Contains(t, a["reason"], approval.DefaultExpr)
	assert.Contains(t, a["approvers"], "tenant treasury")
	exp, err := time.Parse(time.RFC3339Nano, a["expiresAt"].(string))
	require.NoError(t, err)
	assert.WithinDuration(t, t0.Add(ledgerhttp.DefaultApprovalTimeout), exp, time.Millisecond, "72 h after the transfer's timestamp")
	assert.Equal(t, "/ach/transfers/"+id+"/approve", a["approve"])

	b := e.balance(t, treasuryID)
	assert.Equal(t, mgmt.Money(250_000_00), b.DebitsPending, "reserved")
	assert.Zero(t, b.DebitsPosted)

	ev := e.audit.Events()
	require.Len(t, ev, 1)
	assert.Equal(t, "ledger.transfer", ev[0].Action)
	assert.Equal(t, "ana", ev[0].Actor)
	assert.Equal(t, "treasury", ev[0].Tenant)
	assert.Equal(t, "pending_approval", ev[0].Outcome)
}

// TestTransferWithinPolicyPosts: a small transfer inside one agency needs
// nobody else.
func TestTransferWithinPolicyPosts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	status, m := e.do(t, "POST", "/ach/transfer", `{"from": "Treasury", "to": "Treasury Ops", "amount": 99999.99, "code": 7}`, "")
	require.Equal(t, http.StatusCreated, status, "%v", m)
	assert.Equal(t, "posted", m["status"])
	assert.Nil(t, m["approval"])
	assert.Equal(t, json.Number("7"), m["code"])
	assert.Equal(t, mgmt.Money(99_999_99), e.balance(t, opsID).CreditsPosted)

	status, m = e.do(t, "GET", "/ach/transfers/"+m["id"].(string), "", "")
	require.Equal(t, http.StatusOK, status, "%v", m)
	assert.Equal(t, "posted", m["status"])
	assert.Equal(t, "transfer", m["kind"])
	assert.Equal(t, "Treasury Ops", m["to"].(map[string]any)["name"])
}

// TestOverdraftRefused: Treasury may not be overdrawn; the ledger's code
// is the answer and nothing is stored.
func TestOverdraftRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	before := e.balance(t, treasuryID)
	status, m := e.do(t, "POST", "/ach/transfer", `{"from": "Treasury", "to": "Treasury Ops", "amount": 10000000.01}`, "")
	require.Equal(t, http.StatusConflict, status, "%v", m)
	kind, field, msg := errOf(t, m)
	assert.Equal(t, "conflict", kind)
	assert.Equal(t, "amount", field)
	assert.True(t, strings.HasPrefix(msg, "exceeds_credits: "), msg)
	assert.Equal(t, before, e.balance(t, treasuryID))
	assert.Equal(t, 1, e.transferCount(t, treasuryID), "only the funding")
}
