package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/scaler"
)

// RuleStore is a scaler.RuleStore in a SQLite database: the tables rules,
// rule_labels, rule_status and rules_counter. Get one from (*Store).Rules;
// it is safe for concurrent use, by every process that opens the file.
//
// Every write is one transaction (BEGIN IMMEDIATE) on the database's one
// write connection: it checks what it must (the service is free, the
// version is the stored one) and writes under SQLite's write lock, so
// writers in other processes wait for it and then see its result. The
// one-row table rules_counter holds the next ID number and the revision,
// both moved in the write's transaction: IDs are never given twice, by
// any process, even after a delete. Reads go to the read pool.
//
// A rule is stored as its JSON (scaler.Rule.MarshalJSON) and read back
// with scaler.DecodeRule, whose strict decoding costs tens of
// microseconds a rule: each RuleStore keeps the rules it decoded, by
// document, so that listing thousands of rules again decodes only those
// that changed. Search by service and labels is SQL; by name (a
// substring, ignoring case) it is scaler.Filter.Match on the names the
// query returns, before their rules are decoded.
type RuleStore struct {
	s     *Store
	cache ruleCache
}

var _ scaler.RuleStore = (*RuleStore)(nil)

// Rules returns the scaler.RuleStore kept in s's database. It shares s's
// connections: s.Close closes it.
// Keep the one RuleStore: each holds a cache of decoded rules.
func (s *Store) Rules() *RuleStore { return &RuleStore{s: s} }

// CreateRule implements scaler.RuleStore. It returns the rule as stored:
// as a read of it returns it.
func (rs *RuleStore) CreateRule(ctx context.Context, r scaler.Rule) (scaler.Rule, error) {
	const op = "create rule"
	if err := checkCtx(ctx, op); err != nil {
		return scaler.Rule{}, err
	}
	r = r.Clone()
	if err := r.Validate(); err != nil {
		return scaler.Rule{}, err
	}
	explicit := 0
	if r.ID != "" {
		n, ok := scaler.ParseRuleID(r.ID)
		if !ok {
			return scaler.Rule{}, mgmt.Invalid("id", "%q is not a rule ID like AR-1", r.ID)
		}
		explicit = n
	}
	doc, err := encodeRule(r)
	if err != nil {
		return scaler.Rule{}, err
	}
	var id int64 // the new rule's
	err = rs.s.write(ctx, op, func(tx *sql.Tx) error {
		var next int64
		if err := tx.QueryRowContext(ctx, `SELECT next_id FROM rules_counter WHERE one = 1`).Scan(&next); err != nil {
			return err
		}
		if err := serviceFree(ctx, tx, r.Service, 0); err != nil {
			return err
		}
		n := next
		if explicit != 0 {
			n = int64(explicit)
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM rules WHERE id = ?`, n).Scan(&one)
			if err == nil {
				return mgmt.Conflict("id", "rule %s already exists", r.ID)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO rules (id, service, name, version, rule) VALUES (?, ?, ?, 1, ?)`,
			n, r.Service, r.Name, string(doc)); err != nil {
			return err
		}
		if err := insertLabels(ctx, tx, n, r.Labels); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE rules_counter SET next_id = MAX(next_id, ?), revision = revision + 1 WHERE one = 1`, n+1); err != nil {
			return err
		}
		id = n
		return nil
	})
	if err != nil {
		return scaler.Rule{}, err
	}
	return rs.cache.decode(id, 1, doc)
}

// UpdateRule implements scaler.RuleStore. It returns the rule as stored.
func (rs *RuleStore) UpdateRule(ctx context.Context, r scaler.Rule) (scaler.Rule, error) {
	const op = "update rule"
	if err := checkCtx(ctx, op); err != nil {
		return scaler.Rule{}, err
	}
	r = r.Clone()
	if err := r.Validate(); err != nil {
		return scaler.Rule{}, err
	}
	n, ok := scaler.ParseRuleID(r.ID)
	if !ok {
		return scaler.Rule{}, mgmt.NotFound("id", "no rule %s", r.ID)
	}
	doc, err := encodeRule(r)
	if err != nil {
		return scaler.Rule{}, err
	}
	var version int64 // the updated rule's
	err = rs.s.write(ctx, op, func(tx *sql.Tx) error {
		var stored int64
		err := tx.QueryRowContext(ctx, `SELECT version FROM rules WHERE id = ?`, n).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			return mgmt.NotFound("id", "no rule %s", r.ID)
		}
		if err != nil {
			return err
		}
		if r.Version != 0 && r.Version != stored {
			return staleVersion(r.ID, r.Version, stored)
		}
		if err := serviceFree(ctx, tx, r.Service, n); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE rules SET service = ?, name = ?, version = ?, rule = ? WHERE id = ?`,
			r.Service, r.Name, stored+1, string(doc), n); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM rule_labels WHERE rule_id = ?`, n); err != nil {
			return err
		}
		if err := insertLabels(ctx, tx, int64(n), r.Labels); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE rules_counter SET revision = revision + 1 WHERE one = 1`); err != nil {
			return err
		}
		version = stored + 1
		return nil
	})
	if err != nil {
		return scaler.Rule{}, err
	}
	return rs.cache.decode(int64(n), version, doc)
}

// DeleteRule implements scaler.RuleStore. The rule's labels and status go
// with it (ON DELETE CASCADE).
func (rs *RuleStore) DeleteRule(ctx context.Context, id string) error {
	const op = "delete rule"
	if err := checkCtx(ctx, op); err != nil {
		return err
	}
	n, ok := scaler.ParseRuleID(id)
	if !ok {
		return mgmt.NotFound("id", "no rule %s", id)
	}
	return rs.s.write(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM rules WHERE id = ?`, n)
		if err != nil {
			return err
		}
		if k, err := res.RowsAffected(); err != nil {
			return err
		} else if k == 0 {
			return mgmt.NotFound("id", "no rule %s", id)
		}
		_, err = tx.ExecContext(ctx, `UPDATE rules_counter SET revision = revision + 1 WHERE one = 1`)
		return err
	})
}

// Rule implements scaler.RuleStore.
func (rs *RuleStore) Rule(ctx context.Context, id string) (scaler.Rule, error) {
	const op = "rule"
	if err := checkCtx(ctx, op); err != nil {
		return scaler.Rule{}, err
	}
	n, ok := scaler.ParseRuleID(id)
	if !ok {
		return scaler.Rule{}, mgmt.NotFound("id", "no rule %q", id)
	}
	var (
		version int64
		doc     []byte
	)
	err := rs.s.r.QueryRowContext(ctx, `SELECT version, rule FROM rules WHERE id = ?`, n).Scan(&version, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return scaler.Rule{}, mgmt.NotFound("id", "no rule %s", id)
	}
	if err != nil {
		return scaler.Rule{}, rs.s.fail(ctx, op+" "+id, err)
	}
	return rs.cache.decode(int64(n), version, doc)
}

// Rules implements scaler.RuleStore.
func (rs *RuleStore) Rules(ctx context.Context, f scaler.Filter) ([]scaler.Rule, error) {
	const op = "rules"
	if err := checkCtx(ctx, op); err != nil {
		return nil, err
	}
	var (
		q    strings.Builder
		args []any
	)
	q.WriteString(`SELECT id, name, version, rule FROM rules WHERE true`)
	if f.Service != "" {
		q.WriteString(` AND service = ?`)
		args = append(args, f.Service)
	}
	for k, v := range f.Labels {
		q.WriteString(` AND id IN (SELECT rule_id FROM rule_labels WHERE key = ? AND value = ?)`)
		args = append(args, k, v)
	}
	q.WriteString(` ORDER BY id`)
	rows, err := rs.s.r.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, rs.s.fail(ctx, op, err)
	}
	defer rows.Close()
	byName := scaler.Filter{Name: f.Name}
	out := []scaler.Rule{}
	for rows.Next() {
		var (
			n, version int64
			name       string
			doc        []byte
		)
		if err := rows.Scan(&n, &name, &version, &doc); err != nil {
			return nil, rs.s.fail(ctx, op, err)
		}
		if !byName.Match(&scaler.Rule{Name: name}) {
			continue
		}
		r, err := rs.cache.decode(n, version, doc)
		if err != nil {
			return nil, err
		}
		if f.Match(&r) {
			out = append(out, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, rs.s.fail(ctx, op, err)
	}
	return out, nil
}

// Revision implements scaler.RuleStore.
func (rs *RuleStore) Revision(ctx context.Context) (int64, error) {
	const op = "rules revision"
	if err := checkCtx(ctx, op); err != nil {
		return 0, err
	}
	var rev int64
	if err := rs.s.r.QueryRowContext(ctx, `SELECT revision FROM rules_counter WHERE one = 1`).Scan(&rev); err != nil {
		return 0, rs.s.fail(ctx, op, err)
	}
	return rev, nil
}

// SaveStatuses implements scaler.RuleStore, in one transaction. A status
// for a rule that is not stored is dropped.
func (rs *RuleStore) SaveStatuses(ctx context.Context, statuses map[string][]byte) error {
	const op = "save rule statuses"
	if err := checkCtx(ctx, op); err != nil {
		return err
	}
	if len(statuses) == 0 {
		return nil
	}
	return rs.s.write(ctx, op, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO rule_status (rule_id, status)
SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM rules WHERE id = ?1)
ON CONFLICT (rule_id) DO UPDATE SET status = excluded.status`)
		if err != nil {
			return err
		}
		defer st.Close()
		for id, b := range statuses {
			n, ok := scaler.ParseRuleID(id)
			if !ok {
				continue
			}
			if b == nil {
				b = []byte{}
			}
			if _, err := st.ExecContext(ctx, n, b); err != nil {
				return err
			}
		}
		return nil
	})
}

// Statuses implements scaler.RuleStore.
func (rs *RuleStore) Statuses(ctx context.Context, ids []string) (map[string][]byte, error) {
	const op = "rule statuses"
	if err := checkCtx(ctx, op); err != nil {
		return nil, err
	}
	nums := make([]int, 0, len(ids))
	for _, id := range ids {
		if n, ok := scaler.ParseRuleID(id); ok {
			nums = append(nums, n)
		}
	}
	out := make(map[string][]byte, len(nums))
	if len(nums) == 0 {
		return out, nil
	}
	list, err := json.Marshal(nums)
	if err != nil {
		return nil, rs.s.fail(ctx, op, err)
	}
	rows, err := rs.s.r.QueryContext(ctx, `SELECT rule_id, status FROM rule_status
WHERE rule_id IN (SELECT value FROM json_each(?))`, string(list))
	if err != nil {
		return nil, rs.s.fail(ctx, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			n int64
			b []byte
		)
		if err := rows.Scan(&n, &b); err != nil {
			return nil, rs.s.fail(ctx, op, err)
		}
		if b == nil {
			b = []byte{}
		}
		out[ruleID(n)] = b
	}
	if err := rows.Err(); err != nil {
		return nil, rs.s.fail(ctx, op, err)
	}
	return out, nil
}

// serviceFree returns a conflict on "service" when a rule other than
// except (an ID number; 0: none) has service.
func serviceFree(ctx context.Context, tx *sql.Tx, service string, except int) error {
	var other int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM rules WHERE service = ? AND id != ?`, service, except).Scan(&other)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	return mgmt.Conflict("service", "service %q already has rule %s", service, ruleID(other))
}

func insertLabels(ctx context.Context, tx *sql.Tx, n int64, labels mgmt.Labels) error {
	for k, v := range labels {
		if _, err := tx.ExecContext(ctx, `INSERT INTO rule_labels (rule_id, key, value) VALUES (?, ?, ?)`, n, k, v); err != nil {
			return err
		}
	}
	return nil
}

func ruleID(n int64) string { return "AR-" + strconv.FormatInt(n, 10) }

// encodeRule returns r's JSON without its ID and version, which are
// columns of their own.
func encodeRule(r scaler.Rule) ([]byte, error) {
	r.ID, r.Version = "", 0
	b, err := r.MarshalJSON()
	if err != nil {
		return nil, mgmt.Errorf(mgmt.KindInternal, "", "sqlite: encode rule: %w", err)
	}
	return b, nil
}

// ruleCache holds rules decoded from their stored documents, by
// document: the same bytes always decode to the same rule, so an entry is
// never stale, only unused. It is cleared when it reaches maxCachedRules.
type ruleCache struct {
	mu    sync.Mutex
	rules map[string]scaler.Rule // by document; ID and Version unset
}

// maxCachedRules bounds a ruleCache: documents are a few KiB at most.
const maxCachedRules = 16384

// decode reads back a rule that encodeRule wrote, as rule n at version.
func (c *ruleCache) decode(n, version int64, doc []byte) (scaler.Rule, error) {
	c.mu.Lock()
	r, ok := c.rules[string(doc)]
	c.mu.Unlock()
	if !ok {
		var err error
		if r, err = scaler.DecodeRule(bytes.NewReader(doc)); err != nil {
			return scaler.Rule{}, mgmt.Errorf(mgmt.KindInternal, "", "sqlite: rule %s is stored damaged: %w", ruleID(n), err)
		}
		c.mu.Lock()
		if c.rules == nil || len(c.rules) >= maxCachedRules {
			c.rules = map[string]scaler.Rule{}
		}
		c.rules[string(doc)] = r
		c.mu.Unlock()
	}
	r = r.Clone()
	r.ID, r.Version = ruleID(n), version
	return r, nil
}

// staleVersion is the conflict of an update made from an old read.
func staleVersion(id string, got, stored int64) error {
	return mgmt.Conflict("version", "is %d, but rule %s is at version %d: it changed since it was read; read it again and reapply the change", got, id, stored)
}
