package ledgertest

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger"
)

func testAccountCodes(t *testing.T, nb NewBackend) {
	good := ledger.Account{ID: 10, Name: "HHS", Agency: "hhs", Currency: "USD",
		Bank: &ledger.Bank{RoutingNumber: "011000015", AccountNumber: "12345678", AccountType: ledger.Checking}}
	with := func(mod func(a *ledger.Account)) ledger.Account {
		a := good
		b := *good.Bank
		a.Bank = &b
		mod(&a)
		return a
	}
	cases := []struct {
		name string
		a    ledger.Account
		want ledger.AccountCode
	}{
		{"ok", good, ledger.AccountOK},
		{"timestamp", with(func(a *ledger.Account) { a.Timestamp = time.Unix(1, 0); a.ID = 0 }), ledger.AccountTimestampMustBeZero},
		{"reserved flag before id", with(func(a *ledger.Account) { a.Flags = 1 << 7; a.ID = 0 }), ledger.AccountReservedFlag},
		{"id zero", with(func(a *ledger.Account) { a.ID = 0; a.Name = "" }), ledger.AccountIDMustNotBeZero},
		{"id max", with(func(a *ledger.Account) { a.ID = math.MaxUint64 }), ledger.AccountIDMustNotBeIntMax},
		{"exists different flags first", ledger.Account{ID: Treasury, Name: "x", Currency: "EUR"}, ledger.AccountExistsWithDifferentFlags},
		{"exists different name", ledger.Account{ID: GPO, Name: "x"}, ledger.AccountExistsWithDifferentName},
		{"exists different agency", ledger.Account{ID: GPO, Name: "GPO", Agency: "x"}, ledger.AccountExistsWithDifferentAgency},
		{"exists different currency", ledger.Account{ID: GPO, Name: "GPO", Agency: "gpo", Currency: "EUR"}, ledger.AccountExistsWithDifferentCurrency},
		{"exists different bank", ledger.Account{ID: GPO, Name: "GPO", Agency: "gpo", Currency: "USD", Bank: good.Bank}, ledger.AccountExistsWithDifferentBank},
		{"exists different user data", ledger.Account{ID: GPO, Name: "GPO", Agency: "gpo", Currency: "USD", UserData: 1}, ledger.AccountExistsWithDifferentUserData},
		{"exists different code", ledger.Account{ID: GPO, Name: "GPO", Agency: "gpo", Currency: "USD", Code: 1}, ledger.AccountExistsWithDifferentCode},
		{"exists", ledger.Account{ID: GPO, Name: "GPO", Agency: "gpo", Currency: "USD"}, ledger.AccountExists},
		{"flags exclusive", with(func(a *ledger.Account) {
			a.Flags = ledger.DebitsMustNotExceedCredits | ledger.CreditsMustNotExceedDebits
			a.Name = ""
		}), ledger.AccountFlagsAreMutuallyExclusive},
		{"name empty", with(func(a *ledger.Account) { a.Name = ""; a.Agency = "" }), ledger.AccountNameMustNotBeEmpty},
		{"agency empty", with(func(a *ledger.Account) { a.Agency = ""; a.Currency = "" }), ledger.AccountAgencyMustNotBeEmpty},
		{"currency", with(func(a *ledger.Account) { a.Currency = "EUR"; a.Bank.RoutingNumber = "1" }), ledger.AccountCurrencyNotSupported},
		{"routing check digit", with(func(a *ledger.Account) { a.Bank.RoutingNumber = "011000016"; a.Bank.AccountNumber = "" }), ledger.AccountRoutingNumberInvalid},
		{"routing length", with(func(a *ledger.Account) { a.Bank.RoutingNumber = "01100001" }), ledger.AccountRoutingNumberInvalid},
		{"routing digits", with(func(a *ledger.Account) { a.Bank.RoutingNumber = "01100001x" }), ledger.AccountRoutingNumberInvalid},
		{"bank account number", with(func(a *ledger.Account) { a.Bank.AccountNumber = "123456789012345678"; a.Bank.AccountType = "x" }), ledger.AccountBankAccountNumberInvalid},
		{"bank account type", with(func(a *ledger.Account) { a.Bank.AccountType = "brokerage"; a.Name = "GPO" }), ledger.AccountBankAccountTypeInvalid},
		{"name used", with(func(a *ledger.Account) { a.Name = "GPO" }), ledger.AccountNameAlreadyUsed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nb)
			res, err := f.b.CreateAccounts(f.ctx, []ledger.Account{c.a})
			require.NoError(t, err)
			require.Len(t, res, 1)
			assert.Equal(t, 0, res[0].Index)
			assert.Equal(t, c.want.String(), res[0].Code.String())
			if c.want.Ok() {
				assert.NoError(t, res[0].Err())
			} else {
				err := res[0].Err()
				require.Error(t, err)
				assert.Contains(t, mgmt.FieldOf(err), "accounts[0]")
				assert.Contains(t, mgmt.FieldOf(err), c.want.Field())
			}
		})
	}
}

// xfer is a transfer from Treasury to GPO.
func xfer(id uint64, amount mgmt.Money) ledger.Transfer {
	return ledger.Transfer{ID: id, DebitAccountID: Treasury, CreditAccountID: GPO, Amount: amount}
}

func pend(id uint64, amount mgmt.Money, timeout time.Duration) ledger.Transfer {
	t := xfer(id, amount)
	t.Flags, t.Timeout = ledger.Pending, timeout
	return t
}

func post(id, pendingID uint64, amount mgmt.Money) ledger.Transfer {
	return ledger.Transfer{ID: id, PendingID: pendingID, Amount: amount, Flags: ledger.PostPending}
}

func void(id, pendingID uint64) ledger.Transfer {
	return ledger.Transfer{ID: id, PendingID: pendingID, Flags: ledger.VoidPending}
}

func mod(t ledger.Transfer, f func(*ledger.Transfer)) ledger.Transfer { f(&t); return t }

func testTransferCodes(t *testing.T, nb NewBackend) {
	const big = mgmt.Money(math.MaxInt64)
	cases := []struct {
		name    string
		setup   []ledger.Transfer
		advance time.Duration
		in      ledger.Transfer
		want    ledger.TransferCode
	}{
		{"ok", nil, 0, xfer(10, 100), ledger.TransferOK},
		{"timestamp", nil, 0, mod(xfer(0, -1), func(x *ledger.Transfer) { x.Timestamp = time.Unix(1, 0); x.Flags = 1 << 9 }), ledger.TransferTimestampMustBeZero},
		{"reserved flag", nil, 0, mod(xfer(0, -1), func(x *ledger.Transfer) { x.Flags = 1 << 9 }), ledger.TransferReservedFlag},
		{"id zero", nil, 0, xfer(0, -1), ledger.TransferIDMustNotBeZero},
		{"id max", nil, 0, xfer(math.MaxUint64, -1), ledger.TransferIDMustNotBeIntMax},
		{"exists different flags", []ledger.Transfer{xfer(10, 100)}, 0, pend(10, 5, time.Hour), ledger.TransferExistsWithDifferentFlags},
		{"exists different pending id", []ledger.Transfer{pend(9, 100, 0), post(10, 9, 0), pend(8, 100, 0)}, 0, post(10, 8, 7), ledger.TransferExistsWithDifferentPendingID},
		{"exists different timeout", []ledger.Transfer{pend(10, 100, time.Hour)}, 0, pend(10, 7, time.Minute), ledger.TransferExistsWithDifferentTimeout},
		{"exists different debit", []ledger.Transfer{xfer(10, 100)}, 0, mod(xfer(10, 7), func(x *ledger.Transfer) { x.DebitAccountID = Funding }), ledger.TransferExistsWithDifferentDebitAccountID},
		{"exists different credit", []ledger.Transfer{xfer(10, 100)}, 0, mod(xfer(10, 7), func(x *ledger.Transfer) { x.CreditAccountID = Funding }), ledger.TransferExistsWithDifferentCreditAccountID},
		{"exists different amount", []ledger.Transfer{xfer(10, 100)}, 0, mod(xfer(10, 7), func(x *ledger.Transfer) { x.UserData = 1 }), ledger.TransferExistsWithDifferentAmount},
		{"exists different partial post amount", []ledger.Transfer{pend(9, 100, 0), post(10, 9, 60)}, 0, post(10, 9, 0), ledger.TransferExistsWithDifferentAmount},
		{"exists different user data", []ledger.Transfer{xfer(10, 100)}, 0, mod(xfer(10, 100), func(x *ledger.Transfer) { x.UserData = 1; x.Code = 1 }), ledger.TransferExistsWithDifferentUserData},
		{"exists different code", []ledger.Transfer{xfer(10, 100)}, 0, mod(xfer(10, 100), func(x *ledger.Transfer) { x.Code = 1 }), ledger.TransferExistsWithDifferentCode},
		{"exists", []ledger.Transfer{xfer(10, 100)}, 0, xfer(10, 100), ledger.TransferExists},
		{"exists full post with zero amount", []ledger.Transfer{pend(9, 100, 0), post(10, 9, 100)}, 0, post(10, 9, 0), ledger.TransferExists},
		{"exists even after the rules would refuse it", []ledger.Transfer{xfer(10, 1000*dollars)}, 0, xfer(10, 1000*dollars), ledger.TransferExists},
		{"flags pending and post", nil, 0, mod(xfer(10, 0), func(x *ledger.Transfer) { x.Flags = ledger.Pending | ledger.PostPending; x.DebitAccountID = 0 }), ledger.TransferFlagsAreMutuallyExclusive},
		{"flags post and void", nil, 0, mod(xfer(10, 0), func(x *ledger.Transfer) { x.Flags = ledger.VoidPending | ledger.PostPending }), ledger.TransferFlagsAreMutuallyExclusive},
		{"debit zero", nil, 0, mod(xfer(10, 0), func(x *ledger.Transfer) { x.DebitAccountID = 0; x.CreditAccountID = 0 }), ledger.TransferDebitAccountIDMustNotBeZero},
		{"debit max", nil, 0, mod(xfer(10, 0), func(x *ledger.Transfer) { x.DebitAccountID = math.MaxUint64; x.CreditAccountID = 0 }), ledger.TransferDebitAccountIDMustNotBeIntMax},
		{"credit zero", nil, 0, mod(xfer(10, 0), func(x *ledger.Transfer) { x.CreditAccountID = 0 }), ledger.TransferCreditAccountIDMustNotBeZero},
		{"credit max", nil, 0, mod(xfer(10, 0), func(x *ledger.Transfer) { x.CreditAccountID = math.MaxUint64 }), ledger.TransferCreditAccountIDMustNotBeIntMax},
		{"accounts different", nil, 0, mod(xfer(10, 0), func(x *ledger.Transfer) { x.CreditAccountID = Treasury; x.PendingID = 3 }), ledger.TransferAccountsMustBeDifferent},
		{"pending id must be zero", nil, 0, mod(xfer(10, 0), func(x *ledger.Transfer) { x.PendingID = 3; x.Timeout = time.Second }), ledger.TransferPendingIDMustBeZero},
		{"pending id must not be zero", nil, 0, mod(post(10, 0, 0), func(x *ledger.Transfer) { x.Timeout = time.Second }), ledger.TransferPendingIDMustNotBeZero},
		{"pending id max", nil, 0, post(10, math.MaxUint64, 0), ledger.TransferPendingIDMustNotBeIntMax},
		{"pending id different", nil, 0, post(10, 10, 0), ledger.TransferPendingIDMustBeDifferent},
		{"timeout reserved", nil, 0, mod(xfer(10, -1), func(x *ledger.Transfer) { x.Timeout = time.Second }), ledger.TransferTimeoutReservedForPendingTransfer},
		{"timeout negative", nil, 0, pend(10, -1, -time.Second), ledger.TransferTimeoutMustNotBeNegative},
		{"amount negative", nil, 0, mod(xfer(10, -1), func(x *ledger.Transfer) { x.DebitAccountID = 99 }), ledger.TransferAmountMustNotBeNegative},
		{"amount zero", nil, 0, mod(xfer(10, 0), func(x *ledger.Transfer) { x.DebitAccountID = 99 }), ledger.TransferAmountMustNotBeZero},
		{"debit not found", nil, 0, mod(xfer(10, 1), func(x *ledger.Transfer) { x.DebitAccountID = 99; x.CreditAccountID = 98 }), ledger.TransferDebitAccountNotFound},
		{"credit not found", nil, 0, mod(xfer(10, 1), func(x *ledger.Transfer) { x.CreditAccountID = 98 }), ledger.TransferCreditAccountNotFound},
		{"pending not found", nil, 0, post(10, 9, 0), ledger.TransferPendingTransferNotFound},
		{"pending not pending", []ledger.Transfer{xfer(9, 100)}, 0, post(10, 9, 0), ledger.TransferPendingTransferNotPending},
		{"pending different debit", []ledger.Transfer{pend(9, 100, 0)}, 0, mod(post(10, 9, 200), func(x *ledger.Transfer) { x.DebitAccountID = Funding }), ledger.TransferPendingTransferHasDifferentDebitAccountID},
		{"pending different credit", []ledger.Transfer{pend(9, 100, 0)}, 0, mod(post(10, 9, 200), func(x *ledger.Transfer) { x.CreditAccountID = Funding }), ledger.TransferPendingTransferHasDifferentCreditAccountID},
		{"exceeds pending amount", []ledger.Transfer{pend(9, 100, time.Second), post(8, 9, 0)}, time.Hour, post(10, 9, 101), ledger.TransferExceedsPendingTransferAmount},
		{"void different amount", []ledger.Transfer{pend(9, 100, 0), void(8, 9)}, 0, mod(void(10, 9), func(x *ledger.Transfer) { x.Amount = 99 }), ledger.TransferPendingTransferHasDifferentAmount},
		{"already posted", []ledger.Transfer{pend(9, 100, time.Second), post(8, 9, 0)}, time.Hour, void(10, 9), ledger.TransferPendingTransferAlreadyPosted},
		{"already voided", []ledger.Transfer{pend(9, 100, time.Second), void(8, 9)}, time.Hour, post(10, 9, 0), ledger.TransferPendingTransferAlreadyVoided},
		{"expired", []ledger.Transfer{pend(9, 100, time.Second)}, time.Second + time.Millisecond, post(10, 9, 0), ledger.TransferPendingTransferExpired},
		{"overflows debits pending", []ledger.Transfer{{ID: 9, DebitAccountID: GPO, CreditAccountID: Funding, Amount: big, Flags: ledger.Pending}}, 0,
			ledger.Transfer{ID: 10, DebitAccountID: GPO, CreditAccountID: Receivable, Amount: 1, Flags: ledger.Pending}, ledger.TransferOverflowsDebitsPending},
		{"overflows credits pending", []ledger.Transfer{{ID: 9, DebitAccountID: Receivable, CreditAccountID: GPO, Amount: big, Flags: ledger.Pending}}, 0,
			ledger.Transfer{ID: 10, DebitAccountID: Treasury, CreditAccountID: GPO, Amount: 1, Flags: ledger.Pending}, ledger.TransferOverflowsCreditsPending},
		{"overflows debits posted", []ledger.Transfer{{ID: 9, DebitAccountID: GPO, CreditAccountID: Funding, Amount: big}}, 0,
			ledger.Transfer{ID: 10, DebitAccountID: GPO, CreditAccountID: Funding, Amount: 1}, ledger.TransferOverflowsDebitsPosted},
		{"overflows credits posted", []ledger.Transfer{{ID: 9, DebitAccountID: Receivable, CreditAccountID: GPO, Amount: big - 1000*dollars}}, 0,
			ledger.Transfer{ID: 10, DebitAccountID: Treasury, CreditAccountID: GPO, Amount: 1000*dollars + 1}, ledger.TransferOverflowsCreditsPosted},
		{"overflows debits", []ledger.Transfer{{ID: 9, DebitAccountID: GPO, CreditAccountID: Funding, Amount: big - 5, Flags: ledger.Pending}}, 0,
			ledger.Transfer{ID: 10, DebitAccountID: GPO, CreditAccountID: Funding, Amount: 10}, ledger.TransferOverflowsDebits},
		{"overflows credits", []ledger.Transfer{{ID: 9, DebitAccountID: Receivable, CreditAccountID: GPO, Amount: big - 5, Flags: ledger.Pending}}, 0,
			ledger.Transfer{ID: 10, DebitAccountID: Treasury, CreditAccountID: GPO, Amount: 10}, ledger.TransferOverflowsCredits},
		{"overflows timeout", nil, 0, pend(10, 100, time.Duration(math.MaxInt64)), ledger.TransferOverflowsTimeout},
		{"exceeds credits", nil, 0, xfer(10, 1000*dollars+1), ledger.TransferExceedsCredits},
		{"exceeds credits counts pending", []ledger.Transfer{pend(9, 600*dollars, 0)}, 0, xfer(10, 400*dollars+1), ledger.TransferExceedsCredits},
		{"exceeds credits before exceeds debits", nil, 0, mod(xfer(10, 1000*dollars+1), func(x *ledger.Transfer) { x.CreditAccountID = Receivable }), ledger.TransferExceedsCredits},
		{"exceeds debits", nil, 0, mod(xfer(10, 1), func(x *ledger.Transfer) { x.DebitAccountID = GPO; x.CreditAccountID = Receivable }), ledger.TransferExceedsDebits},
		{"within the limit", nil, 0, xfer(10, 1000*dollars), ledger.TransferOK},
		{"post needs no limit check", []ledger.Transfer{pend(9, 1000*dollars, 0)}, 0, post(10, 9, 0), ledger.TransferOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nb)
			for _, s := range c.setup {
				f.transfers(ledger.TransferOK)(s)
			}
			f.clk.Add(c.advance)
			res, err := f.b.CreateTransfers(f.ctx, []ledger.Transfer{c.in})
			require.NoError(t, err)
			require.Len(t, res, 1)
			assert.Equal(t, 0, res[0].Index)
			require.Equal(t, c.want.String(), res[0].Code.String())
			if c.want.Ok() {
				assert.NoError(t, res[0].Err())
				return
			}
			err = res[0].Err()
			require.Error(t, err)
			assert.Contains(t, mgmt.FieldOf(err), "transfers[0]")
			assert.Contains(t, mgmt.FieldOf(err), c.want.Field())
			_, ok := lookup(f, c.in.ID)
			if c.want < ledger.TransferExistsWithDifferentFlags || c.want > ledger.TransferExists {
				assert.False(t, ok, "a refused transfer is not stored")
			}
		})
	}
	t.Run("every code is named", func(t *testing.T) {
		seen := map[string]bool{}
		for _, c := range ledger.TransferCodes() {
			assert.NotContains(t, c.String(), "transfer_code(")
			assert.False(t, seen[c.String()], c.String())
			seen[c.String()] = true
		}
	})
}

func lookup(f *fixture, id uint64) (ledger.Transfer, bool) {
	ts, err := f.b.LookupTransfers(f.ctx, []uint64{id})
	require.NoError(f.t, err)
	if len(ts) == 0 {
		return ledger.Transfer{}, false
	}
	return ts[0], true
}
