package nacha_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/moov-io/ach"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/nacha"
)

// Accounts of the fixture. Treasury and Interior bank at 021000021, GPO at
// 011000015 (savings), NPS at 122105278; Appropriations has no bank.
const (
	appropriations uint64 = 1
	treasury       uint64 = 2
	gpo            uint64 = 3
	interior       uint64 = 4
	nps            uint64 = 5
)

var start = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC) // a Friday

type fixture struct {
	ctx  context.Context
	clk  *clock.Mock
	l    *ledger.Memory
	sink *nacha.DirSink
	s    *nacha.Settler
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := clock.NewMock()
	clk.Set(start)
	l, err := ledger.NewMemory(ledger.Options{Clock: clk})
	require.NoError(t, err)
	res, err := l.CreateAccounts(ctx, []ledger.Account{
		{ID: appropriations, Name: "Appropriations", Agency: "treasury", Currency: mgmt.Currency},
		{ID: treasury, Name: "Treasury", Agency: "treasury", Currency: mgmt.Currency,
			Bank: &ledger.Bank{RoutingNumber: "021000021", AccountNumber: "1234567890", AccountType: ledger.Checking}},
		{ID: gpo, Name: "Government Publishing Office", Agency: "gpo", Currency: mgmt.Currency,
			Bank: &ledger.Bank{RoutingNumber: "011000015", AccountNumber: "4410020", AccountType: ledger.Savings}},
		{ID: interior, Name: "Interior", Agency: "interior", Currency: mgmt.Currency,
			Bank: &ledger.Bank{RoutingNumber: "021000021", AccountNumber: "99887766", AccountType: ledger.Checking}},
		{ID: nps, Name: "National Park Service", Agency: "interior", Currency: mgmt.Currency,
			Bank: &ledger.Bank{RoutingNumber: "122105278", AccountNumber: "5550001", AccountType: ledger.Checking}},
	})
	require.NoError(t, err)
	for _, r := range res {
		require.NoError(t, r.Err())
	}
	f := &fixture{ctx: ctx, clk: clk, l: l}
	f.sink, err = nacha.NewDirSink(t.TempDir())
	require.NoError(t, err)
	f.s = f.settler(t, f.sink)
	return f
}

func (f *fixture) settler(t *testing.T, sink nacha.FileSink) *nacha.Settler {
	t.Helper()
	s, err := nacha.New(nacha.Options{Backend: f.l, Sink: sink, Clock: f.clk, CompanyIdentification: "1234567890"})
	require.NoError(t, err)
	return s
}

func (f *fixture) transfer(t *testing.T, ts ...ledger.Transfer) {
	t.Helper()
	res, err := f.l.CreateTransfers(f.ctx, ts)
	require.NoError(t, err)
	for _, r := range res {
		require.NoError(t, r.Err())
	}
	f.clk.Add(time.Minute)
}

// settle settles at the clock's now and moves the clock on.
func (f *fixture) settle(t *testing.T) nacha.Settlement {
	t.Helper()
	cutoff := f.clk.Now()
	f.clk.Add(time.Minute)
	res, err := f.s.Settle(f.ctx, cutoff)
	require.NoError(t, err)
	return res
}

func readFile(t *testing.T, data []byte) ach.File {
	t.Helper()
	file, err := ach.NewReader(bytes.NewReader(data)).Read()
	require.NoError(t, err)
	require.NoError(t, file.Validate())
	return file
}

func TestSettleFiles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.transfer(t,
		ledger.Transfer{ID: 10, DebitAccountID: appropriations, CreditAccountID: treasury, Amount: 1_000_000_00}, // no bank: never settles
		ledger.Transfer{ID: 11, DebitAccountID: treasury, CreditAccountID: gpo, Amount: 250_000_00},
		ledger.Transfer{ID: 12, DebitAccountID: treasury, CreditAccountID: nps, Amount: 1_234_56},
		ledger.Transfer{ID: 13, DebitAccountID: interior, CreditAccountID: nps, Amount: 77},
		ledger.Transfer{ID: 14, DebitAccountID: nps, CreditAccountID: gpo, Amount: 5_00},
	)
	res := f.settle(t)
	require.Len(t, res.Files, 2)
	require.Equal(t, res.Created, []string{res.Files[0].Name, res.Files[1].Name})
	assert.Empty(t, res.Skipped)

	// 021000021: Treasury's batch (11, 12) and Interior's (13).
	chase := res.Files[0]
	assert.Equal(t, "021000021", chase.ODFI)
	assert.Equal(t, "20261120T090100.000000000Z-021000021-01.ach", chase.Name)
	assert.Equal(t, []uint64{11, 12, 13}, chase.Transfers)
	assert.Equal(t, mgmt.Money(250_000_00+1_234_56+77), chase.Total)
	assert.Equal(t, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), chase.EffectiveDate) // Monday
	assert.Equal(t, "021000020000001", chase.FirstTrace)
	assert.Equal(t, "021000020000005", chase.LastTrace) // 2 entries + offset, 1 entry + offset

	data, err := f.s.File(f.ctx, chase.Name)
	require.NoError(t, err)
	file := readFile(t, data)
	assert.Equal(t, "021000021", strings.TrimSpace(file.Header.ImmediateDestination))
	assert.Equal(t, "261120", file.Header.FileCreationDate)
	assert.Equal(t, "0901", file.Header.FileCreationTime)
	assert.Equal(t, "A", file.Header.FileIDModifier)
	require.Len(t, file.Batches, 2)

	type row struct {
		code    int
		rdfi    string
		account string
		amount  int
		trace   string
		name    string
	}
	var rows [][]row
	for _, b := range file.Batches {
		h := b.GetHeader()
		assert.Equal(t, ach.CCD, h.StandardEntryClassCode)
		assert.Equal(t, "02100002", h.ODFIIdentification)
		assert.Equal(t, "261123", h.EffectiveEntryDate)
		assert.Equal(t, "1234567890", h.CompanyIdentification)
		c := b.GetControl()
		assert.Equal(t, c.TotalDebitEntryDollarAmount, c.TotalCreditEntryDollarAmount, "the batch balances")
		var rs []row
		for _, e := range b.GetEntries() {
			rs = append(rs, row{e.TransactionCode, e.RDFIIdentification + e.CheckDigit, strings.TrimSpace(e.DFIAccountNumber),
				e.Amount, e.TraceNumber, strings.TrimSpace(e.IndividualName)})
		}
		rows = append(rows, rs)
	}
	assert.Equal(t, "TREASURY", file.Batches[0].GetHeader().CompanyName)
	assert.Equal(t, [][]row{
		{
			{ach.SavingsCredit, "011000015", "4410020", 250_000_00, "021000020000001", "GOVERNMENT PUBLISHING"},
			{ach.CheckingCredit, "122105278", "5550001", 1_234_56, "021000020000002", "NATIONAL PARK SERVICE"},
			{ach.CheckingDebit, "021000021", "1234567890", 251_234_56, "021000020000003", "OFFSET"},
		},
		{
			{ach.CheckingCredit, "122105278", "5550001", 77, "021000020000004", "NATIONAL PARK SERVICE"},
			{ach.CheckingDebit, "021000021", "99887766", 77, "021000020000005", "OFFSET"},
		},
	}, rows)

	// 122105278: NPS pays GPO.
	wells := res.Files[1]
	assert.Equal(t, "122105278", wells.ODFI)
	assert.Equal(t, []uint64{14}, wells.Transfers)
	assert.Equal(t, "122105270000001", wells.FirstTrace)

	// Settling again settles nothing; later transfers continue the trace
	// numbers.
	res = f.settle(t)
	assert.Empty(t, res.Files)
	f.transfer(t, ledger.Transfer{ID: 15, DebitAccountID: treasury, CreditAccountID: gpo, Amount: 1_00})
	res = f.settle(t)
	require.Len(t, res.Files, 1)
	assert.Equal(t, []uint64{15}, res.Files[0].Transfers)
	assert.Equal(t, "021000020000006", res.Files[0].FirstTrace)

	files, err := f.s.Files(f.ctx)
	require.NoError(t, err)
	seen := map[uint64]int{}
	for _, fi := range files {
		for _, id := range fi.Transfers {
			seen[id]++
		}
	}
	assert.Equal(t, map[uint64]int{11: 1, 12: 1, 13: 1, 14: 1, 15: 1}, seen)
}
