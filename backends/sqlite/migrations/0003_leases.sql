-- 0003: lease.Lock — one row per lease name, its holder and its expiry.

-- expires_us is the expiry in Unix microseconds by the clock of the host
-- (SQLite is one host's store). A released lease's row is deleted; an
-- expired one stays until another holder takes it.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_us INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
