-- ledger.Storage: accounts with their balances, immutable transfers with
-- the running posted totals of their two accounts, and the ledger's last
-- timestamp (ledger_meta, whose one row is also the ledger's writer lock).
--
-- Every uint64 (account and transfer IDs, user_data) is stored in a bigint
-- as v - 2^63, its bit pattern with the top bit flipped: signed order is
-- then unsigned order, so ListAccounts pages by ID with the primary key.
-- ledger_uint64(col) shows the uint64 (as numeric) for ad-hoc queries, and
-- ledger_id(numeric) encodes one. Timestamps are Unix nanoseconds in a
-- bigint: timestamptz holds microseconds, and the ledger assigns
-- timestamps one nanosecond apart. Amounts and balances are int64 cents.

CREATE FUNCTION ledger_uint64(v bigint) RETURNS numeric
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	AS 'SELECT v::numeric + 9223372036854775808';

CREATE FUNCTION ledger_id(u numeric) RETURNS bigint
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	AS 'SELECT (u - 9223372036854775808)::bigint';

CREATE TABLE ledger_accounts (
	id              bigint PRIMARY KEY,
	name            text   COLLATE "C" NOT NULL UNIQUE,
	agency          text   NOT NULL,
	currency        text   NOT NULL,
	flags           integer NOT NULL,
	-- The external bank account: all three set, or all three NULL.
	bank_routing    text,
	bank_account    text,
	bank_type       text,
	code            integer NOT NULL,
	user_data       bigint NOT NULL,
	ts              bigint NOT NULL UNIQUE,
	debits_pending  bigint NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
	debits_posted   bigint NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
	credits_pending bigint NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
	credits_posted  bigint NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
	CHECK ((bank_routing IS NULL) = (bank_account IS NULL) AND (bank_routing IS NULL) = (bank_type IS NULL))
);

-- Transfers never change but for status (a Pending transfer's: 1 pending,
-- 2 posted, 3 voided, 4 expired; 0 for the others). pending_id is NULL
-- for none; expires_at (ts + timeout) is set for Pending transfers with a
-- timeout. dr_* are the debit account's posted totals just after the
-- transfer, cr_* the credit account's: a balance at a point in time reads
-- them from the account's last transfer by then.
CREATE TABLE ledger_transfers (
	id                bigint   PRIMARY KEY,
	debit             bigint   NOT NULL,
	credit            bigint   NOT NULL,
	amount            bigint   NOT NULL CHECK (amount >= 0),
	pending_id        bigint,
	timeout           bigint   NOT NULL CHECK (timeout >= 0),
	flags             integer  NOT NULL,
	code              integer  NOT NULL,
	user_data         bigint   NOT NULL,
	ts                bigint   NOT NULL UNIQUE,
	expires_at        bigint,
	status            smallint NOT NULL DEFAULT 0 CHECK (status BETWEEN 0 AND 4),
	dr_debits_posted  bigint   NOT NULL CHECK (dr_debits_posted >= 0),
	dr_credits_posted bigint   NOT NULL CHECK (dr_credits_posted >= 0),
	cr_debits_posted  bigint   NOT NULL CHECK (cr_debits_posted >= 0),
	cr_credits_posted bigint   NOT NULL CHECK (cr_credits_posted >= 0)
);
-- An account's transfers by time (AccountTransfers, PostedAt, PendingAt).
CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit, ts);
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit, ts);
-- An account's Pending transfers by time (PendingAt).
CREATE INDEX ledger_transfers_debit_pending ON ledger_transfers (debit, ts) WHERE flags & 2 <> 0;
CREATE INDEX ledger_transfers_credit_pending ON ledger_transfers (credit, ts) WHERE flags & 2 <> 0;
-- The pending transfers due to expire (PendingDue).
CREATE INDEX ledger_transfers_due ON ledger_transfers (expires_at) WHERE status = 1;
-- The posts and voids of a pending transfer (PendingAt).
CREATE INDEX ledger_transfers_pending_id ON ledger_transfers (pending_id) WHERE pending_id IS NOT NULL;

-- One row: the latest timestamp assigned (NULL for an empty ledger). A
-- group's transaction locks it first (SELECT … FOR UPDATE): the ledger
-- has one writer at a time across every process sharing the database.
CREATE TABLE ledger_meta (
	one  boolean PRIMARY KEY DEFAULT true CHECK (one),
	last bigint
);
INSERT INTO ledger_meta DEFAULT VALUES;
