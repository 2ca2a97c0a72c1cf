package ledgerhttp_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/auth/authtest"
	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/ledgerhttp"
)

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// The test ledger's accounts: Treasury (funded with $10,000,000.00 from
// Funding, may not be overdrawn) and Treasury Ops of agency treasury, GPO
// of agency gpo.
const (
	fundingID  uint64 = 1
	treasuryID uint64 = 2
	gpoID      uint64 = 3
	opsID      uint64 = 4
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type env struct {
	l     *ledger.Memory
	clock *clock.Mock
	audit *authtest.AuditLog
	h     http.Handler
}

type envOptions struct {
	authorize auth.HTTPAuthorizer // nil: AllowAll("dev")
	opts      ledgerhttp.Options  // Authorize, Clock, Auditor and Logger are set by newEnv
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	mock := clock.NewMock()
	mock.Set(t0)
	l, err := ledger.NewMemory(ledger.Options{Clock: mock})
	require.NoError(t, err)
	res, err := l.CreateAccounts(ctx, []ledger.Account{
		{ID: fundingID, Name: "Treasury Funding", Agency: "treasury", Currency: mgmt.Currency},
		{ID: treasuryID, Name: "Treasury", Agency: "treasury", Currency: mgmt.Currency, Flags: ledger.DebitsMustNotExceedCredits},
		{ID: gpoID, Name: "GPO", Agency: "gpo", Currency: mgmt.Currency,
			Bank: &ledger.Bank{RoutingNumber: "011000015", AccountNumber: "4410020", AccountType: ledger.Checking}},
		{ID: opsID, Name: "Treasury Ops", Agency: "treasury", Currency: mgmt.Currency},
	})
	require.NoError(t, err)
	for _, r := range res {
		require.NoError(t, r.Err())
	}
	tr, err := l.CreateTransfers(ctx, []ledger.Transfer{{ID: 1000, DebitAccountID: fundingID, CreditAccountID: treasuryID, Amount: 10_000_000_00}})
	require.NoError(t, err)
	require.NoError(t, tr[0].Err())

	e := &env{l: l, clock: mock, audit: &authtest.AuditLog{}}
	opts := o.opts
	opts.Authorize = o.authorize
	if opts.Authorize == nil {
		opts.Authorize = auth.AllowAll("dev")
	}
	opts.Clock, opts.Auditor, opts.Logger = mock, e.audit, quiet()
	e.h, err = ledgerhttp.NewHandler(l, opts)
	require.NoError(t, err)
	return e
}

// do serves one request as actor ("" for AllowAll's default) with extra
// headers (name, value pairs), and decodes the JSON answer with numbers
// as json.Number.
func (e *env) do(t testing.TB, method, path, body, actor string, headers ...string) (int, map[string]any) {
	t.Helper()
	w := e.raw(t, method, path, body, actor, headers...)
	var m map[string]any
	require.Equal(t, "application/json", w.Header().Get("Content-Type"), w.Body.String())
	dec := json.NewDecoder(strings.NewReader(w.Body.String()))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&m), w.Body.String())
	return w.Code, m
}

func (e *env) raw(t testing.TB, method, path, body, actor string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if actor != "" {
		r.Header.Set("X-HMS-Actor", actor)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// errOf returns the kind, field and message of an error answer.
func errOf(t testing.TB, m map[string]any) (kind, field, msg string) {
	t.Helper()
	d, ok := m["error"].(map[string]any)
	require.True(t, ok, "not an error: %v", m)
	kind, _ = d["kind"].(string)
	field, _ = d["field"].(string)
	msg, _ = d["message"].(string)
	return kind, field, msg
}

// balance returns the balance of account id now.
func (e *env) balance(t testing.TB, id uint64) ledger.Balance {
	t.Helper()
	b, err := e.l.Balance(context.Background(), id, time.Time{})
	require.NoError(t, err)
	return b
}

// transferCount is the number of transfers in the account's history.
func (e *env) transferCount(t testing.TB, id uint64) int {
	t.Helper()
	p, err := e.l.AccountTransfers(context.Background(), ledger.AccountFilter{AccountID: id, Limit: ledger.MaxPageSize})
	require.NoError(t, err)
	return len(p.Transfers)
}

const seedBody = `{"from": "Treasury", "to": "GPO", "amount": 250000}`
