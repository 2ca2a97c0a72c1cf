package nacha_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York on machines without a time zone database

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

func TestWhatSettles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.transfer(t,
		ledger.Transfer{ID: 20, DebitAccountID: treasury, CreditAccountID: gpo, Amount: 100_00, Flags: ledger.Pending},                       // posted in part below
		ledger.Transfer{ID: 21, DebitAccountID: treasury, CreditAccountID: gpo, Amount: 200_00, Flags: ledger.Pending},                       // voided below
		ledger.Transfer{ID: 22, DebitAccountID: treasury, CreditAccountID: gpo, Amount: 300_00, Flags: ledger.Pending},                       // stays pending
		ledger.Transfer{ID: 23, DebitAccountID: treasury, CreditAccountID: gpo, Amount: 400_00, Flags: ledger.Pending, Timeout: time.Second}, // expires
		ledger.Transfer{ID: 24, DebitAccountID: appropriations, CreditAccountID: gpo, Amount: 500_00},                                        // no bank on the debit side
		ledger.Transfer{ID: 25, DebitAccountID: gpo, CreditAccountID: appropriations, Amount: 1_00},                                          // no bank on the credit side
		ledger.Transfer{ID: 26, DebitAccountID: treasury, CreditAccountID: gpo, Amount: nacha.MaxEntryAmount + 1},                            // too large for NACHA
	)
	f.transfer(t,
		ledger.Transfer{ID: 30, PendingID: 20, Flags: ledger.PostPending, Amount: 60_00},
		ledger.Transfer{ID: 31, PendingID: 21, Flags: ledger.VoidPending},
		// A transfer that looks like the reversal of 11 settles not.
		ledger.Transfer{ID: nacha.ReversalID(11), DebitAccountID: gpo, CreditAccountID: treasury, Amount: 9_00, Code: 9001, UserData: 11},
	)
	cutoff := f.clk.Now()
	f.clk.Add(time.Second)
	f.transfer(t, ledger.Transfer{ID: 40, DebitAccountID: treasury, CreditAccountID: gpo, Amount: 7_00}) // after the cutoff
	res, err := f.s.Settle(f.ctx, cutoff)
	require.NoError(t, err)
	require.Len(t, res.Files, 1)
	assert.Equal(t, []uint64{30}, res.Files[0].Transfers, "only the post, with its posted amount")
	assert.Equal(t, mgmt.Money(60_00), res.Files[0].Total)
	assert.Equal(t, []nacha.Skipped{{TransferID: 26, Reason: nacha.ReasonAmountTooLarge,
		Message: "amount 100000000.00 exceeds the largest NACHA entry, 99999999.99"}}, res.Skipped)

	res = f.settle(t)
	require.Len(t, res.Files, 1)
	assert.Equal(t, []uint64{40}, res.Files[0].Transfers)
}

func TestSettleRejects(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := f.clk.Now()
	for name, cutoff := range map[string]time.Time{"zero": {}, "now": now, "future": now.Add(time.Hour)} {
		_, err := f.s.Settle(f.ctx, cutoff)
		assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(err), name)
		assert.Equal(t, "cutoff", mgmt.FieldOf(err), name)
	}
	f.transfer(t, ledger.Transfer{ID: 11, DebitAccountID: treasury, CreditAccountID: gpo, Amount: 1_00})
	cutoff := f.clk.Now()
	f.clk.Add(time.Hour)
	_, err := f.s.Settle(f.ctx, cutoff)
	require.NoError(t, err)
	_, err = f.s.Settle(f.ctx, cutoff.Add(time.Second))
	assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(err))
	assert.ErrorContains(t, err, "same minute")
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	l, err := ledger.NewMemory(ledger.Options{})
	require.NoError(t, err)
	sink, err := nacha.NewDirSink(t.TempDir())
	require.NoError(t, err)
	ok := nacha.Options{Backend: l, Sink: sink, CompanyIdentification: "1234567890"}
	for field, change := range map[string]func(*nacha.Options){
		"options.backend":               func(o *nacha.Options) { o.Backend = nil },
		"options.sink":                  func(o *nacha.Options) { o.Sink = nil },
		"options.companyIdentification": func(o *nacha.Options) { o.CompanyIdentification = "12345678901" },
		"options.originName":            func(o *nacha.Options) { o.OriginName = "a name that is far too long" },
		"options.entryDescription":      func(o *nacha.Options) { o.EntryDescription = "ÜBERWEISUNG" },
		"options.maxReturnFileSize":     func(o *nacha.Options) { o.MaxReturnFileSize = -1 },
	} {
		o := ok
		change(&o)
		_, err := nacha.New(o)
		assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(err), field)
		assert.Equal(t, field, mgmt.FieldOf(err))
	}
	_, err = nacha.New(ok)
	assert.NoError(t, err)
}

func TestNextBankingDay(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"2026-11-20": "2026-11-23", // Friday → Monday
		"2026-11-25": "2026-11-27", // Thanksgiving on the 26th
		"2026-12-31": "2027-01-04", // New Year's Day is a Friday
		"2026-11-17": "2026-11-18",
	} {
		d, err := time.Parse(time.DateOnly, in)
		require.NoError(t, err)
		assert.Equal(t, want, nacha.NextBankingDay(d.Add(17*time.Hour)).Format(time.DateOnly), in)
	}
}

func TestLargeBatchesSplit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	big := mgmt.Money(60_000_000_00) // two of them do not fit one offset
	f.transfer(t,
		ledger.Transfer{ID: 11, DebitAccountID: treasury, CreditAccountID: gpo, Amount: big},
		ledger.Transfer{ID: 12, DebitAccountID: treasury, CreditAccountID: nps, Amount: big},
		ledger.Transfer{ID: 13, DebitAccountID: treasury, CreditAccountID: nps, Amount: 1_00},
	)
	res := f.settle(t)
	require.Len(t, res.Files, 1)
	data, err := f.s.File(f.ctx, res.Files[0].Name)
	require.NoError(t, err)
	file := readFile(t, data)
	require.Len(t, file.Batches, 2)
	var traces []string
	for _, b := range file.Batches {
		c := b.GetControl()
		assert.Equal(t, c.TotalDebitEntryDollarAmount, c.TotalCreditEntryDollarAmount)
		assert.LessOrEqual(t, c.TotalDebitEntryDollarAmount, int(nacha.MaxEntryAmount))
		for _, e := range b.GetEntries() {
			traces = append(traces, e.TraceNumber)
		}
	}
	assert.Equal(t, []string{"021000020000001", "021000020000002", "021000020000003", "021000020000004", "021000020000005"}, traces)
	assert.Equal(t, big+big+1_00, res.Files[0].Total)
}

func TestLocationAndEffectiveDate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	s, err := nacha.New(nacha.Options{Backend: f.l, Sink: f.sink, Clock: f.clk, CompanyIdentification: "1234567890",
		Location: ny, OriginName: "Treasury Ops", EntryDescription: "Payroll",
		EffectiveDate: func(cutoff time.Time) time.Time { return cutoff.AddDate(0, 0, 2) }})
	require.NoError(t, err)
	f.transfer(t, ledger.Transfer{ID: 11, DebitAccountID: treasury, CreditAccountID: gpo, Amount: 1_00})
	cutoff := time.Date(2026, 11, 21, 2, 30, 0, 0, time.UTC) // 21:30 on the 20th in New York
	f.clk.Set(cutoff.Add(time.Minute))
	res, err := s.Settle(f.ctx, cutoff)
	require.NoError(t, err)
	require.Len(t, res.Files, 1)
	data, err := s.File(f.ctx, res.Files[0].Name)
	require.NoError(t, err)
	file := readFile(t, data)
	assert.Equal(t, "261120", file.Header.FileCreationDate)
	assert.Equal(t, "2130", file.Header.FileCreationTime)
	assert.Equal(t, "TREASURY OPS", strings.TrimSpace(file.Header.ImmediateOriginName))
	assert.Equal(t, "261122", file.Batches[0].GetHeader().EffectiveEntryDate)
	assert.Equal(t, "PAYROLL", strings.TrimSpace(file.Batches[0].GetHeader().CompanyEntryDescription))
	assert.Equal(t, "20261121T023000.000000000Z-021000021-01.ach", res.Files[0].Name)
}
