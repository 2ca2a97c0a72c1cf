package ledgertest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger"
)

func linked(t ledger.Transfer) ledger.Transfer { t.Flags |= ledger.Linked; return t }

func testLinked(t *testing.T, nb NewBackend) {
	ok, failed := ledger.TransferOK, ledger.TransferLinkedEventFailed
	t.Run("a chain succeeds as a whole", func(t *testing.T) {
		f := newFixture(t, nb)
		f.transfers(ok, ok, ok, ok)(linked(xfer(10, 100)), linked(xfer(11, 200)), xfer(12, 300), xfer(13, 400))
		assert.Equal(t, bal(GPO, 0, 0, 0, 1000), f.balance(GPO))
	})
	t.Run("a chain fails as a whole", func(t *testing.T) {
		f := newFixture(t, nb)
		f.transfers(ok, failed, ledger.TransferExceedsCredits, failed, ok)(
			xfer(9, 1), linked(xfer(10, 100)), linked(xfer(11, 1000*dollars)), xfer(12, 300), xfer(13, 400))
		assert.Equal(t, bal(GPO, 0, 0, 0, 401), f.balance(GPO))
		for _, id := range []uint64{10, 11, 12} {
			_, found := lookup(f, id)
			assert.False(t, found, "transfer %d of the failed chain", id)
		}
		// The failed chain's IDs stay free.
		f.transfers(ok)(xfer(10, 5))
	})
	t.Run("a chain sees its own earlier events", func(t *testing.T) {
		f := newFixture(t, nb)
		f.transfers(ok, ok, ok)(linked(pend(10, 100, 0)), linked(post(11, 10, 60)), xfer(12, 1))
		assert.Equal(t, bal(GPO, 0, 0, 0, 61), f.balance(GPO))
	})
	t.Run("a failed chain's reservation is rolled back", func(t *testing.T) {
		f := newFixture(t, nb)
		f.transfers(failed, failed, ledger.TransferExceedsCredits)(linked(pend(10, 100, 0)), linked(post(11, 10, 0)), xfer(12, 1000*dollars))
		assert.Equal(t, bal(Treasury, 0, 0, 0, 1000*dollars), f.balance(Treasury))
		assert.Equal(t, bal(GPO, 0, 0, 0, 0), f.balance(GPO))
	})
	t.Run("chain open", func(t *testing.T) {
		f := newFixture(t, nb)
		f.transfers(ok, failed, ledger.TransferLinkedEventChainOpen)(xfer(9, 1), linked(xfer(10, 100)), linked(xfer(11, 100)))
		f.transfers(ledger.TransferLinkedEventChainOpen)(linked(xfer(12, 100)))
		assert.Equal(t, bal(GPO, 0, 0, 0, 1), f.balance(GPO))
	})
	t.Run("the failing event before the open end", func(t *testing.T) {
		f := newFixture(t, nb)
		f.transfers(ledger.TransferIDMustNotBeZero, failed)(linked(xfer(0, 1)), linked(xfer(11, 100)))
	})
	t.Run("a retried chain exists", func(t *testing.T) {
		f := newFixture(t, nb)
		chain := []ledger.Transfer{linked(xfer(10, 100)), xfer(11, 200)}
		f.transfers(ok, ok)(chain...)
		f.transfers(ledger.TransferExists, ledger.TransferExists)(chain...)
		assert.Equal(t, bal(GPO, 0, 0, 0, 300), f.balance(GPO))
	})
}

func testTwoPhase(t *testing.T, nb NewBackend) {
	ok := ledger.TransferOK
	t.Run("post in full", func(t *testing.T) {
		f := newFixture(t, nb)
		f.transfers(ok)(pend(10, 300, time.Hour))
		assert.Equal(t, bal(Treasury, 300, 0, 0, 1000*dollars), f.balance(Treasury))
		assert.Equal(t, bal(GPO, 0, 0, 300, 0), f.balance(GPO))
		f.transfers(ok)(post(11, 10, 0))
		assert.Equal(t, bal(GPO, 0, 0, 0, 300), f.balance(GPO))
		p := f.transfer(11)
		assert.Equal(t, mgmt.Money(300), p.Amount, "the stored post carries the posted amount")
		assert.Equal(t, Treasury, p.DebitAccountID)
		assert.Equal(t, GPO, p.CreditAccountID)
		f.transfers(ledger.TransferPendingTransferAlreadyPosted)(post(12, 10, 0))
	})
	t.Run("post in part", func(t *testing.T) {
		f := newFixture(t, nb)
		f.transfers(ok, ok)(pend(10, 300, 0), post(11, 10, 120))
		assert.Equal(t, bal(GPO, 0, 0, 0, 120), f.balance(GPO))
		assert.Equal(t, bal(Treasury, 0, 120, 0, 1000*dollars), f.balance(Treasury))
	})
	t.Run("void", func(t *testing.T) {
		f := newFixture(t, nb)
		f.transfers(ok, ok)(pend(10, 300, time.Hour), void(11, 10))
		assert.Equal(t, bal(GPO, 0, 0, 0, 0), f.balance(GPO))
		assert.Equal(t, mgmt.Money(300), f.transfer(11).Amount)
		f.transfers(ledger.TransferPendingTransferAlreadyVoided)(void(12, 10))
	})
	t.Run("expiry releases the reservation", func(t *testing.T) {
		f := newFixture(t, nb)
		f.transfers(ok)(pend(10, 1000*dollars, time.Minute))
		f.transfers(ledger.TransferExceedsCredits)(xfer(11, 1))
		exp := f.transfer(10).ExpiresAt()
		require.Equal(t, f.transfer(10).Timestamp.Add(time.Minute), exp)
		f.clk.Set(exp.Add(-time.Nanosecond))
		assert.Equal(t, bal(Treasury, 1000*dollars, 0, 0, 1000*dollars), f.balance(Treasury))
		f.clk.Set(exp)
		assert.Equal(t, bal(Treasury, 0, 0, 0, 1000*dollars), f.balance(Treasury))
		f.transfers(ledger.TransferPendingTransferExpired)(post(12, 10, 0))
		f.transfers(ledger.TransferPendingTransferExpired)(void(13, 10))
		f.transfers(ok)(xfer(11, 1))
	})
	t.Run("expiry without a read", func(t *testing.T) {
		f := newFixture(t, nb)
		f.transfers(ok)(pend(10, 1000*dollars, time.Minute))
		f.clk.Add(time.Hour)
		f.transfers(ok)(xfer(11, 1000*dollars))
	})
	t.Run("post just before the timeout", func(t *testing.T) {
		f := newFixture(t, nb)
		f.transfers(ok)(pend(10, 100, time.Minute))
		f.clk.Add(time.Minute - time.Nanosecond)
		f.transfers(ok)(post(11, 10, 0))
		f.clk.Add(time.Hour)
		assert.Equal(t, bal(GPO, 0, 0, 0, 100), f.balance(GPO))
	})
	t.Run("zero timeout never expires", func(t *testing.T) {
		f := newFixture(t, nb)
		f.transfers(ok)(pend(10, 100, 0))
		f.clk.Add(1000 * time.Hour)
		f.transfers(ok)(void(11, 10))
	})
}

func testIdempotency(t *testing.T, nb NewBackend) {
	f := newFixture(t, nb)
	batch := []ledger.Transfer{xfer(10, 100), pend(11, 50, time.Hour), post(12, 11, 0)}
	f.transfers(ledger.TransferOK, ledger.TransferOK, ledger.TransferOK)(batch...)
	before := f.transfer(10)
	f.clk.Add(time.Second)
	for i := 0; i < 3; i++ {
		f.transfers(ledger.TransferExists, ledger.TransferExists, ledger.TransferExists)(batch...)
	}
	assert.Equal(t, bal(GPO, 0, 0, 0, 150), f.balance(GPO))
	assert.Equal(t, before, f.transfer(10), "a retry changes nothing, not even the timestamp")
	f.transfers(ledger.TransferExistsWithDifferentAmount)(xfer(10, 101))
	// The post of a pending transfer that is by now expired still exists.
	f.clk.Add(2 * time.Hour)
	f.transfers(ledger.TransferExists)(post(12, 11, 50))
}

func testTimestamps(t *testing.T, nb NewBackend) {
	f := newFixture(t, nb)
	now := f.clk.Now()
	f.transfers(ledger.TransferOK, ledger.TransferIDMustNotBeZero, ledger.TransferOK)(xfer(10, 1), xfer(0, 1), xfer(11, 1))
	f.transfers(ledger.TransferOK)(xfer(12, 1))
	a, b, c := f.transfer(10).Timestamp, f.transfer(11).Timestamp, f.transfer(12).Timestamp
	assert.False(t, a.Before(now))
	assert.True(t, a.Before(b) && b.Before(c), "strictly increasing in the same instant: %s %s %s", a, b, c)
	f.clk.Add(time.Hour)
	f.transfers(ledger.TransferOK)(xfer(13, 1))
	assert.Equal(t, f.clk.Now(), f.transfer(13).Timestamp.UTC().Round(0).In(f.clk.Now().Location()))
	accts, err := f.b.LookupAccounts(f.ctx, []uint64{Treasury, 99, GPO})
	require.NoError(t, err)
	require.Len(t, accts, 2)
	assert.Equal(t, "Treasury", accts[0].Name)
	assert.Equal(t, "GPO", accts[1].Name)
	assert.True(t, accts[0].Timestamp.Before(accts[1].Timestamp))
}

func testPointInTime(t *testing.T, nb NewBackend) {
	f := newFixture(t, nb)
	t0 := f.clk.Now()
	f.transfers(ledger.TransferOK)(xfer(10, 100))
	f.clk.Add(time.Minute)
	t1 := f.clk.Now()
	f.transfers(ledger.TransferOK)(pend(11, 50, time.Hour))
	f.clk.Add(time.Minute)
	t2 := f.clk.Now()
	f.transfers(ledger.TransferOK)(post(12, 11, 20))
	f.clk.Add(time.Minute)
	t3 := f.clk.Now()
	f.transfers(ledger.TransferOK)(pend(13, 7, time.Minute))
	f.clk.Add(time.Hour)
	t4 := f.clk.Now()

	assert.Equal(t, bal(GPO, 0, 0, 0, 0), f.balanceAt(GPO, t0.Add(-time.Nanosecond)))
	assert.Equal(t, bal(GPO, 0, 0, 0, 100), f.balanceAt(GPO, f.transfer(10).Timestamp))
	assert.Equal(t, bal(GPO, 0, 0, 50, 100), f.balanceAt(GPO, t1.Add(time.Second)))
	assert.Equal(t, bal(GPO, 0, 0, 0, 120), f.balanceAt(GPO, t2.Add(time.Second)))
	assert.Equal(t, bal(GPO, 0, 0, 7, 120), f.balanceAt(GPO, t3.Add(time.Second)))
	assert.Equal(t, bal(GPO, 0, 0, 0, 120), f.balanceAt(GPO, t3.Add(time.Minute)), "expired at timestamp + timeout")
	assert.Equal(t, bal(GPO, 0, 0, 0, 120), f.balanceAt(GPO, t4))
	assert.Equal(t, f.balance(GPO), f.balanceAt(GPO, t4))
	assert.Equal(t, f.balance(Treasury), f.balanceAt(Treasury, t4))
}

func testPaging(t *testing.T, nb NewBackend) {
	f := newFixture(t, nb)
	var want []uint64
	for i := uint64(10); i < 35; i++ {
		f.transfers(ledger.TransferOK)(xfer(i, 1))
		want = append(want, i)
		if i%3 == 0 {
			f.clk.Add(time.Second)
		}
	}
	var got []uint64
	filter := ledger.AccountFilter{AccountID: GPO, Limit: 7}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		p, err := f.b.AccountTransfers(f.ctx, filter)
		require.NoError(t, err)
		require.LessOrEqual(t, len(p.Transfers), 7)
		for _, x := range p.Transfers {
			got = append(got, x.ID)
		}
		if p.Next.IsZero() {
			break
		}
		filter.After = p.Next
	}
	assert.Equal(t, want, got)
	p, err := f.b.AccountTransfers(f.ctx, ledger.AccountFilter{AccountID: Treasury})
	require.NoError(t, err)
	require.Len(t, p.Transfers, 26, "the funding transfer and the 25")
	assert.Equal(t, uint64(1), p.Transfers[0].ID)
	assert.True(t, p.Next.IsZero())
}

func testBadInput(t *testing.T, nb NewBackend) {
	f := newFixture(t, nb)
	_, err := f.b.Balance(f.ctx, 99, time.Time{})
	assert.ErrorIs(t, err, mgmt.ErrNotFound)
	assert.Equal(t, "accountID", mgmt.FieldOf(err))
	_, err = f.b.AccountTransfers(f.ctx, ledger.AccountFilter{AccountID: GPO, Limit: -1})
	assert.ErrorIs(t, err, mgmt.ErrInvalid)
	assert.Equal(t, "filter.limit", mgmt.FieldOf(err))
	_, err = f.b.AccountTransfers(f.ctx, ledger.AccountFilter{AccountID: 99})
	assert.ErrorIs(t, err, mgmt.ErrNotFound)
	_, err = f.b.CreateTransfers(f.ctx, make([]ledger.Transfer, ledger.MaxBatch+1))
	assert.ErrorIs(t, err, mgmt.ErrInvalid)
	assert.Equal(t, "batch", mgmt.FieldOf(err))
	res, err := f.b.CreateTransfers(f.ctx, []ledger.Transfer{xfer(10, 1), xfer(11, -5)})
	require.NoError(t, err)
	assert.NoError(t, res[0].Err())
	assert.ErrorIs(t, res[1].Err(), mgmt.ErrInvalid)
	assert.Equal(t, "transfers[1].amount", mgmt.FieldOf(res[1].Err()))
	assert.Contains(t, res[1].Err().Error(), "amount_must_not_be_negative")
	ctx, cancel := contextWithCancel(f)
	cancel()
	_, err = f.b.CreateTransfers(ctx, []ledger.Transfer{xfer(12, 1)})
	assert.ErrorIs(t, err, mgmt.ErrUnavailable)
	_, found := lookup(f, 12)
	assert.False(t, found)
}

func testAccounts(t *testing.T, nb NewBackend) {
	f := newFixture(t, nb)
	bank := &ledger.Bank{RoutingNumber: "021000021", AccountNumber: "000123456789", AccountType: ledger.Savings}
	in := ledger.Account{ID: 10, Name: "SSA", Agency: "ssa", Currency: "USD", Flags: ledger.DebitsMustNotExceedCredits, Bank: bank, Code: 7, UserData: 42}
	f.accounts(ledger.AccountOK, ledger.AccountExists, ledger.AccountNameAlreadyUsed)(in, in, ledger.Account{ID: 11, Name: "SSA", Agency: "ssa", Currency: "USD"})
	bank.AccountNumber = "changed by the caller"
	got, err := f.b.LookupAccounts(f.ctx, []uint64{10, 11})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "000123456789", got[0].Bank.AccountNumber, "the ledger keeps its own copy")
	assert.Equal(t, ledger.Savings, got[0].Bank.AccountType)
	assert.Equal(t, []any{"SSA", "ssa", "USD", ledger.DebitsMustNotExceedCredits, uint16(7), uint64(42)},
		[]any{got[0].Name, got[0].Agency, got[0].Currency, got[0].Flags, got[0].Code, got[0].UserData})
	assert.False(t, got[0].Timestamp.IsZero())
	got[0].Bank.AccountNumber = "changed again"
	again, err := f.b.LookupAccounts(f.ctx, []uint64{10})
	require.NoError(t, err)
	assert.Equal(t, "000123456789", again[0].Bank.AccountNumber)
	assert.Equal(t, bal(10, 0, 0, 0, 0), f.balance(10))
	// A new account has no history, and an account in a batch can be used
	// by the next batch.
	f.transfers(ledger.TransferOK)(ledger.Transfer{ID: 10, DebitAccountID: Treasury, CreditAccountID: 10, Amount: 5})
	p, err := f.b.AccountTransfers(f.ctx, ledger.AccountFilter{AccountID: 10})
	require.NoError(t, err)
	require.Len(t, p.Transfers, 1)
}

func testAccountQueries(t *testing.T, nb NewBackend) {
	f := newFixture(t, nb)
	a, err := f.b.AccountByName(f.ctx, "GPO")
	require.NoError(t, err)
	assert.Equal(t, GPO, a.ID)
	assert.Equal(t, "gpo", a.Agency)
	_, err = f.b.AccountByName(f.ctx, "gpo")
	assert.ErrorIs(t, err, mgmt.ErrNotFound, "names are case-sensitive")
	assert.Equal(t, "name", mgmt.FieldOf(err))
	bank := &ledger.Bank{RoutingNumber: "021000021", AccountNumber: "42", AccountType: ledger.Checking}
	f.accounts(ledger.AccountOK)(ledger.Account{ID: 100, Name: "SSA", Agency: "ssa", Currency: "USD", Bank: bank})
	a, err = f.b.AccountByName(f.ctx, "SSA")
	require.NoError(t, err)
	require.NotNil(t, a.Bank)
	assert.Equal(t, *bank, *a.Bank)
	all, err := f.b.ListAccounts(f.ctx, 0, 0)
	require.NoError(t, err)
	assert.Equal(t, []uint64{Treasury, GPO, Funding, Receivable, 100}, accountIDs(all))
	page, err := f.b.ListAccounts(f.ctx, GPO, 2)
	require.NoError(t, err)
	assert.Equal(t, []uint64{Funding, Receivable}, accountIDs(page))
	page, err = f.b.ListAccounts(f.ctx, 100, 2)
	require.NoError(t, err)
	assert.Empty(t, page)
	_, err = f.b.ListAccounts(f.ctx, 0, ledger.MaxPageSize+1)
	assert.ErrorIs(t, err, mgmt.ErrInvalid)
}

func accountIDs(as []ledger.Account) []uint64 {
	out := make([]uint64, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}
