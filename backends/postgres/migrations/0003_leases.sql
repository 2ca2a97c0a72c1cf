-- lease.Lock: one row per lease name, its holder and its expiry. Expiries
-- are by the server's clock (clock_timestamp()), never a host's, so that
-- hosts need not agree on the time of day. A released lease's row is
-- deleted; an expired one stays until another holder takes it.
CREATE TABLE mgmt_leases (
	name       text        PRIMARY KEY,
	holder     text        NOT NULL,
	expires_at timestamptz NOT NULL
);
