-- 0001: caps, spend records and fired alerts.

-- A cap is budget.Cap as JSON, keyed by its ID. Caps are few and read
-- whole, so the JSON is the only copy.
CREATE TABLE caps (
    id  TEXT PRIMARY KEY,
    cap TEXT NOT NULL
) STRICT;

-- One row per spend record, kept in time order (the table is clustered on
-- (at, id)): new records land at the end, and spend by selector reads the
-- window's rows in one range. IDs are unique: the first record with an ID
-- wins.
--   labels  the record's labels (with the derived fiscalYear) as a JSON
--           object, matched by selectors with json_extract
--   at      the record's time in UTC as "2006-01-02T15:04:05.000000000Z":
--           fixed width, so that it sorts as it orders in time, exact to
--           the nanosecond over the years 1970–9999 that records may have
--           (int64 nanoseconds since 1970 end in 2262)
CREATE TABLE records (
    id           TEXT NOT NULL,
    service      TEXT NOT NULL,
    labels       TEXT NOT NULL,
    amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
    currency     TEXT NOT NULL,
    at           TEXT NOT NULL,
    PRIMARY KEY (at, id)
) STRICT, WITHOUT ROWID;

CREATE UNIQUE INDEX records_id ON records (id);
-- Spend by service reads this index alone.
CREATE INDEX records_service_at ON records (service, at, amount_cents);

-- An alert fires once per cap, period and threshold (the key); seq orders
-- a cap's alerts of a period as they fired. at_s and at_ns are the Unix
-- seconds and nanoseconds of the alert's time, exact for any time.
CREATE TABLE alerts (
    cap_id       TEXT NOT NULL,
    period       TEXT NOT NULL,
    forecast     INTEGER NOT NULL,
    percent      INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    amount_cents INTEGER NOT NULL,
    value_cents  INTEGER NOT NULL,
    at_s         INTEGER NOT NULL,
    at_ns        INTEGER NOT NULL,
    target       TEXT NOT NULL,
    PRIMARY KEY (cap_id, period, forecast, percent)
) STRICT, WITHOUT ROWID;

CREATE UNIQUE INDEX alerts_order ON alerts (cap_id, period, seq);
