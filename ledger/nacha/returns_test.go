package nacha_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/moov-io/ach"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/nacha"
)

// returned is one entry of a test return file.
type returned struct {
	code          string // "R01"
	originalTrace string
	amount        int
	rdfi          string // the returning bank (the original RDFI)
}

// returnFile builds a NACHA return file with moov-io/ach, as an RDFI would
// send it back to the ODFI 021000021.
func returnFile(t testing.TB, entries ...returned) []byte {
	t.Helper()
	fh := ach.NewFileHeader()
	fh.ImmediateDestination = "021000021"
	fh.ImmediateOrigin = entries[0].rdfi
	fh.FileCreationDate = "261125"
	fh.FileCreationTime = "1000"
	fh.FileIDModifier = "A"
	fh.ImmediateDestinationName = "ODFI"
	fh.ImmediateOriginName = "RDFI"
	bh := ach.NewBatchHeader()
	bh.ServiceClassCode = ach.MixedDebitsAndCredits
	bh.CompanyName = "TREASURY"
	bh.CompanyIdentification = "1234567890"
	bh.StandardEntryClassCode = ach.CCD
	bh.CompanyEntryDescription = "SETTLEMENT"
	bh.EffectiveEntryDate = "261125"
	bh.OriginatorStatusCode = 1
	bh.ODFIIdentification = entries[0].rdfi[:8]
	batch := ach.NewBatchCCD(bh)
	for i, e := range entries {
		ed := ach.NewEntryDetail()
		ed.TransactionCode = ach.CheckingReturnNOCCredit
		ed.SetRDFI("021000021")
		ed.DFIAccountNumber = "5550001"
		ed.Amount = e.amount
		ed.IndividualName = "RECEIVER"
		ed.SetTraceNumber(bh.ODFIIdentification, i+1)
		ed.Category = ach.CategoryReturn
		ed.AddendaRecordIndicator = 1
		a := ach.NewAddenda99()
		a.ReturnCode = e.code
		a.OriginalTrace = e.originalTrace
		a.OriginalDFI = e.rdfi[:8]
		a.TraceNumber = ed.TraceNumber
		ed.Addenda99 = a
		batch.AddEntry(ed)
	}
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

func TestProcessReturns(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.transfer(t,
		ledger.Transfer{ID: 10, DebitAccountID: appropriations, CreditAccountID: treasury, Amount: 1_000_000_00},
		ledger.Transfer{ID: 11, DebitAccountID: treasury, CreditAccountID: nps, Amount: 250_00},
		ledger.Transfer{ID: 12, DebitAccountID: treasury, CreditAccountID: gpo, Amount: 1_00},
	)
	res := f.settle(t)
	require.Len(t, res.Files, 1)
	require.Equal(t, "021000020000001", res.Files[0].FirstTrace)

	data := returnFile(t,
		returned{code: "R03", originalTrace: "021000020000001", amount: 250_00, rdfi: "122105278"}, // transfer 11
		returned{code: "R01", originalTrace: "021000029999999", amount: 5_00, rdfi: "122105278"},   // unknown
		returned{code: "R02", originalTrace: "021000020000003", amount: 251_00, rdfi: "122105278"}, // the offset
		returned{code: "R01", originalTrace: "021000020000002", amount: 2_00, rdfi: "122105278"},   // wrong amount
	)
	report, err := f.s.ProcessReturns(f.ctx, bytes.NewReader(data))
	require.NoError(t, err)
	require.Len(t, report.Results, 4)
	r := report.Results[0]
	assert.Equal(t, nacha.ReturnBooked, r.Status, r.Message)
	assert.Equal(t, uint64(11), r.TransferID)
	assert.Equal(t, nacha.ReversalID(11), r.ReversalID)
	assert.Equal(t, ledger.TransferOK, r.LedgerCode)
	assert.Equal(t, "R03", r.ReturnCode)
	assert.Equal(t, mgmt.Money(250_00), r.Amount)
	assert.Equal(t, nacha.ReturnUnknownTrace, report.Results[1].Status)
	assert.Zero(t, report.Results[1].ReversalID)
	assert.Equal(t, nacha.ReturnOffsetEntry, report.Results[2].Status)
	assert.Equal(t, nacha.ReturnAmountMismatch, report.Results[3].Status)
	assert.Equal(t, uint64(12), report.Results[3].TransferID)
	assert.Equal(t, 1, report.Count(nacha.ReturnBooked))

	rev, err := f.l.LookupTransfers(f.ctx, []uint64{nacha.ReversalID(11)})
	require.NoError(t, err)
	require.Len(t, rev, 1)
	assert.Equal(t, nps, rev[0].DebitAccountID)
	assert.Equal(t, treasury, rev[0].CreditAccountID)
	assert.Equal(t, mgmt.Money(250_00), rev[0].Amount)
	assert.Equal(t, uint64(11), rev[0].UserData)
	assert.Equal(t, uint16(9003), rev[0].Code)
	assert.True(t, nacha.IsReversal(rev[0]))
	b, err := f.l.Balance(f.ctx, nps, rev[0].Timestamp)
	require.NoError(t, err)
	assert.Equal(t, b.CreditsPosted, b.DebitsPosted, "NPS got its money and gave it back")

	// The same file again: exists, nothing new.
	f.clk.Add(time.Minute)
	report, err = f.s.ProcessReturns(f.ctx, bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, nacha.ReturnExists, report.Results[0].Status)
	assert.Equal(t, ledger.TransferExists, report.Results[0].LedgerCode)
	assert.Equal(t, 0, report.Count(nacha.ReturnBooked))

	// The reversal moves money between two bank accounts but never settles.
	res = f.settle(t)
	assert.Empty(t, res.Files)

	// A restarted settler finds the entry through the recorded files.
	report, err = f.settler(t, f.sink).ProcessReturns(f.ctx, bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, nacha.ReturnExists, report.Results[0].Status)
}

func TestProcessReturnsMalformedBooksNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.transfer(t, ledger.Transfer{ID: 11, DebitAccountID: treasury, CreditAccountID: nps, Amount: 250_00})
	settled := f.settle(t)
	forward, err := f.s.File(f.ctx, settled.Files[0].Name)
	require.NoError(t, err)
	good := returnFile(t, returned{code: "R03", originalTrace: "021000020000001", amount: 250_00, rdfi: "122105278"})
	lines := strings.Split(string(good), "\n")

	cases := map[string]struct {
		data  []byte
		field string
	}{
		"empty":           {nil, "returnFile"},
		"garbage":         {[]byte("not a nacha file\n"), "returnFile"},
		"truncated":       {[]byte(strings.Join(lines[:3], "\n")), "returnFile"},
		"bad return code": {[]byte(strings.Replace(string(good), "799R03", "799R00", 1)), "returnFile"},
		"forward entry": {func() []byte {
			s := strings.Split(string(good), "\n")
			out := []string{}
			for _, l := range s {
				if !strings.HasPrefix(l, "799") {
					out = append(out, l)
				}
			}
			return []byte(strings.Join(out, "\n"))
		}(), "returnFile"},
		"a settlement file": {forward, "returnFile.line[3]"},
		"too large":         {bytes.Repeat([]byte("9"), nacha.MaxFileSize+1), "returnFile"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := f.s.ProcessReturns(f.ctx, bytes.NewReader(tc.data))
			require.Error(t, err)
			assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(err), err.Error())
			assert.True(t, strings.HasPrefix(mgmt.FieldOf(err), tc.field), mgmt.FieldOf(err))
			assert.NotContains(t, err.Error(), "5550001", "no account numbers in errors")
		})
	}
	t.Run("too large", func(t *testing.T) {
		s, err := nacha.New(nacha.Options{Backend: f.l, Sink: f.sink, Clock: f.clk, CompanyIdentification: "1234567890",
			MaxReturnFileSize: len(good) - 1})
		require.NoError(t, err)
		_, err = s.ProcessReturns(f.ctx, bytes.NewReader(good))
		assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(err))
		assert.ErrorContains(t, err, "larger than")
	})
	rev, err := f.l.LookupTransfers(f.ctx, []uint64{nacha.ReversalID(11)})
	require.NoError(t, err)
	assert.Empty(t, rev, "nothing booked")
}

func TestReturnCodes(t *testing.T) {
	t.Parallel()
	for rc, want := range map[string]uint16{"R01": 9001, "R02": 9002, "R03": 9003, "R85": 9085} {
		got, err := nacha.LedgerCode(rc)
		require.NoError(t, err)
		assert.Equal(t, want, got)
		back, ok := nacha.ReturnCode(got)
		assert.True(t, ok)
		assert.Equal(t, rc, back)
	}
	for _, bad := range []string{"", "R", "R00", "R1", "R001", "X01", "r01", "R99"} {
		_, err := nacha.LedgerCode(bad)
		assert.Error(t, err, bad)
	}
	for _, code := range []uint16{0, 9000, 9100, 1} {
		_, ok := nacha.ReturnCode(code)
		assert.False(t, ok, code)
	}
	seen := map[uint64]uint64{}
	for id := uint64(1); id < 10_000; id++ {
		r := nacha.ReversalID(id)
		assert.NotContains(t, []uint64{0, ledger.MaxID}, r)
		_, dup := seen[r]
		require.False(t, dup)
		seen[r] = id
	}
	assert.Equal(t, nacha.ReversalID(42), nacha.ReversalID(42))
}
