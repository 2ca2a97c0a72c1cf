-- 0007: the autoscale rules (scaler.RuleStore) and each rule's status.

-- One row per rule. id is the number n of the rule's ID "AR-n"; rule is
-- the rule's JSON (scaler.Rule.MarshalJSON) without its ID and version,
-- which are the columns; service, name and labels repeat the JSON's, for
-- one rule per service and for search (labels @> a filter's labels).
CREATE TABLE mgmt_rules (
    id      bigint PRIMARY KEY CHECK (id > 0),
    service text   NOT NULL CONSTRAINT mgmt_rules_service_key UNIQUE,
    name    text   NOT NULL,
    version bigint NOT NULL CHECK (version > 0),
    labels  jsonb  NOT NULL DEFAULT '{}',
    rule    text   NOT NULL
);

CREATE INDEX mgmt_rules_labels ON mgmt_rules USING gin (labels jsonb_path_ops);

-- One row: the number of the next ID to give (never lowered, so that an
-- ID is never given twice, even after its rule is deleted) and the
-- revision, one more at every write of a rule. Every write of a rule
-- locks this row first and moves it in its transaction: the writes of
-- every host take turns.
CREATE TABLE mgmt_rules_counter (
    one      integer PRIMARY KEY CHECK (one = 1),
    next_id  bigint  NOT NULL,
    revision bigint  NOT NULL
);

INSERT INTO mgmt_rules_counter (one, next_id, revision) VALUES (1, 1, 0);

-- The status of each rule, an opaque document the Controller encodes;
-- deleted with its rule.
CREATE TABLE mgmt_rule_status (
    id     bigint PRIMARY KEY REFERENCES mgmt_rules (id) ON DELETE CASCADE,
    status bytea  NOT NULL
);
