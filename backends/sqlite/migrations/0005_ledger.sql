-- 0005: ledger.Storage — accounts with their balances, immutable
-- transfers with the running posted totals of their two accounts, and the
-- latest timestamp the ledger assigned.
--
-- IDs and user data are uint64, kept as the int64 of the same 64 bits:
-- IDs below 2^63 read as themselves, larger ones as negative numbers (the
-- store orders them after the others where uint64 order matters).
-- Timestamps, timeouts and expiries are int64 nanoseconds (since the Unix
-- epoch, UTC), exact for the years 1678–2262. Money is int64 cents.

-- One row per account; balances are the current ones, replaced by each
-- group that touches the account. bank_routing is NULL when the account
-- has no bank account (its three columns are set together or not at all).
CREATE TABLE ledger_accounts (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    agency          TEXT NOT NULL,
    currency        TEXT NOT NULL,
    flags           INTEGER NOT NULL,
    bank_routing    TEXT,
    bank_account    TEXT,
    bank_type       TEXT,
    code            INTEGER NOT NULL,
    user_data       INTEGER NOT NULL,
    ts              INTEGER NOT NULL,
    debits_pending  INTEGER NOT NULL DEFAULT 0,
    debits_posted   INTEGER NOT NULL DEFAULT 0,
    credits_pending INTEGER NOT NULL DEFAULT 0,
    credits_posted  INTEGER NOT NULL DEFAULT 0
) STRICT;

-- One row per transfer that succeeded, never changed but for status.
--   pending_id   0 unless the transfer posts or voids one
--   expires_at   ts + timeout of a pending transfer with a timeout, else
--                NULL
--   status       0, or the ledger.PendingStatus of a pending transfer
--   dr_*, cr_*   the posted totals of the debit and of the credit account
--                just after this transfer: a balance at a point in time
--                starts from the last of them at or before it
CREATE TABLE ledger_transfers (
    id                INTEGER PRIMARY KEY,
    debit_id          INTEGER NOT NULL,
    credit_id         INTEGER NOT NULL,
    amount            INTEGER NOT NULL,
    pending_id        INTEGER NOT NULL,
    timeout           INTEGER NOT NULL,
    flags             INTEGER NOT NULL,
    code              INTEGER NOT NULL,
    user_data         INTEGER NOT NULL,
    ts                INTEGER NOT NULL UNIQUE,
    expires_at        INTEGER,
    status            INTEGER NOT NULL,
    dr_debits_posted  INTEGER NOT NULL,
    dr_credits_posted INTEGER NOT NULL,
    cr_debits_posted  INTEGER NOT NULL,
    cr_credits_posted INTEGER NOT NULL
) STRICT;

-- An account's history (AccountTransfers) and its posted totals at a time
-- (PostedAt), one index per side.
CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_id, ts);
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_id, ts);
-- The pending transfers due to expire (PendingDue): pending ones only.
CREATE INDEX ledger_transfers_due ON ledger_transfers (expires_at) WHERE status = 1;
-- An account's pending transfers of any status (PendingAt), and the post
-- or void that resolved one.
CREATE INDEX ledger_transfers_pending_debit ON ledger_transfers (debit_id, ts) WHERE flags & 2 <> 0;
CREATE INDEX ledger_transfers_pending_credit ON ledger_transfers (credit_id, ts) WHERE flags & 2 <> 0;
CREATE INDEX ledger_transfers_resolves ON ledger_transfers (pending_id) WHERE pending_id <> 0;

-- One row: the latest timestamp the ledger assigned, NULL while the
-- ledger is empty.
CREATE TABLE ledger_meta (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    last INTEGER
) STRICT;
INSERT INTO ledger_meta (id, last) VALUES (1, NULL);
