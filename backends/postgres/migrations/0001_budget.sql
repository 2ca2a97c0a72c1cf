-- budget.Store: caps, spend records and fired alerts.

-- A cap is its JSON (budget.Cap), as the HTTP API reads and writes it.
CREATE TABLE budget_caps (
	id   text  PRIMARY KEY,
	body jsonb NOT NULL
);

-- Spend records. Times keep Go's nanoseconds: at is the time truncated to
-- the microsecond (timestamptz's precision), at_ns the nanoseconds past it.
CREATE TABLE budget_spend (
	id           text        PRIMARY KEY,
	service      text        NOT NULL,
	labels       jsonb       NOT NULL DEFAULT '{}',
	amount_cents bigint      NOT NULL CHECK (amount_cents >= 0),
	currency     text        NOT NULL,
	at           timestamptz NOT NULL,
	at_ns        smallint    NOT NULL DEFAULT 0 CHECK (at_ns BETWEEN 0 AND 999)
);
CREATE INDEX budget_spend_service_at ON budget_spend (service, at);
-- labels @> '{"program": "eligibility"}' for selector caps.
CREATE INDEX budget_spend_labels ON budget_spend USING gin (labels jsonb_path_ops);

-- Fired alerts: one per cap, period and threshold; seq keeps the order
-- they fired in.
CREATE TABLE budget_alerts (
	seq          bigserial   NOT NULL UNIQUE,
	cap_id       text        NOT NULL,
	period       text        NOT NULL,
	forecast     boolean     NOT NULL,
	percent      bigint      NOT NULL,
	amount_cents bigint      NOT NULL,
	value_cents  bigint      NOT NULL,
	at           timestamptz NOT NULL,
	at_ns        smallint    NOT NULL DEFAULT 0 CHECK (at_ns BETWEEN 0 AND 999),
	target       text        NOT NULL,
	PRIMARY KEY (cap_id, period, forecast, percent)
);
