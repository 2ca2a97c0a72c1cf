package ledger

import (
	"fmt"

	mgmt "github.com/hms-platform/mgmt"
)

// TransferCode is the result of one transfer. The codes carry TigerBeetle's
// names and are listed in order of precedence: when several apply, the first
// listed is returned. TransferOK and TransferExists are successes (exists
// has no effect); every other code means the transfer was not created.
//
// The precedence is TigerBeetle's (create_transfers, 0.16): the chain
// codes, the request's own shape (timestamp, flags, id), then an existing
// transfer with the same ID (exists_with_different_* in the order flags,
// pending_id, timeout, debit, credit, amount, user data, code; else exists),
// then the fields, the accounts, the pending transfer, overflows and last
// the balance limits. Where this ledger differs:
//
//   - Amount is a signed mgmt.Money: a negative amount is
//     amount_must_not_be_negative, and zero is amount_must_not_be_zero for
//     single-phase and pending transfers (moving nothing is a mistake here).
//     For PostPending, 0 posts the full pending amount; for VoidPending the
//     amount is 0 or the pending amount (else
//     pending_transfer_has_different_amount). A negative timeout is
//     timeout_must_not_be_negative; 0 never expires.
//   - exists counts as success inside a linked chain too, so that retrying
//     a committed chain answers exists for every event.
//   - The ledger has one currency per account instead of TigerBeetle's
//     ledger number: accounts_must_have_the_same_currency stands for
//     accounts_must_have_the_same_ledger.
//   - Left out, because the fields or features do not exist here: imported
//     events and their timestamp codes, ledger_must_not_be_zero,
//     code_must_not_be_zero (Code is optional), the balancing_* and
//     closing_* flags, pending_transfer_has_different_ledger/_code,
//     transfer_must_have_the_same_ledger_as_accounts, account closing, and
//     id_already_failed (a transfer refused for a transient reason, such as
//     exceeds_credits, may be retried with the same ID and succeed later).
//   - A post or void may leave DebitAccountID and CreditAccountID zero;
//     when it gives them they must match the pending transfer's. On a
//     retry, their zero (and a post's zero amount when the full amount was
//     posted) matches what was stored.
type TransferCode uint8

// Transfer result codes, in order of precedence.
const (
	TransferOK TransferCode = iota
	TransferLinkedEventFailed
	TransferLinkedEventChainOpen
	TransferTimestampMustBeZero
	TransferReservedFlag
	TransferIDMustNotBeZero
	TransferIDMustNotBeIntMax
	TransferExistsWithDifferentFlags
	TransferExistsWithDifferentPendingID
	TransferExistsWithDifferentTimeout
	TransferExistsWithDifferentDebitAccountID
	TransferExistsWithDifferentCreditAccountID
	TransferExistsWithDifferentAmount
	TransferExistsWithDifferentUserData
	TransferExistsWithDifferentCode
	TransferExists
	TransferFlagsAreMutuallyExclusive
	TransferDebitAccountIDMustNotBeZero
	TransferDebitAccountIDMustNotBeIntMax
	TransferCreditAccountIDMustNotBeZero
	TransferCreditAccountIDMustNotBeIntMax
	TransferAccountsMustBeDifferent
	TransferPendingIDMustBeZero
	TransferPendingIDMustNotBeZero
	TransferPendingIDMustNotBeIntMax
	TransferPendingIDMustBeDifferent
	TransferTimeoutReservedForPendingTransfer
	TransferTimeoutMustNotBeNegative
	TransferAmountMustNotBeNegative
	TransferAmountMustNotBeZero
	TransferDebitAccountNotFound
	TransferCreditAccountNotFound
	TransferAccountsMustHaveTheSameCurrency
	TransferPendingTransferNotFound
	TransferPendingTransferNotPending
	TransferPendingTransferHasDifferentDebitAccountID
	TransferPendingTransferHasDifferentCreditAccountID
	TransferExceedsPendingTransferAmount
	TransferPendingTransferHasDifferentAmount
	TransferPendingTransferAlreadyPosted
	TransferPendingTransferAlreadyVoided
	TransferPendingTransferExpired
	TransferOverflowsDebitsPending
	TransferOverflowsCreditsPending
	TransferOverflowsDebitsPosted
	TransferOverflowsCreditsPosted
	TransferOverflowsDebits
	TransferOverflowsCredits
	TransferOverflowsTimeout
	TransferExceedsCredits
	TransferExceedsDebits
	numTransferCodes
)

var transferCodes = [numTransferCodes]struct{ name, field string }{
	TransferOK:                                         {"ok", ""},
	TransferLinkedEventFailed:                          {"linked_event_failed", "flags"},
	TransferLinkedEventChainOpen:                       {"linked_event_chain_open", "flags"},
	TransferTimestampMustBeZero:                        {"timestamp_must_be_zero", "timestamp"},
	TransferReservedFlag:                               {"reserved_flag", "flags"},
	TransferIDMustNotBeZero:                            {"id_must_not_be_zero", "id"},
	TransferIDMustNotBeIntMax:                          {"id_must_not_be_int_max", "id"},
	TransferExistsWithDifferentFlags:                   {"exists_with_different_flags", "flags"},
	TransferExistsWithDifferentPendingID:               {"exists_with_different_pending_id", "pendingID"},
	TransferExistsWithDifferentTimeout:                 {"exists_with_different_timeout", "timeout"},
	TransferExistsWithDifferentDebitAccountID:          {"exists_with_different_debit_account_id", "debitAccountID"},
	TransferExistsWithDifferentCreditAccountID:         {"exists_with_different_credit_account_id", "creditAccountID"},
	TransferExistsWithDifferentAmount:                  {"exists_with_different_amount", "amount"},
	TransferExistsWithDifferentUserData:                {"exists_with_different_user_data", "userData"},
	TransferExistsWithDifferentCode:                    {"exists_with_different_code", "code"},
	TransferExists:                                     {"exists", ""},
	TransferFlagsAreMutuallyExclusive:                  {"flags_are_mutually_exclusive", "flags"},
	TransferDebitAccountIDMustNotBeZero:                {"debit_account_id_must_not_be_zero", "debitAccountID"},
	TransferDebitAccountIDMustNotBeIntMax:              {"debit_account_id_must_not_be_int_max", "debitAccountID"},
	TransferCreditAccountIDMustNotBeZero:               {"credit_account_id_must_not_be_zero", "creditAccountID"},
	TransferCreditAccountIDMustNotBeIntMax:             {"credit_account_id_must_not_be_int_max", "creditAccountID"},
	TransferAccountsMustBeDifferent:                    {"accounts_must_be_different", "creditAccountID"},
	TransferPendingIDMustBeZero:                        {"pending_id_must_be_zero", "pendingID"},
	TransferPendingIDMustNotBeZero:                     {"pending_id_must_not_be_zero", "pendingID"},
	TransferPendingIDMustNotBeIntMax:                   {"pending_id_must_not_be_int_max", "pendingID"},
	TransferPendingIDMustBeDifferent:                   {"pending_id_must_be_different", "pendingID"},
	TransferTimeoutReservedForPendingTransfer:          {"timeout_reserved_for_pending_transfer", "timeout"},
	TransferTimeoutMustNotBeNegative:                   {"timeout_must_not_be_negative", "timeout"},
	TransferAmountMustNotBeNegative:                    {"amount_must_not_be_negative", "amount"},
	TransferAmountMustNotBeZero:                        {"amount_must_not_be_zero", "amount"},
	TransferDebitAccountNotFound:                       {"debit_account_not_found", "debitAccountID"},
	TransferCreditAccountNotFound:                      {"credit_account_not_found", "creditAccountID"},
	TransferAccountsMustHaveTheSameCurrency:            {"accounts_must_have_the_same_currency", "creditAccountID"},
	TransferPendingTransferNotFound:                    {"pending_transfer_not_found", "pendingID"},
	TransferPendingTransferNotPending:                  {"pending_transfer_not_pending", "pendingID"},
	TransferPendingTransferHasDifferentDebitAccountID:  {"pending_transfer_has_different_debit_account_id", "debitAccountID"},
	TransferPendingTransferHasDifferentCreditAccountID: {"pending_transfer_has_different_credit_account_id", "creditAccountID"},
	TransferExceedsPendingTransferAmount:               {"exceeds_pending_transfer_amount", "amount"},
	TransferPendingTransferHasDifferentAmount:          {"pending_transfer_has_different_amount", "amount"},
	TransferPendingTransferAlreadyPosted:               {"pending_transfer_already_posted", "pendingID"},
	TransferPendingTransferAlreadyVoided:               {"pending_transfer_already_voided", "pendingID"},
	TransferPendingTransferExpired:                     {"pending_transfer_expired", "pendingID"},
	TransferOverflowsDebitsPending:                     {"overflows_debits_pending", "amount"},
	TransferOverflowsCreditsPending:                    {"overflows_credits_pending", "amount"},
	TransferOverflowsDebitsPosted:                      {"overflows_debits_posted", "amount"},
	TransferOverflowsCreditsPosted:                     {"overflows_credits_posted", "amount"},
	TransferOverflowsDebits:                            {"overflows_debits", "amount"},
	TransferOverflowsCredits:                           {"overflows_credits", "amount"},
	TransferOverflowsTimeout:                           {"overflows_timeout", "timeout"},
	TransferExceedsCredits:                             {"exceeds_credits", "amount"},
	TransferExceedsDebits:                              {"exceeds_debits", "amount"},
}

// String returns TigerBeetle's name of the code, such as "exceeds_credits".
func (c TransferCode) String() string {
	if c < numTransferCodes {
		return transferCodes[c].name
	}
	return fmt.Sprintf("transfer_code(%d)", uint8(c))
}

// Field returns the name of the transfer field the code is about, or "".
func (c TransferCode) Field() string {
	if c < numTransferCodes {
		return transferCodes[c].field
	}
	return ""
}

// Ok reports whether the transfer was created or already existed as given.
func (c TransferCode) Ok() bool { return c == TransferOK || c == TransferExists }

// TransferCodes returns every transfer code in order of precedence.
func TransferCodes() []TransferCode {
	cs := make([]TransferCode, numTransferCodes)
	for i := range cs {
		cs[i] = TransferCode(i)
	}
	return cs
}

func (c TransferCode) err(list string, i int) error {
	if c.Ok() {
		return nil
	}
	field := fmt.Sprintf("%s[%d]", list, i)
	if f := c.Field(); f != "" {
		field += "." + f
	}
	return mgmt.Errorf(c.kind(), field, "%s", c)
}

func (c TransferCode) kind() mgmt.Kind {
	switch c {
	case TransferDebitAccountNotFound, TransferCreditAccountNotFound, TransferPendingTransferNotFound:
		return mgmt.KindNotFound
	case TransferLinkedEventFailed, TransferPendingTransferNotPending, TransferPendingTransferAlreadyPosted,
		TransferPendingTransferAlreadyVoided, TransferPendingTransferExpired, TransferExceedsCredits, TransferExceedsDebits:
		return mgmt.KindConflict
	}
	if c >= TransferExistsWithDifferentFlags && c < TransferExists {
		return mgmt.KindConflict
	}
	return mgmt.KindInvalid
}

// AccountCode is the result of one account, in order of precedence.
type AccountCode uint8

// Account result codes, in order of precedence.
const (
	AccountOK AccountCode = iota
	AccountTimestampMustBeZero
	AccountReservedFlag
	AccountIDMustNotBeZero
	AccountIDMustNotBeIntMax
	AccountExistsWithDifferentFlags
	AccountExistsWithDifferentName
	AccountExistsWithDifferentAgency
	AccountExistsWithDifferentCurrency
	AccountExistsWithDifferentBank
	AccountExistsWithDifferentUserData
	AccountExistsWithDifferentCode
	AccountExists
	AccountFlagsAreMutuallyExclusive
	AccountNameMustNotBeEmpty
	AccountAgencyMustNotBeEmpty
	AccountCurrencyNotSupported
	AccountRoutingNumberInvalid
	AccountBankAccountNumberInvalid
	AccountBankAccountTypeInvalid
	AccountNameAlreadyUsed
	numAccountCodes
)

var accountCodes = [numAccountCodes]struct{ name, field string }{
	AccountOK:                          {"ok", ""},
	AccountTimestampMustBeZero:         {"timestamp_must_be_zero", "timestamp"},
	AccountReservedFlag:                {"reserved_flag", "flags"},
	AccountIDMustNotBeZero:             {"id_must_not_be_zero", "id"},
	AccountIDMustNotBeIntMax:           {"id_must_not_be_int_max", "id"},
	AccountExistsWithDifferentFlags:    {"exists_with_different_flags", "flags"},
	AccountExistsWithDifferentName:     {"exists_with_different_name", "name"},
	AccountExistsWithDifferentAgency:   {"exists_with_different_agency", "agency"},
	AccountExistsWithDifferentCurrency: {"exists_with_different_currency", "currency"},
	AccountExistsWithDifferentBank:     {"exists_with_different_bank", "bank"},
	AccountExistsWithDifferentUserData: {"exists_with_different_user_data", "userData"},
	AccountExistsWithDifferentCode:     {"exists_with_different_code", "code"},
	AccountExists:                      {"exists", ""},
	AccountFlagsAreMutuallyExclusive:   {"flags_are_mutually_exclusive", "flags"},
	AccountNameMustNotBeEmpty:          {"name_must_not_be_empty", "name"},
	AccountAgencyMustNotBeEmpty:        {"agency_must_not_be_empty", "agency"},
	AccountCurrencyNotSupported:        {"currency_not_supported", "currency"},
	AccountRoutingNumberInvalid:        {"routing_number_invalid", "bank.routingNumber"},
	AccountBankAccountNumberInvalid:    {"bank_account_number_invalid", "bank.accountNumber"},
	AccountBankAccountTypeInvalid:      {"bank_account_type_invalid", "bank.accountType"},
	AccountNameAlreadyUsed:             {"name_already_used", "name"},
}

// String returns the code's name, such as "name_already_used".
func (c AccountCode) String() string {
	if c < numAccountCodes {
		return accountCodes[c].name
	}
	return fmt.Sprintf("account_code(%d)", uint8(c))
}

// Field returns the name of the account field the code is about, or "".
func (c AccountCode) Field() string {
	if c < numAccountCodes {
		return accountCodes[c].field
	}
	return ""
}

// Ok reports whether the account was created or already existed as given.
func (c AccountCode) Ok() bool { return c == AccountOK || c == AccountExists }

func (c AccountCode) err(list string, i int) error {
	if c.Ok() {
		return nil
	}
	field := fmt.Sprintf("%s[%d]", list, i)
	if f := c.Field(); f != "" {
		field += "." + f
	}
	kind := mgmt.KindInvalid
	if c == AccountNameAlreadyUsed || (c >= AccountExistsWithDifferentFlags && c < AccountExists) {
		kind = mgmt.KindConflict
	}
	return mgmt.Errorf(kind, field, "%s", c)
}
