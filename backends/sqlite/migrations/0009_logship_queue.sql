-- 0009: logship.Queue in segments. An Enqueue stores its records as one
-- segment row (a blob); a record is copied to a row of its own only when
-- it needs one (a retry, a dead letter, or part of its segment acked).
-- The depth is kept by the queue's own statements, once per write,
-- instead of per-row triggers.

-- Every queued record has a sequence number (seq), in enqueue order.

-- One row per enqueued batch: its records, seq to last (a duplicate ID
-- leaves a gap), n of them, bytes their logship.Record.Size total, data
-- their encoding (see backends/sqlite/logship.go). A segment is whole:
-- every record in it is waiting, never tried.
CREATE TABLE logship_seg (
    seq   INTEGER PRIMARY KEY,
    last  INTEGER NOT NULL,
    n     INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    data  BLOB    NOT NULL
) STRICT;

-- One row per record out of its segment, with its delivery state:
-- attempts counts the failed deliveries; next_at_ns (Unix nanoseconds by
-- the Shipper's clock) hides it until it is due again.
CREATE TABLE logship_rec (
    seq        INTEGER PRIMARY KEY,
    id         TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    at_ns      INTEGER NOT NULL,
    level      TEXT    NOT NULL,
    message    TEXT    NOT NULL,
    attrs      TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at_ns INTEGER NOT NULL DEFAULT 0,
    last_error TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX logship_rec_due ON logship_rec (next_at_ns, seq);

-- The IDs of the queued records, for an ID to be queued once and for
-- acks, retries and dead letters by ID: each ID with the seq it was
-- stored at. An ack or a dead letter leaves its entry, stale (its seq no
-- longer queued); the entries go by table, in two generations: new IDs
-- go to the current one (logship_state.gen), and the other is emptied
-- whole, once none of its records is queued, when the current one has
-- grown (see backends/sqlite/logship.go).
CREATE TABLE logship_ids0 (
    id  TEXT    PRIMARY KEY,
    seq INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE logship_ids1 (
    id  TEXT    PRIMARY KEY,
    seq INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- The queue's depth, the next sequence number, the current generation of
-- IDs (0 or 1), the first seq stored in it, and how many IDs it holds.
CREATE TABLE logship_state (
    one       INTEGER PRIMARY KEY CHECK (one = 1),
    rows      INTEGER NOT NULL,
    bytes     INTEGER NOT NULL,
    next_seq  INTEGER NOT NULL,
    gen       INTEGER NOT NULL CHECK (gen IN (0, 1)),
    gen_start INTEGER NOT NULL,
    gen_ids   INTEGER NOT NULL
) STRICT;

-- The records queued under 0006 become rows of their own, state kept.
INSERT INTO logship_rec (seq, id, kind, at_ns, level, message, attrs, size, attempts, next_at_ns, last_error)
SELECT seq, id, kind, at_ns, level, message, attrs, size, attempts, next_at_ns, last_error FROM logship_queue;
INSERT INTO logship_ids0 (id, seq) SELECT id, seq FROM logship_queue;
INSERT INTO logship_state (one, rows, bytes, next_seq, gen, gen_start, gen_ids)
SELECT 1, COUNT(*), COALESCE(SUM(size), 0), COALESCE(MAX(seq), 0) + 1, 0, 0, COUNT(*) FROM logship_queue;

DROP TRIGGER logship_queue_insert;
DROP TRIGGER logship_queue_delete;
DROP TABLE logship_queue;
DROP TABLE logship_depth;
