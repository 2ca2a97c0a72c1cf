package ledgerhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/moov-io/ach"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/auth/authtest"
	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/ledgerhttp"
	"github.com/hms-platform/mgmt/ledger/nacha"
)

// The settlement test ledger: Treasury (bank 021000021, funded) pays GPO
// (bank 011000015).
const (
	stlFundingID  uint64 = 1
	stlTreasuryID uint64 = 2
	stlGPOID      uint64 = 3
	stlPaymentID  uint64 = 100
)

type settleEnv struct {
	l     *ledger.Memory
	clock *clock.Mock
	dir   string
	audit *authtest.AuditLog
	h     http.Handler
}

func newSettleEnv(t *testing.T, authorize auth.HTTPAuthorizer) *settleEnv {
	t.Helper()
	ctx := context.Background()
	mock := clock.NewMock()
	mock.Set(t0)
	l, err := ledger.NewMemory(ledger.Options{Clock: mock})
	require.NoError(t, err)
	res, err := l.CreateAccounts(ctx, []ledger.Account{
		{ID: stlFundingID, Name: "Treasury Funding", Agency: "treasury", Currency: mgmt.Currency},
		{ID: stlTreasuryID, Name: "Treasury", Agency: "treasury", Currency: mgmt.Currency,
			Bank: &ledger.Bank{RoutingNumber: "021000021", AccountNumber: "1234567890", AccountType: ledger.Checking}},
		{ID: stlGPOID, Name: "GPO", Agency: "gpo", Currency: mgmt.Currency,
			Bank: &ledger.Bank{RoutingNumber: "011000015", AccountNumber: "4410020", AccountType: ledger.Checking}},
	})
	require.NoError(t, err)
	for _, r := range res {
		require.NoError(t, r.Err())
	}
	tr, err := l.CreateTransfers(ctx, []ledger.Transfer{
		{ID: 1, DebitAccountID: stlFundingID, CreditAccountID: stlTreasuryID, Amount: 10_000_000_00},
		{ID: stlPaymentID, DebitAccountID: stlTreasuryID, CreditAccountID: stlGPOID, Amount: 250_000_00},
	})
	require.NoError(t, err)
	for _, r := range tr {
		require.NoError(t, r.Err())
	}
	mock.Add(90 * time.Second) // 09:01:30: the default cutoff is 09:01

	e := &settleEnv{l: l, clock: mock, dir: t.TempDir(), audit: &authtest.AuditLog{}}
	sink, err := nacha.NewDirSink(e.dir)
	require.NoError(t, err)
	s, err := nacha.New(nacha.Options{Backend: l, Sink: sink, Clock: mock, CompanyIdentification: "1536000000"})
	require.NoError(t, err)
	if authorize == nil {
		authorize = auth.AllowAll("dev")
	}
	e.h, err = ledgerhttp.NewSettlementHandler(s, ledgerhttp.SettlementOptions{Authorize: authorize, Clock: mock,
		Auditor: e.audit, Logger: quiet()})
	require.NoError(t, err)
	return e
}

// call serves one request with a Content-Type for a body.
func (e *settleEnv) call(t *testing.T, method, path, contentType string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// settlementJSON is the answer to POST /ach/settlements.
type settlementJSON struct {
	Cutoff  time.Time
	Created []string
	Files   []fileJSON
	Skipped []struct{ TransferID, Reason, Message string }
}

type fileJSON struct {
	Name, ODFI, EffectiveDate, Total, FirstTrace, LastTrace, Download string
	Cutoff                                                            time.Time
	Batches, Transfers                                                int
}

func decodeJSON[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	require.Equal(t, "application/json", w.Header().Get("Content-Type"), w.Body.String())
	var v T
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v), w.Body.String())
	return v
}

func (e *settleEnv) settle(t *testing.T, body string) (int, settlementJSON) {
	t.Helper()
	w := e.call(t, "POST", "/ach/settlements", "application/json", []byte(body))
	require.Contains(t, []int{http.StatusOK, http.StatusCreated}, w.Code, w.Body.String())
	return w.Code, decodeJSON[settlementJSON](t, w)
}

func TestSettlementFilesRoundTrip(t *testing.T) {
	t.Parallel()
	e := newSettleEnv(t, nil)
	status, res := e.settle(t, "")
	require.Equal(t, http.StatusCreated, status)
	assert.Equal(t, time.Date(2026, 11, 20, 9, 1, 0, 0, time.UTC), res.Cutoff, "the latest whole minute before 09:01:30")
	require.Len(t, res.Created, 1)
	require.Len(t, res.Files, 1)
	assert.Empty(t, res.Skipped)
	f := res.Files[0]
	assert.Equal(t, res.Created[0], f.Name)
	assert.Equal(t, "021000021", f.ODFI)
	assert.Equal(t, "250000.00", f.Total)
	assert.Equal(t, 1, f.Transfers)
	assert.Equal(t, 1, f.Batches)
	assert.Equal(t, "2026-11-23", f.EffectiveDate, "the Monday after Friday's cutoff")
	assert.Equal(t, "021000020000001", f.FirstTrace)
	assert.Equal(t, "021000020000002", f.LastTrace, "the offset")

	w := e.call(t, "GET", "/ach/files", "", nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	list := decodeJSON[struct{ Files []fileJSON }](t, w)
	require.Equal(t, []fileJSON{f}, list.Files)
	assert.Contains(t, w.Body.String(), `"total":"250000.00"`, "money as a string, never a float")
	assert.NotContains(t, w.Body.String(), "1234567890", "no account numbers in the list")

	w = e.call(t, "GET", f.Download, "", nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.True(t, strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain"))
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	onDisk, err := os.ReadFile(filepath.Join(e.dir, f.Name))
	require.NoError(t, err)
	assert.Equal(t, onDisk, w.Body.Bytes(), "the NACHA bytes exactly")
	file, err := ach.NewReader(bytes.NewReader(w.Body.Bytes())).Read()
	require.NoError(t, err)
	require.NoError(t, file.Validate())
	require.Len(t, file.Batches, 1)
	entries := file.Batches[0].GetEntries()
	require.Len(t, entries, 2)
	assert.Equal(t, 250_000_00, entries[0].Amount)
	assert.Equal(t, "4410020", strings.TrimSpace(entries[0].DFIAccountNumber))

	// Settling again creates nothing: the same minute reports the same
	// file, a later one has nothing to settle.
	status, again := e.settle(t, `{"cutoff": "2026-11-20T09:01:00Z"}`)
	assert.Equal(t, http.StatusOK, status)
	assert.Empty(t, again.Created)
	assert.Equal(t, res.Files, again.Files)
	e.clock.Add(time.Minute)
	status, again = e.settle(t, "")
	assert.Equal(t, http.StatusOK, status)
	assert.Empty(t, again.Created)
	assert.Empty(t, again.Files)
	names, err := filepath.Glob(filepath.Join(e.dir, "*.ach"))
	require.NoError(t, err)
	assert.Len(t, names, 1)

	var settles int
	for _, ev := range e.audit.Events() {
		if ev.Action == "ledger.settle" {
			settles++
			assert.Equal(t, "dev", ev.Actor)
			assert.Empty(t, ev.Tenant)
		}
	}
	assert.Equal(t, 3, settles)
}

func TestSettlementBadInput(t *testing.T) {
	t.Parallel()
	e := newSettleEnv(t, nil)
	for _, c := range []struct {
		name, body, field string
		status            int
	}{
		{"not a time", `{"cutoff": "yesterday"}`, "cutoff", 400},
		{"a number", `{"cutoff": 17}`, "cutoff", 400},
		{"not before now", `{"cutoff": "2026-11-20T09:02:00Z"}`, "cutoff", 400},
		{"unknown field", `{"cutof": "2026-11-20T09:00:00Z"}`, "cutof", 400},
		{"trailing data", `{"cutoff": "2026-11-20T09:00:00Z"} {}`, "body", 400},
		{"not JSON", `cutoff=now`, "body", 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := e.call(t, "POST", "/ach/settlements", "application/json", []byte(c.body))
			require.Equal(t, c.status, w.Code, w.Body.String())
			var m struct{ Error struct{ Field string } }
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m))
			assert.Equal(t, c.field, m.Error.Field, w.Body.String())
		})
	}
	w := e.call(t, "POST", "/ach/settlements", "text/plain", []byte(`{}`))
	assert.Equal(t, http.StatusUnsupportedMediaType, w.Code)
	w = e.call(t, "POST", "/ach/settlements?cutoff=x", "", nil)
	assert.Equal(t, http.StatusBadRequest, w.Code)
	names, err := filepath.Glob(filepath.Join(e.dir, "*.ach"))
	require.NoError(t, err)
	assert.Empty(t, names, "a refused request settles nothing")

	// Cutoffs a minute apart: another second of 09:01 after 09:01:00.
	_, res := e.settle(t, `{"cutoff": "2026-11-20T09:01:00Z"}`)
	require.Len(t, res.Created, 1)
	w = e.call(t, "POST", "/ach/settlements", "application/json", []byte(`{"cutoff": "2026-11-20T09:01:20Z"}`))
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, w.Body.String(), `"field":"cutoff"`)
}

func TestSettlementFileNames(t *testing.T) {
	t.Parallel()
	e := newSettleEnv(t, nil)
	_, res := e.settle(t, "")
	require.Len(t, res.Files, 1)
	// A file beside the settlement directory that traversal would reach.
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(e.dir), "secret.ach"), []byte("x"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(e.dir, ".hidden.ach"), []byte("x"), 0o600))
	for _, p := range []string{
		"/ach/files/..%2Fsecret.ach",
		"/ach/files/..%2F..%2Fetc%2Fpasswd",
		"/ach/files/%2Fetc%2Fpasswd",
		"/ach/files/.hidden.ach",
		"/ach/files/..ach",
		"/ach/files/20261120T0901Z-021000021-99.ach",
		"/ach/files/" + strings.TrimSuffix(res.Files[0].Name, ".ach"),
		"/ach/files/" + res.Files[0].Name + "%00",
		"/ach/files/a%5Cb.ach",
		"/ach/files/" + strings.Repeat("a", 200) + ".ach",
	} {
		w := e.call(t, "GET", p, "", nil)
		assert.Equal(t, http.StatusNotFound, w.Code, "%s: %s", p, w.Body.String())
		assert.Equal(t, "application/json", w.Header().Get("Content-Type"), p)
		assert.NotContains(t, w.Body.String(), e.dir, "no paths in answers")
	}
	w := e.call(t, "GET", "/ach/files/../secret.ach", "", nil)
	assert.NotEqual(t, http.StatusOK, w.Code, "the mux cleans the path: %s", w.Body.String())
}

// returnFile builds a NACHA return file with moov-io/ach, as GPO's bank
// (the RDFI) sends it back to Treasury's bank, for the entries of the
// given original trace numbers, codes and amounts.
func returnFile(t *testing.T, code, originalTrace string, amount int) []byte {
	t.Helper()
	fh := ach.NewFileHeader()
	fh.ImmediateDestination = "021000021"
	fh.ImmediateOrigin = "011000015"
	fh.FileCreationDate = "261125"
	fh.FileCreationTime = "1000"
	fh.FileIDModifier = "A"
	fh.ImmediateDestinationName = "ODFI"
	fh.ImmediateOriginName = "RDFI"
	bh := ach.NewBatchHeader()
	bh.ServiceClassCode = ach.MixedDebitsAndCredits
	bh.CompanyName = "TREASURY"
	bh.CompanyIdentification = "1536000000"
	bh.StandardEntryClassCode = ach.CCD
	bh.CompanyEntryDescription = "SETTLEMENT"
	bh.EffectiveEntryDate = "261125"
	bh.OriginatorStatusCode = 1
	bh.ODFIIdentification = "01100001"
	batch := ach.NewBatchCCD(bh)
	ed := ach.NewEntryDetail()
	ed.TransactionCode = ach.CheckingReturnNOCCredit
	ed.SetRDFI("021000021")
	ed.DFIAccountNumber = "4410020"
	ed.Amount = amount
	ed.IndividualName = "GPO"
	ed.SetTraceNumber(bh.ODFIIdentification, 1)
	ed.Category = ach.CategoryReturn
	ed.AddendaRecordIndicator = 1
	a := ach.NewAddenda99()
	a.ReturnCode = code
	a.OriginalTrace = originalTrace
	a.OriginalDFI = "01100001"
	a.TraceNumber = ed.TraceNumber
	ed.Addenda99 = a
	batch.AddEntry(ed)
	require.NoError(t, batch.Create())
	file := ach.NewFile()
	file.SetHeader(fh)
	file.AddBatch(batch)
	require.NoError(t, file.Create())
	require.NoError(t, file.Validate())
	var buf bytes.Buffer
	require.NoError(t, ach.NewWriter(&buf).Write(file))
	return buf.Bytes()
}

type returnsJSON struct {
	Results []struct {
		Line                                                   int
		TraceNumber, OriginalTrace, ReturnCode, Amount, Status string
		TransferID, ReversalID, LedgerCode, Message            string
	}
	Summary map[string]int
}

func TestSettlementReturns(t *testing.T) {
	t.Parallel()
	e := newSettleEnv(t, nil)
	_, res := e.settle(t, "")
	require.Len(t, res.Files, 1)
	ctx := context.Background()
	history := func() int {
		p, err := e.l.AccountTransfers(ctx, ledger.AccountFilter{AccountID: stlGPOID, Limit: ledger.MaxPageSize})
		require.NoError(t, err)
		return len(p.Transfers)
	}
	require.Equal(t, 1, history())

	// Malformed files book nothing.
	data := returnFile(t, "R01", res.Files[0].FirstTrace, 250_000_00)
	for _, bad := range [][]byte{
		[]byte("not a nacha file"),
		data[:len(data)/2],
		bytes.Replace(data, []byte("R01"), []byte("R00"), 1),
		nil,
	} {
		w := e.call(t, "POST", "/ach/returns", "text/plain", bad)
		assert.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
		assert.Contains(t, w.Body.String(), `"field":"returnFile`)
		assert.NotContains(t, w.Body.String(), "4410020")
	}
	w := e.call(t, "POST", "/ach/returns", "application/json", data)
	assert.Equal(t, http.StatusUnsupportedMediaType, w.Code, w.Body.String())
	assert.Equal(t, 1, history(), "nothing booked")

	w = e.call(t, "POST", "/ach/returns", "text/plain; charset=us-ascii", data)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	rep := decodeJSON[returnsJSON](t, w)
	require.Len(t, rep.Results, 1)
	r := rep.Results[0]
	assert.Equal(t, "booked", r.Status, r.Message)
	assert.Equal(t, "R01", r.ReturnCode)
	assert.Equal(t, "250000.00", r.Amount)
	assert.Equal(t, "100", r.TransferID)
	assert.Equal(t, strconv.FormatUint(nacha.ReversalID(stlPaymentID), 10), r.ReversalID)
	assert.Equal(t, 1, rep.Summary["booked"])
	assert.Equal(t, 2, history())
	b, err := e.l.Balance(ctx, stlGPOID, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, b.CreditsPosted, b.DebitsPosted, "GPO gave the money back")

	// The same file again: exists.
	w = e.call(t, "POST", "/ach/returns", "application/octet-stream", data)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	rep = decodeJSON[returnsJSON](t, w)
	assert.Equal(t, "exists", rep.Results[0].Status)
	assert.Equal(t, 1, rep.Summary["exists"])
	assert.Equal(t, 2, history())

	var outcomes []string
	for _, ev := range e.audit.Events() {
		if ev.Action == "ledger.returns" {
			outcomes = append(outcomes, ev.Outcome)
			for _, v := range ev.Details {
				assert.NotContains(t, v, "4410020")
			}
		}
	}
	assert.Equal(t, []string{"refused", "refused", "refused", "refused", "ok", "ok"}, outcomes)
}

func TestSettlementReturnTooLarge(t *testing.T) {
	t.Parallel()
	e := newSettleEnv(t, nil)
	w := e.call(t, "POST", "/ach/returns", "text/plain", bytes.Repeat([]byte("1"), int(ledgerhttp.DefaultMaxReturnBody)+1))
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code, w.Body.String())
}

func TestNewSettlementHandlerOptions(t *testing.T) {
	t.Parallel()
	_, err := ledgerhttp.NewSettlementHandler(nil, ledgerhttp.SettlementOptions{Authorize: auth.AllowAll("dev")})
	assert.Equal(t, "settler", mgmt.FieldOf(err))
	l, err := ledger.NewMemory(ledger.Options{})
	require.NoError(t, err)
	sink, err := nacha.NewDirSink(t.TempDir())
	require.NoError(t, err)
	s, err := nacha.New(nacha.Options{Backend: l, Sink: sink, CompanyIdentification: "1"})
	require.NoError(t, err)
	_, err = ledgerhttp.NewSettlementHandler(s, ledgerhttp.SettlementOptions{})
	assert.Equal(t, "SettlementOptions.Authorize", mgmt.FieldOf(err))
	_, err = ledgerhttp.NewSettlementHandler(s, ledgerhttp.SettlementOptions{Authorize: auth.AllowAll("dev"), MaxReturnBody: -1})
	assert.Equal(t, "SettlementOptions.MaxReturnBody", mgmt.FieldOf(err))
}

func TestDefaultCutoff(t *testing.T) {
	t.Parallel()
	assert.Equal(t, time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), ledgerhttp.DefaultCutoff(time.Date(2026, 11, 20, 9, 0, 59, 999, time.UTC)))
	assert.Equal(t, time.Date(2026, 11, 20, 8, 59, 0, 0, time.UTC), ledgerhttp.DefaultCutoff(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)),
		"strictly before now")
}

// TestSettlementAuth: settlement is tenant-less and for settlement_officer
// only; treasury operators and viewers of any agency are refused (403:
// the files hold every agency's bank accounts).
func TestSettlementAuth(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t, authtest.Options{})
	g := iss.Guard(t, nil)
	e := newSettleEnv(t, g.Authorize)
	h := g.Protect(e.h)
	officer := iss.Mint(authtest.Claims{Subject: "sol", Tenant: "treasury", Roles: []string{"settlement_officer"}})
	w := authtest.Serve(h, "POST", "/ach/settlements", "", officer)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	res := decodeJSON[settlementJSON](t, w)
	require.Len(t, res.Files, 1)
	name := res.Files[0].Name
	data := returnFile(t, "R01", "021000029999999", 1_00) // an unknown trace: reported, not booked

	authtest.CheckEndpoints(t, h, iss, []authtest.Endpoint{
		{Method: "GET", Path: "/ach/files", Tenant: "treasury", Permission: ledgerhttp.PermSettle, Tenantless: true},
		{Method: "GET", Path: "/ach/files/" + name, Tenant: "treasury", Permission: ledgerhttp.PermSettle, Tenantless: true},
		{Method: "POST", Path: "/ach/settlements", Body: `{}`, Tenant: "treasury", Permission: ledgerhttp.PermSettle, Tenantless: true},
		// CheckEndpoints sends JSON: 415 once authorized.
		{Method: "POST", Path: "/ach/returns", Body: string(data), Tenant: "treasury", Permission: ledgerhttp.PermSettle, Tenantless: true},
	}, authtest.EndpointOptions{Routes: ledgerhttp.SettlementRoutes()})

	gil := iss.Mint(authtest.Claims{Subject: "gil", Tenant: "gpo", Roles: []string{"treasury_operator"}})
	ana := iss.Mint(authtest.Claims{Subject: "ana", Tenant: "treasury", Roles: []string{"treasury_operator", "viewer"}})
	for _, tok := range []string{gil, ana} {
		for _, p := range []string{"/ach/files", "/ach/files/" + name} {
			w := authtest.Serve(h, "GET", p, "", tok)
			assert.Equal(t, http.StatusForbidden, w.Code, "%s: %s", p, w.Body.String())
			assert.NotContains(t, w.Body.String(), "4410020")
		}
		w := authtest.Serve(h, "POST", "/ach/settlements", "", tok)
		assert.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
	}
	w = authtest.Serve(h, "GET", "/ach/files/"+name, "", officer)
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())

	var denied, settled bool
	for _, ev := range g.Audit.Events() {
		if ev.Action == "authz.decide" && ev.Outcome == "deny" && ev.Actor == "gil" {
			denied = true
		}
	}
	for _, ev := range e.audit.Events() {
		if ev.Action == "ledger.settle" && ev.Actor == "sol" {
			settled = true
		}
	}
	assert.True(t, denied, "refusals are audited")
	assert.True(t, settled, "settlement runs are audited with the actor")
}
