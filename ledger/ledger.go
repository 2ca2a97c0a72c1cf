package ledger

import (
	"context"
	"math"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// MaxID is reserved, as zero is: neither is a valid account or transfer ID.
const MaxID = math.MaxUint64

// AccountFlags are an account's balance limits.
type AccountFlags uint16

// Account flags. At most one of them may be set.
const (
	// DebitsMustNotExceedCredits: debits_pending + debits_posted must not
	// exceed credits_posted (an asset the agency may not overdraw).
	DebitsMustNotExceedCredits AccountFlags = 1 << iota
	// CreditsMustNotExceedDebits: credits_pending + credits_posted must not
	// exceed debits_posted.
	CreditsMustNotExceedDebits
)

// BankAccountType is the kind of an external bank account.
type BankAccountType string

// The bank account types.
const (
	Checking BankAccountType = "checking"
	Savings  BankAccountType = "savings"
)

// Bank is an account's optional external bank account, where settlement
// goes.
type Bank struct {
	RoutingNumber string          // ABA routing number, 9 digits with a valid check digit
	AccountNumber string          // 1 to 17 digits or letters, as NACHA allows
	AccountType   BankAccountType // Checking or Savings
}

// Account is a ledger account of one agency (the tenant). Its fields are set
// when it is created and never change; its balances live in [Balance].
type Account struct {
	ID       uint64
	Name     string // unique in the ledger, such as "Treasury" or "GPO"
	Agency   string // the tenant that owns the account
	Currency string // always mgmt.Currency ("USD")
	Flags    AccountFlags
	Bank     *Bank // optional
	Code     uint16
	UserData uint64

	Timestamp time.Time // assigned by the ledger
}

// Balance is an account's balance at a point in time. Every field is a sum
// of non-negative amounts.
type Balance struct {
	AccountID      uint64
	DebitsPending  mgmt.Money
	DebitsPosted   mgmt.Money
	CreditsPending mgmt.Money
	CreditsPosted  mgmt.Money
}

// TransferFlags mark linked, pending and resolving transfers.
type TransferFlags uint16

// Transfer flags.
const (
	// Linked chains the transfer to the next one in the batch: the chain
	// succeeds or fails as a whole.
	Linked TransferFlags = 1 << iota
	// Pending reserves the amount (pending debits and credits) until it is
	// posted, voided or expires.
	Pending
	// PostPending posts the pending transfer PendingID, in full (Amount 0)
	// or in part.
	PostPending
	// VoidPending voids the pending transfer PendingID, releasing it.
	VoidPending
)

const knownTransferFlags = Linked | Pending | PostPending | VoidPending
const knownAccountFlags = DebitsMustNotExceedCredits | CreditsMustNotExceedDebits

// Transfer moves Amount from DebitAccountID to CreditAccountID. ID is chosen
// by the client and is the idempotency key. Transfers are immutable.
//
// For PostPending and VoidPending, DebitAccountID, CreditAccountID and
// Amount may be zero: they are taken from the pending transfer (a post's
// Amount 0 posts the full pending amount). The stored transfer has them
// filled in, and the stored Amount is the amount actually posted or voided.
type Transfer struct {
	ID              uint64
	DebitAccountID  uint64
	CreditAccountID uint64
	Amount          mgmt.Money
	PendingID       uint64        // for PostPending and VoidPending
	Timeout         time.Duration // for Pending; 0 never expires
	Flags           TransferFlags
	Code            uint16 // the client's reason code, free for its use
	UserData        uint64 // free for the client's use, e.g. an invoice number

	Timestamp time.Time // assigned by the ledger; must be zero on create
}

// ExpiresAt is when a pending transfer with a timeout expires; the zero time
// when it never does.
func (t Transfer) ExpiresAt() time.Time {
	if t.Flags&Pending == 0 || t.Timeout == 0 {
		return time.Time{}
	}
	return t.Timestamp.Add(t.Timeout)
}

// PendingStatus is the state of a pending transfer.
type PendingStatus uint8

// Pending statuses.
const (
	StatusPending PendingStatus = iota + 1
	StatusPosted
	StatusVoided
	StatusExpired
)

var statusNames = [...]string{"", "pending", "posted", "voided", "expired"}

func (s PendingStatus) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "unknown"
}

// AccountResult is the outcome of one account of a CreateAccounts batch.
type AccountResult struct {
	Index int
	Code  AccountCode
}

// TransferResult is the outcome of one transfer of a CreateTransfers batch.
type TransferResult struct {
	Index int
	Code  TransferCode
}

// Err returns nil for ok and exists, else an *mgmt.Error naming the field
// ("transfers[3].amount").
func (r TransferResult) Err() error { return r.Code.err("transfers", r.Index) }

// Err returns nil for ok and exists, else an *mgmt.Error naming the field.
func (r AccountResult) Err() error { return r.Code.err("accounts", r.Index) }

// AccountFilter selects an account's transfers, oldest first, one page at a
// time.
type AccountFilter struct {
	AccountID uint64
	// After is the cursor: only transfers with a later timestamp. Zero
	// starts at the beginning; pass the previous Page's Next to go on.
	After time.Time
	// Limit is the page size; 0 means DefaultPageSize, at most MaxPageSize.
	Limit int
}

// Page sizes.
const (
	DefaultPageSize = 100
	MaxPageSize     = 8190
)

// Page is one page of an account's transfers.
type Page struct {
	Transfers []Transfer
	// Next is the cursor of the next page; the zero time when this page
	// is the last.
	Next time.Time
}

// Backend is durable accounts and transfers with idempotency: the seam the
// design calls LedgerBackend. Per-item results come back in the slices; the
// error is for the call as a whole (the store is unavailable, the context
// ended, the batch is malformed) and carries an mgmt kind.
type Backend interface {
	CreateAccounts(ctx context.Context, accounts []Account) ([]AccountResult, error)
	CreateTransfers(ctx context.Context, transfers []Transfer) ([]TransferResult, error)
	// LookupAccounts returns the accounts found, in the order asked;
	// missing IDs are left out.
	LookupAccounts(ctx context.Context, ids []uint64) ([]Account, error)
	// LookupTransfers returns the transfers found, in the order asked.
	LookupTransfers(ctx context.Context, ids []uint64) ([]Transfer, error)
	// Balance returns the account's balance at time at (inclusive), or now
	// when at is zero. An unknown account is a KindNotFound error.
	Balance(ctx context.Context, id uint64, at time.Time) (Balance, error)
	// AccountTransfers returns a page of the account's transfers.
	AccountTransfers(ctx context.Context, filter AccountFilter) (Page, error)
	// AccountByName returns the account with that name; an unknown name is
	// a KindNotFound error with field "name".
	AccountByName(ctx context.Context, name string) (Account, error)
	// ListAccounts returns up to limit accounts (0 means DefaultPageSize, at
	// most MaxPageSize) with an ID above after, in ID order.
	ListAccounts(ctx context.Context, after uint64, limit int) ([]Account, error)
}

// MaxBatch is the largest batch CreateAccounts and CreateTransfers take.
const MaxBatch = 8190
