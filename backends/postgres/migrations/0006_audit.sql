-- 0007: the audit chain (auditlog.Store) — its entries and its signed
-- checkpoints. Version 6 is the logship branch's.

-- One row per entry, seq from 1 with no gap. event is the canonical
-- encoding of the event (auditlog.Canonical: one line of JSON, keys
-- sorted); prev_hash and hash are the 32-byte SHA-256 chain hashes.
-- Nothing here is ever updated or deleted: auditlog.Verify finds it if
-- anything is.
CREATE TABLE audit_entries (
    seq       bigint PRIMARY KEY CHECK (seq > 0),
    event     text   NOT NULL,
    prev_hash bytea  NOT NULL,
    hash      bytea  NOT NULL
);

-- One row per checkpoint: the chain's hash at seq, when it was signed
-- (Unix nanoseconds) and the Ed25519 signature of
-- auditlog.CheckpointMessage(seq, hash, at).
CREATE TABLE audit_checkpoints (
    seq       bigint PRIMARY KEY,
    hash      bytea  NOT NULL,
    at_ns     bigint NOT NULL,
    signature bytea  NOT NULL
);
