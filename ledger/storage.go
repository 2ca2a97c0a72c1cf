package ledger

import (
	"context"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// Storage is what a durable backend (SQLite, PostgreSQL) provides to
// [Durable], which runs the rules over it with group commit. Storage only
// stores and finds rows: every decision is the engine's.
//
// Every method takes the caller's context; an error is the storage's
// failure (unavailable, corrupt), never a business outcome.
type Storage interface {
	// Write runs fn in one transaction and commits it durably (synced to
	// disk) when fn returns nil; it rolls back and returns fn's error
	// otherwise. Writes never run concurrently within one Durable, but
	// several processes may share the storage: Tx.Lock serializes them.
	Write(ctx context.Context, fn func(tx Tx) error) error

	// Last returns the latest timestamp the ledger assigned (the zero time
	// for an empty ledger).
	Last(ctx context.Context) (time.Time, error)
	// LookupAccounts returns the accounts found, in the order asked.
	LookupAccounts(ctx context.Context, ids []uint64) ([]Account, error)
	// LookupTransfers returns the transfers found, in the order asked.
	LookupTransfers(ctx context.Context, ids []uint64) ([]Transfer, error)
	// AccountByName returns the account named name; ok is false when there
	// is none.
	AccountByName(ctx context.Context, name string) (a Account, ok bool, err error)
	// ListAccounts returns up to limit accounts with an ID above after, in
	// ID order.
	ListAccounts(ctx context.Context, after uint64, limit int) ([]Account, error)
	// AccountTransfers returns up to limit transfers debiting or crediting
	// account id with a timestamp after after, oldest first.
	AccountTransfers(ctx context.Context, id uint64, after time.Time, limit int) ([]Transfer, error)
	// BalanceAt returns account id's balance at time at in one consistent
	// read: the posted totals just after its last transfer with a
	// timestamp at or before at (the Record's DebitPosted or CreditPosted,
	// whichever side the account was on; zero when there is none), and the
	// Pending transfers debiting or crediting it that were pending at at —
	// created at or before at, not posted or voided by a transfer at or
	// before at, and not expired at at (ExpiresAt zero or after at).
	// Durable never asks for a time after the latest timestamp assigned,
	// and history up to then no longer changes, so the two parts may come
	// from two reads.
	BalanceAt(ctx context.Context, id uint64, at time.Time) (Posted, []Transfer, error)
}

// Tx is one write transaction of a Storage. Reads see the transaction's
// own state; nothing is visible to others until Write commits.
type Tx interface {
	// Lock makes the transaction the only writer of the ledger until it
	// ends (across processes sharing the storage) and returns the latest
	// timestamp assigned. It is called first.
	Lock(ctx context.Context) (last time.Time, err error)
	// Accounts returns the accounts found among ids with their current
	// balances, in any order.
	Accounts(ctx context.Context, ids []uint64) ([]AccountState, error)
	// AccountIDs returns the IDs of the accounts found among names.
	AccountIDs(ctx context.Context, names []string) (map[string]uint64, error)
	// Transfers returns the transfers found among ids with their statuses,
	// in any order.
	Transfers(ctx context.Context, ids []uint64) ([]TransferState, error)
	// PendingDue returns the transfers whose status is StatusPending and
	// whose ExpiresAt is not zero and at or before cutoff.
	PendingDue(ctx context.Context, cutoff time.Time) ([]Transfer, error)
	// Save stores what a group decided. New accounts and transfers are
	// inserted (their IDs are new); balances and statuses replace the
	// stored ones; Last becomes the latest timestamp.
	Save(ctx context.Context, c Commit) error
}

// AccountState is an account with its current balance.
type AccountState struct {
	Account
	Balance Balance
}

// TransferState is a transfer with its status (0 unless it is Pending).
type TransferState struct {
	Transfer
	Status PendingStatus
}

// Posted is an account's posted totals.
type Posted struct {
	Debits  mgmt.Money
	Credits mgmt.Money
}

// Record is a new transfer as a durable backend stores it, with the posted
// totals of its two accounts just after it: what a balance at a point in
// time starts from ([Storage].BalanceAt).
type Record struct {
	Transfer
	DebitPosted  Posted
	CreditPosted Posted
	// Status is the transfer's own status: StatusPending for a new
	// Pending transfer (it may change later in the same Commit's
	// Statuses), 0 for the others.
	Status PendingStatus
}

// Commit is what one group decided, for [Tx].Save.
type Commit struct {
	Accounts  []Account                // new, in timestamp order
	Transfers []Record                 // new, in timestamp order
	Balances  map[uint64]Balance       // the new balances of the accounts touched
	Statuses  map[uint64]PendingStatus // the new statuses of pending transfers, old or new
	Last      time.Time                // the latest timestamp assigned
}
