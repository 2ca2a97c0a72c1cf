package nacha_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/moov-io/ach"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/nacha"
)

// Treasury pays GPO; at the 17:00 cutoff the payment settles in a NACHA
// file for Treasury's bank, and GPO's bank returns it (R03).
func Example() {
	ctx := context.Background()
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))
	l, _ := ledger.NewMemory(ledger.Options{Clock: clk})
	l.CreateAccounts(ctx, []ledger.Account{
		{ID: 1, Name: "Treasury", Agency: "treasury", Currency: mgmt.Currency,
			Bank: &ledger.Bank{RoutingNumber: "021000021", AccountNumber: "1234567890", AccountType: ledger.Checking}},
		{ID: 2, Name: "GPO", Agency: "gpo", Currency: mgmt.Currency,
			Bank: &ledger.Bank{RoutingNumber: "011000015", AccountNumber: "4410020", AccountType: ledger.Checking}},
	})
	l.CreateTransfers(ctx, []ledger.Transfer{{ID: 100, DebitAccountID: 1, CreditAccountID: 2, Amount: 250_000_00}})

	dir, _ := os.MkdirTemp("", "settlement")
	defer os.RemoveAll(dir)
	sink, _ := nacha.NewDirSink(dir)
	s, err := nacha.New(nacha.Options{Backend: l, Sink: sink, Clock: clk, CompanyIdentification: "1536000000"})
	if err != nil {
		panic(err)
	}

	cutoff := time.Date(2026, 11, 20, 17, 0, 0, 0, time.UTC)
	clk.Set(cutoff.Add(time.Minute))
	res, err := s.Settle(ctx, cutoff)
	if err != nil {
		panic(err)
	}
	for _, f := range res.Files {
		fmt.Println(f.Name, f.Transfers, "$"+f.Total.String(), f.FirstTrace, "to", f.LastTrace)
	}

	// The host sends the file to the ODFI.
	data, _ := s.File(ctx, res.Files[0].Name)
	file, _ := ach.NewReader(bytes.NewReader(data)).Read()
	for _, e := range file.Batches[0].GetEntries() {
		fmt.Println(e.TransactionCode, e.Amount, e.TraceNumber, strings.TrimSpace(e.IndividualName))
	}

	// Days later GPO's bank returns the entry: R03, no account.
	ret := returnOf("R03", res.Files[0].FirstTrace, 250_000_00)
	report, _ := s.ProcessReturns(ctx, bytes.NewReader(ret))
	r := report.Results[0]
	fmt.Println(r.ReturnCode, r.Status, r.TransferID, r.LedgerCode)
	report, _ = s.ProcessReturns(ctx, bytes.NewReader(ret))
	fmt.Println("again:", report.Results[0].Status)
	// Output:
	// 20261120T170000.000000000Z-021000021-01.ach [100] $250000.00 021000020000001 to 021000020000002
	// 22 25000000 021000020000001 GPO
	// 27 25000000 021000020000002 OFFSET
	// R03 booked 100 ok
	// again: exists
}

// returnOf builds the return file GPO's bank (011000015) would send back
// to Treasury's (021000021): one return entry whose Addenda99 carries the
// reason code and the original entry's trace number.
func returnOf(code, originalTrace string, amount int) []byte {
	fh := ach.NewFileHeader()
	fh.ImmediateDestination, fh.ImmediateOrigin = "021000021", "011000015"
	fh.FileCreationDate, fh.FileCreationTime, fh.FileIDModifier = "261124", "0800", "A"
	bh := ach.NewBatchHeader()
	bh.ServiceClassCode, bh.StandardEntryClassCode = ach.MixedDebitsAndCredits, ach.CCD
	bh.CompanyName, bh.CompanyIdentification, bh.CompanyEntryDescription = "TREASURY", "1536000000", "SETTLEMENT"
	bh.EffectiveEntryDate, bh.OriginatorStatusCode, bh.ODFIIdentification = "261124", 1, "01100001"
	e := ach.NewEntryDetail()
	e.TransactionCode = ach.CheckingReturnNOCCredit
	e.SetRDFI("021000021")
	e.DFIAccountNumber, e.Amount, e.IndividualName = "4410020", amount, "GPO"
	e.SetTraceNumber(bh.ODFIIdentification, 1)
	e.Category, e.AddendaRecordIndicator = ach.CategoryReturn, 1
	e.Addenda99 = ach.NewAddenda99()
	e.Addenda99.ReturnCode, e.Addenda99.OriginalTrace, e.Addenda99.OriginalDFI = code, originalTrace, "01100001"
	e.Addenda99.TraceNumber = e.TraceNumber
	batch := ach.NewBatchCCD(bh)
	batch.AddEntry(e)
	file := ach.NewFile()
	file.SetHeader(fh)
	file.AddBatch(batch)
	var buf bytes.Buffer
	if err := batch.Create(); err != nil {
		panic(err)
	}
	if err := file.Create(); err != nil {
		panic(err)
	}
	if err := ach.NewWriter(&buf).Write(file); err != nil {
		panic(err)
	}
	return buf.Bytes()
}
