// Package ledger is a double-entry ledger of agency accounts with
// TigerBeetle's transfer semantics: client-chosen transfer IDs are
// idempotency keys with precise exists_with_different_* results, linked
// chains succeed or fail as a whole, two-phase transfers reserve an amount
// (pending, with an optional timeout) and are posted or voided exactly once,
// balance-limit flags refuse overdrafts, the ledger assigns strictly
// increasing timestamps, history is immutable and balances can be read at any
// point in time.
//
// The rules live in one place, [ApplyTransfers] and [ApplyAccounts], a pure state machine over a read-only
// [Store]; a [Backend] (the design's LedgerBackend) drives it over its own
// storage and persists the [Changes] it returns. [Memory] is the in-memory
// backend. [Durable] is the backend over a [Storage] — SQLite and
// PostgreSQL, in backends/sqlite and backends/postgres — with group commit:
// the batches of concurrent callers are decided together and committed in
// one transaction, one sync to disk, as TigerBeetle batches. Package
// ledgertest holds the conformance suite every backend passes.
//
// Time: the ledger reads an injected clock ([Options].Clock). A transfer's
// timestamp is the clock's time, or one nanosecond after the previous
// timestamp when the clock has not moved on, so timestamps are strictly
// increasing and unique. A pending transfer with a timeout expires at its
// timestamp + timeout: from then on posting or voiding it is
// pending_transfer_expired and its amount no longer counts as pending, both
// in the current balance and in a balance at any later time.
//
// IDs are uint64 (0 and math.MaxUint64 are reserved, as in TigerBeetle).
// Amounts and balances are [mgmt.Money], integer cents; every sum is
// overflow-checked and an overflow is a result code, never a wrap.
//
// Concurrency: a Memory is safe for concurrent use by multiple goroutines;
// batches are applied one at a time (serializably) under one lock, and
// lookups see whole batches only. ApplyAccounts, ApplyTransfers, Expire and
// BalanceAt hold no state and may be called concurrently over distinct
// Stores; a backend must serialize the batches applied to one Store.
//
// Example:
//
//	clk := clock.NewMock()
//	l, _ := ledger.NewMemory(ledger.Options{Clock: clk})
//	l.CreateAccounts(ctx, []ledger.Account{{ID: 1, Name: "Treasury", Agency: "treasury", Currency: "USD"},
//		{ID: 2, Name: "GPO", Agency: "gpo", Currency: "USD"}})
//	res, _ := l.CreateTransfers(ctx, []ledger.Transfer{{ID: 100, DebitAccountID: 1, CreditAccountID: 2, Amount: 25_000_000}})
//	// res[0].Code == ledger.TransferOK
package ledger
