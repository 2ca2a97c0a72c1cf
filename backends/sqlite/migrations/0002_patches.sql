-- 0002: patch.Store — patches, their history and acknowledgements, and
-- the host's stream cursors.

-- One row per patch. AUTOINCREMENT: an ID is never reused, even after the
-- highest row is gone. tenant and service repeat the patch's, for List;
-- the patch itself (without its ID) is JSON, its changes typed:
-- {"rate_limit_rps": {"int": "200"}}. Times are UTC text of fixed width
-- ("2006-01-02T15:04:05.000000000Z"), exact to the nanosecond.
CREATE TABLE patches (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant     TEXT NOT NULL,
    service    TEXT NOT NULL,
    status     TEXT NOT NULL,
    patch      TEXT NOT NULL,
    created    TEXT NOT NULL,
    updated    TEXT NOT NULL,
    violations TEXT NOT NULL, -- JSON array of patch.Violation
    targets    TEXT NOT NULL, -- JSON array of agent IDs
    apply_seq  TEXT NOT NULL,
    revert_seq TEXT NOT NULL
) STRICT;

-- A tenant's live patches (every Create and Update) and List by tenant.
CREATE INDEX patches_tenant_status ON patches (tenant, status, id);
-- List by status across tenants (the scheduler's QUEUED, PUBLISHED…).
CREATE INDEX patches_status ON patches (status, id);
-- List by service.
CREATE INDEX patches_service ON patches (service, id);

-- The status transitions of a patch, n = 0, 1, 2… in order. Append-only.
CREATE TABLE patch_history (
    patch_id    INTEGER NOT NULL REFERENCES patches (id),
    n           INTEGER NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    at          TEXT NOT NULL,
    reason      TEXT NOT NULL,
    PRIMARY KEY (patch_id, n)
) STRICT, WITHOUT ROWID;

-- The latest acknowledgement of each agent for each op of a patch: an
-- Update writes the acks it added or changed, not the others.
CREATE TABLE patch_acks (
    patch_id     INTEGER NOT NULL REFERENCES patches (id),
    agent        TEXT NOT NULL,
    op           TEXT NOT NULL,
    tenant       TEXT NOT NULL,
    ack_patch_id INTEGER NOT NULL, -- the ack's own PatchID, kept as sent
    seq          TEXT NOT NULL,
    status       TEXT NOT NULL,
    version      TEXT NOT NULL,
    revision     INTEGER NOT NULL,
    hash         TEXT NOT NULL,
    error        TEXT NOT NULL,
    at           TEXT NOT NULL,
    PRIMARY KEY (patch_id, agent, op)
) STRICT, WITHOUT ROWID;

-- Named positions: the host's place in each acknowledgement stream.
CREATE TABLE patch_cursors (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;
