-- 0004: patch windows and keys, so that the patch loop and every write
-- read the few patches that concern them, not every live patch.

-- The patch's window, as its created and updated are kept: the patch
-- loop lists the live patches whose window ended and the approved ones
-- whose window started. The store fills them in for the patches stored
-- before this migration when it opens the database.
ALTER TABLE patches ADD COLUMN win_start TEXT NOT NULL DEFAULT '';
ALTER TABLE patches ADD COLUMN win_end TEXT NOT NULL DEFAULT '';
CREATE INDEX patches_status_start ON patches (status, win_start);
CREATE INDEX patches_status_end ON patches (status, win_end);

-- The keys the live patches change, so that a write's callback is
-- handed the few live patches its patch.Scope selects (overlapping
-- windows, the same keys) without reading every live patch of the
-- tenant. One row per live patch and key, removed when the patch stops
-- being live.
--
-- Windows in whole seconds since the epoch, widened: start_s at or before
-- the window's start, end_s after its end; span_s = end_s - start_s. The
-- rows of (tenant, change) whose window overlaps [start, end) start in
-- [start - MAX(span_s), end): a range of patch_keys_start, the longest
-- span read from patch_keys_span. The store checks the records it reads
-- against the exact windows.
CREATE TABLE patch_keys (
    patch_id INTEGER NOT NULL REFERENCES patches (id),
    change   TEXT NOT NULL,
    tenant   TEXT NOT NULL,
    service  TEXT NOT NULL,
    start_s  INTEGER NOT NULL,
    end_s    INTEGER NOT NULL,
    span_s   INTEGER NOT NULL,
    PRIMARY KEY (patch_id, change)
) STRICT, WITHOUT ROWID;

CREATE INDEX patch_keys_start ON patch_keys (tenant, change, start_s);
CREATE INDEX patch_keys_span ON patch_keys (tenant, change, span_s);

-- The live patches stored before this migration.
INSERT INTO patch_keys (patch_id, change, tenant, service, start_s, end_s, span_s)
SELECT id, change, tenant, service, start_s, end_s, end_s - start_s
FROM (
    SELECT p.id AS id, c.key AS change, p.tenant AS tenant, p.service AS service,
           unixepoch(json_extract(p.patch, '$.window.start')) - 1 AS start_s,
           unixepoch(json_extract(p.patch, '$.window.end')) + 1 AS end_s
    FROM patches AS p, json_each(p.patch, '$.changes') AS c
    WHERE p.status IN ('QUEUED', 'APPROVED', 'PUBLISHED', 'APPLIED', 'PARTIAL', 'FAILED')
);
