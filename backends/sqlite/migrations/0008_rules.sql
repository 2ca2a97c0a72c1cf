-- 0008: the autoscale rules (scaler.RuleStore) and each rule's status.

-- One row per rule. id is the number n of the rule's ID "AR-n"; rule is
-- the rule's JSON (scaler.Rule.MarshalJSON) without its ID and version,
-- which are the columns; service and name repeat the JSON's, for one rule
-- per service and for search.
CREATE TABLE rules (
    id      INTEGER PRIMARY KEY CHECK (id > 0),
    service TEXT    NOT NULL UNIQUE,
    name    TEXT    NOT NULL,
    version INTEGER NOT NULL CHECK (version > 0),
    rule    TEXT    NOT NULL
) STRICT;

-- The labels of each rule, for search by label.
CREATE TABLE rule_labels (
    rule_id INTEGER NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
    key     TEXT    NOT NULL,
    value   TEXT    NOT NULL,
    PRIMARY KEY (rule_id, key)
) STRICT, WITHOUT ROWID;

CREATE INDEX rule_labels_by_value ON rule_labels (key, value, rule_id);

-- One row: the number of the next ID to give (never lowered, so that an
-- ID is never given twice, even after its rule is deleted) and the
-- revision, one more at every write of a rule. Both move in the write's
-- transaction.
CREATE TABLE rules_counter (
    one      INTEGER PRIMARY KEY CHECK (one = 1),
    next_id  INTEGER NOT NULL,
    revision INTEGER NOT NULL
) STRICT;

INSERT INTO rules_counter (one, next_id, revision) VALUES (1, 1, 0);

-- The status of each rule, an opaque document the Controller encodes;
-- deleted with its rule.
CREATE TABLE rule_status (
    rule_id INTEGER PRIMARY KEY REFERENCES rules (id) ON DELETE CASCADE,
    status  BLOB    NOT NULL
) STRICT;
