-- Patch windows and keys, so that the patch loop and every write read the
-- few patches that concern them, not every live patch.

-- The patch's window as UTC text of fixed width
-- ("2006-01-02T15:04:05.000000000Z", byte order = time order): the patch
-- loop lists the live patches whose window ended and the approved ones
-- whose window started. The store fills them in for the patches stored
-- before this migration when it opens the database.
ALTER TABLE patches ADD COLUMN win_start text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE patches ADD COLUMN win_end text COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX patches_status_start ON patches (status, win_start);
CREATE INDEX patches_status_end ON patches (status, win_end);

-- The keys the live patches change, so that a write's callback is handed
-- the few live patches its patch.Scope selects (overlapping windows, the
-- same keys) without reading every live patch of the tenant. One row per
-- live patch and key, removed when the patch stops being live.
--
-- Windows in whole seconds since the epoch, widened: start_s at or before
-- the window's start, end_s at or after its end; span_s = end_s - start_s.
-- The rows of (tenant, change) whose window overlaps [start, end) start in
-- [start - span, end), span the longest of theirs: a range of
-- patch_keys_start, span read from patch_key_spans. The store checks the
-- records it reads against the exact windows.
CREATE TABLE patch_keys (
	patch_id bigint NOT NULL REFERENCES patches (id),
	change   text   NOT NULL,
	tenant   text   NOT NULL,
	service  text   NOT NULL,
	start_s  bigint NOT NULL,
	end_s    bigint NOT NULL,
	span_s   bigint NOT NULL,
	PRIMARY KEY (patch_id, change)
);
CREATE INDEX patch_keys_start ON patch_keys (tenant, change, start_s);

-- The longest span_s of each tenant's and change's rows, ever: it only
-- grows, a bound that stays true when rows go. (An index on span_s would
-- answer max() exactly, but the planner takes it for the range scans of
-- patch_keys_start when the table has no statistics yet.)
CREATE TABLE patch_key_spans (
	tenant text   NOT NULL,
	change text   NOT NULL,
	span_s bigint NOT NULL,
	PRIMARY KEY (tenant, change)
);

-- The live patches stored before this migration.
INSERT INTO patch_keys (patch_id, change, tenant, service, start_s, end_s, span_s)
SELECT id, change, tenant, service, start_s, end_s, end_s - start_s
FROM (
	SELECT p.id, c.key AS change, p.tenant, p.service,
	       floor(extract(epoch FROM (p.patch->'window'->>'start')::timestamptz))::bigint - 1 AS start_s,
	       floor(extract(epoch FROM (p.patch->'window'->>'end')::timestamptz))::bigint + 1 AS end_s
	FROM patches AS p, json_each(p.patch->'changes') AS c
	WHERE p.status IN ('QUEUED', 'APPROVED', 'PUBLISHED', 'APPLIED', 'PARTIAL', 'FAILED')
) AS k;

INSERT INTO patch_key_spans (tenant, change, span_s)
SELECT tenant, change, max(span_s) FROM patch_keys GROUP BY tenant, change;
