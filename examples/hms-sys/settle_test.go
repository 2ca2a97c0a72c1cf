package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moov-io/ach"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/internal/apitest"
	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/nacha"
)

// returnOf builds the return file GPO's bank (011000015) sends Treasury's
// (021000021) for the entry of originalTrace, with moov-io/ach.
func returnOf(t *testing.T, code, originalTrace string, amount int) []byte {
	t.Helper()
	fh := ach.NewFileHeader()
	fh.ImmediateDestination, fh.ImmediateOrigin = "021000021", "011000015"
	fh.FileCreationDate, fh.FileCreationTime, fh.FileIDModifier = "261125", "1000", "A"
	fh.ImmediateDestinationName, fh.ImmediateOriginName = "ODFI", "RDFI"
	bh := ach.NewBatchHeader()
	bh.ServiceClassCode = ach.MixedDebitsAndCredits
	bh.CompanyName = "TREASURY"
	bh.CompanyIdentification = defaultCompanyID
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
	a.ReturnCode, a.OriginalTrace, a.OriginalDFI, a.TraceNumber = code, originalTrace, "01100001", ed.TraceNumber
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

// do sends a request with a Content-Type and an actor.
func do(t *testing.T, method, url, contentType, actor string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if actor != "" {
		req.Header.Set("X-HMS-Actor", actor)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, res.Header, b
}

// TestSettlementOverHTTP: the seed transfer, approved, settles in a NACHA
// file that moov-io/ach reads and validates; GPO's bank returns it (R01)
// and the reversal shows in GPO's history and balance.
func TestSettlementOverHTTP(t *testing.T) {
	t.Parallel()
	a, mock := newTestApp(t, "-dev", "-seed-accounts", "-settle-every", "0")
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	base := srv.URL

	status, _, body := apitest.Call(t, "POST", base+"/ach/transfer", `{"from": "Treasury", "to": "GPO", "amount": 250000}`, "")
	require.Equal(t, http.StatusCreated, status, body)
	var created struct{ ID string }
	require.NoError(t, json.Unmarshal([]byte(body), &created))
	status, _, b := do(t, "POST", base+"/ach/transfers/"+created.ID+"/approve", "", "bob", nil)
	require.Equal(t, http.StatusOK, status, "%s", b)

	// Nothing settles before the minute of the approval has passed.
	status, _, b = do(t, "POST", base+"/ach/settlements", "", "", nil)
	require.Equal(t, http.StatusOK, status, "%s", b)
	assert.Contains(t, string(b), `"created":[]`)

	mock.Add(90 * time.Second) // now 09:01:30, the cutoff 09:01: after the approval
	status, _, b = do(t, "POST", base+"/ach/settlements", "", "", nil)
	require.Equal(t, http.StatusCreated, status, "%s", b)
	var res struct {
		Cutoff  time.Time
		Created []string
		Files   []struct{ Name, ODFI, Total, FirstTrace, Download string }
	}
	require.NoError(t, json.Unmarshal(b, &res))
	require.Len(t, res.Created, 1)
	require.Len(t, res.Files, 1)
	f := res.Files[0]
	assert.Equal(t, "021000021", f.ODFI, "Treasury's bank originates")
	assert.Equal(t, "250000.00", f.Total)

	status, _, b = do(t, "GET", base+"/ach/files", "", "", nil)
	require.Equal(t, http.StatusOK, status, "%s", b)
	assert.Contains(t, string(b), `"name":"`+f.Name+`"`)
	assert.NotContains(t, string(b), "9100012345")

	status, hdr, data := do(t, "GET", base+f.Download, "", "", nil)
	require.Equal(t, http.StatusOK, status, "%s", data)
	assert.True(t, strings.HasPrefix(hdr.Get("Content-Type"), "text/plain"))
	file, err := ach.NewReader(bytes.NewReader(data)).Read()
	require.NoError(t, err)
	require.NoError(t, file.Validate())
	entries := file.Batches[0].GetEntries()
	require.Len(t, entries, 2)
	assert.Equal(t, 250_000_00, entries[0].Amount)
	assert.Equal(t, "4410020", strings.TrimSpace(entries[0].DFIAccountNumber), "credits GPO")
	assert.Equal(t, "9100012345", strings.TrimSpace(entries[1].DFIAccountNumber), "the offset debits Treasury")

	// Settling again creates nothing.
	mock.Add(time.Minute)
	status, _, b = do(t, "POST", base+"/ach/settlements", "", "", nil)
	require.Equal(t, http.StatusOK, status, "%s", b)
	assert.Contains(t, string(b), `"created":[]`)

	// GPO's bank returns the entry: R01, insufficient funds.
	ret := returnOf(t, "R01", f.FirstTrace, 250_000_00)
	status, _, b = do(t, "POST", base+"/ach/returns", "text/plain", "", ret)
	require.Equal(t, http.StatusOK, status, "%s", b)
	assert.Contains(t, string(b), `"status":"booked"`)
	status, _, b = do(t, "POST", base+"/ach/returns", "text/plain", "", ret)
	require.Equal(t, http.StatusOK, status, "%s", b)
	assert.Contains(t, string(b), `"status":"exists"`)

	status, _, body = apitest.Call(t, "GET", base+"/ach/accounts/GPO", "", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, `"creditsPosted":250000.00`)
	assert.Contains(t, body, `"debitsPosted":250000.00`, "the reversal debits GPO")
	status, _, body = apitest.Call(t, "GET", base+"/ach/accounts/GPO/transfers", "", "")
	require.Equal(t, http.StatusOK, status, body)
	p, err := a.ledger.AccountTransfers(context.Background(), ledger.AccountFilter{AccountID: seedGPOID})
	require.NoError(t, err)
	var reversal bool
	for _, tr := range p.Transfers {
		if nacha.IsReversal(tr) {
			reversal = true
			assert.Contains(t, body, `"`+formatUint(tr.ID)+`"`, "the history shows the reversal")
		}
	}
	assert.True(t, reversal)
	b2, err := a.ledger.Balance(context.Background(), seedTreasuryID, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, b2.CreditsPosted-b2.DebitsPosted, seedFunding, "Treasury has its money back")
}

// TestSettleTick: the loop's tick settles at the latest whole minute and
// logs the files without account numbers.
func TestSettleTick(t *testing.T) {
	t.Parallel()
	a, mock := newTestApp(t, "-dev", "-seed-accounts")
	var log bytes.Buffer
	a.logger = slog.New(slog.NewJSONHandler(&log, nil))
	assert.Len(t, a.loops(), 3, "refresh, jobs and settlement")
	ctx := context.Background()
	res, err := a.ledger.CreateTransfers(ctx, []ledger.Transfer{{ID: 500, DebitAccountID: seedTreasuryID, CreditAccountID: seedGPOID, Amount: 12_34}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err())

	mock.Add(30 * time.Minute)
	assert.True(t, a.settleTick(ctx, time.Time{}).IsZero())
	files, err := a.settler.Files(ctx)
	require.NoError(t, err)
	require.Len(t, files, 1)
	assert.Equal(t, []uint64{500}, files[0].Transfers)
	assert.Equal(t, time.Date(2026, 11, 20, 9, 29, 0, 0, time.UTC), files[0].Cutoff)
	assert.Contains(t, log.String(), `"msg":"settlement: file created"`)
	assert.Contains(t, log.String(), `"total":"12.34"`)
	assert.NotContains(t, log.String(), "4410020")
	assert.NotContains(t, log.String(), "9100012345")

	// A cutoff refused (another in its minute) is not retried forever.
	mock.Add(time.Hour)
	assert.True(t, a.settleTick(ctx, time.Date(2026, 11, 20, 9, 29, 30, 0, time.UTC)).IsZero())
	assert.Contains(t, log.String(), "settlement: refused")

	_, err = parseFlags([]string{"-dev", "-settle-every", "0"}, io.Discard)
	require.NoError(t, err)
	b, _ := newTestApp(t, "-dev", "-settle-every", "0")
	assert.Len(t, b.loops(), 2, "-settle-every 0 turns the settlement loop off")
}

func formatUint(id uint64) string { return strconv.FormatUint(id, 10) }
