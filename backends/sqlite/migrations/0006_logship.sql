-- 0006: logship.Queue — the durable buffer of log records and audit events
-- on their way to a search cluster, and the dead letters.

-- One row per queued record, in enqueue order (seq). attempts counts the
-- failed deliveries; next_at_ns (Unix nanoseconds by the Shipper's clock)
-- hides a record until it is due again. size is logship.Record.Size, for
-- the byte bound.
CREATE TABLE logship_queue (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    at_ns      INTEGER NOT NULL,
    level      TEXT NOT NULL,
    message    TEXT NOT NULL,
    attrs      TEXT NOT NULL,
    size       INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at_ns INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX logship_queue_due ON logship_queue (next_at_ns, seq);

-- Records that will never be delivered, with the reason; the oldest go
-- first past the queue's MaxDead.
CREATE TABLE logship_dead (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    at_ns      INTEGER NOT NULL,
    level      TEXT NOT NULL,
    message    TEXT NOT NULL,
    attrs      TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    dead_at_ns INTEGER NOT NULL
) STRICT;

-- The queue's depth, kept by triggers in the transactions that change
-- the queue: the bound check of an enqueue reads one row.
CREATE TABLE logship_depth (
    one   INTEGER PRIMARY KEY CHECK (one = 1),
    rows  INTEGER NOT NULL,
    bytes INTEGER NOT NULL
) STRICT;
INSERT INTO logship_depth (one, rows, bytes) VALUES (1, 0, 0);

CREATE TRIGGER logship_queue_insert AFTER INSERT ON logship_queue BEGIN
    UPDATE logship_depth SET rows = rows + 1, bytes = bytes + NEW.size WHERE one = 1;
END;
CREATE TRIGGER logship_queue_delete AFTER DELETE ON logship_queue BEGIN
    UPDATE logship_depth SET rows = rows - 1, bytes = bytes - OLD.size WHERE one = 1;
END;
