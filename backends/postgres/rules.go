package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/scaler"
)

// RuleStore is a scaler.RuleStore on PostgreSQL: the tables mgmt_rules,
// mgmt_rule_status and mgmt_rules_counter. Get one from (*Store).Rules; it
// is safe for concurrent use, by every host of a deployment at once.
//
// Every write of a rule is one transaction that first locks the one row
// of mgmt_rules_counter (SELECT … FOR UPDATE), which holds the next ID
// number and the revision: the writes of every host take turns, each sees
// the ones before it (READ COMMITTED: every statement reads what has
// committed), and IDs are never given twice, even after a delete.
// Statuses are saved in one statement that locks the rules it writes for
// (FOR SHARE), so that a rule deleted meanwhile loses its status.
//
// A rule is stored as its JSON (scaler.Rule.MarshalJSON) and read back
// with scaler.DecodeRule, whose strict decoding costs tens of
// microseconds a rule: each RuleStore keeps the rules it decoded, by
// document, so that listing thousands of rules again decodes only those
// that changed. Search by service and labels (jsonb containment) is SQL;
// by name (a substring, ignoring case) it is scaler.Filter.Match on the
// names the query returns, before their rules are decoded.
type RuleStore struct {
	s     *Store
	cache ruleCache
}

var _ scaler.RuleStore = (*RuleStore)(nil)

// Rules returns the scaler.RuleStore kept in s's database. It shares s's
// pool: s.Close closes it. Keep the one RuleStore: each holds a cache of
// decoded rules.
func (s *Store) Rules() *RuleStore { return &RuleStore{s: s} }

// CreateRule implements scaler.RuleStore. It returns the rule as stored:
// as a read of it returns it.
func (rs *RuleStore) CreateRule(ctx context.Context, r scaler.Rule) (scaler.Rule, error) {
	const op = "create rule"
	if err := rs.s.ready(ctx, op); err != nil {
		return scaler.Rule{}, err
	}
	r = r.Clone()
	if err := r.Validate(); err != nil {
		return scaler.Rule{}, err
	}
	var explicit int64
	if r.ID != "" {
		n, ok := scaler.ParseRuleID(r.ID)
		if !ok {
			return scaler.Rule{}, mgmt.Invalid("id", "%q is not a rule ID like AR-1", r.ID)
		}
		explicit = int64(n)
	}
	doc, labels, err := encodeRule(r)
	if err != nil {
		return scaler.Rule{}, err
	}
	var id int64 // the new rule's
	err = rs.write(ctx, op, func(tx pgx.Tx) error {
		var next int64
		if err := tx.QueryRow(ctx, `SELECT next_id FROM mgmt_rules_counter WHERE one = 1 FOR UPDATE`).Scan(&next); err != nil {
			return err
		}
		if err := serviceFree(ctx, tx, r.Service, 0); err != nil {
			return err
		}
		id = next
		if explicit != 0 {
			id = explicit
			var one int
			err := tx.QueryRow(ctx, `SELECT 1 FROM mgmt_rules WHERE id = $1`, id).Scan(&one)
			if err == nil {
				return mgmt.Conflict("id", "rule %s already exists", r.ID)
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO mgmt_rules (id, service, name, version, labels, rule) VALUES ($1, $2, $3, 1, $4, $5)`,
			id, r.Service, r.Name, labels, string(doc)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE mgmt_rules_counter SET next_id = greatest(next_id, $1), revision = revision + 1 WHERE one = 1`, id+1)
		return err
	})
	if err != nil {
		return scaler.Rule{}, err
	}
	return rs.cache.decode(id, 1, doc)
}

// UpdateRule implements scaler.RuleStore. It returns the rule as stored.
func (rs *RuleStore) UpdateRule(ctx context.Context, r scaler.Rule) (scaler.Rule, error) {
	const op = "update rule"
	if err := rs.s.ready(ctx, op); err != nil {
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
	doc, labels, err := encodeRule(r)
	if err != nil {
		return scaler.Rule{}, err
	}
	var version int64 // the updated rule's
	err = rs.write(ctx, op, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM mgmt_rules_counter WHERE one = 1 FOR UPDATE`); err != nil {
			return err
		}
		var stored int64
		err := tx.QueryRow(ctx, `SELECT version FROM mgmt_rules WHERE id = $1`, n).Scan(&stored)
		if errors.Is(err, pgx.ErrNoRows) {
			return mgmt.NotFound("id", "no rule %s", r.ID)
		}
		if err != nil {
			return err
		}
		if r.Version != 0 && r.Version != stored {
			return staleVersion(r.ID, r.Version, stored)
		}
		if err := serviceFree(ctx, tx, r.Service, int64(n)); err != nil {
			return err
		}
		version = stored + 1
		if _, err := tx.Exec(ctx, `UPDATE mgmt_rules SET service = $1, name = $2, version = $3, labels = $4, rule = $5 WHERE id = $6`,
			r.Service, r.Name, version, labels, string(doc), n); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE mgmt_rules_counter SET revision = revision + 1 WHERE one = 1`)
		return err
	})
	if err != nil {
		return scaler.Rule{}, err
	}
	return rs.cache.decode(int64(n), version, doc)
}

// DeleteRule implements scaler.RuleStore. The rule's status goes with it
// (ON DELETE CASCADE).
func (rs *RuleStore) DeleteRule(ctx context.Context, id string) error {
	const op = "delete rule"
	if err := rs.s.ready(ctx, op); err != nil {
		return err
	}
	n, ok := scaler.ParseRuleID(id)
	if !ok {
		return mgmt.NotFound("id", "no rule %s", id)
	}
	return rs.write(ctx, op, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM mgmt_rules_counter WHERE one = 1 FOR UPDATE`); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM mgmt_rules WHERE id = $1`, n)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return mgmt.NotFound("id", "no rule %s", id)
		}
		_, err = tx.Exec(ctx, `UPDATE mgmt_rules_counter SET revision = revision + 1 WHERE one = 1`)
		return err
	})
}

// Rule implements scaler.RuleStore.
func (rs *RuleStore) Rule(ctx context.Context, id string) (scaler.Rule, error) {
	const op = "rule"
	if err := rs.s.ready(ctx, op); err != nil {
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
	err := rs.s.pool.QueryRow(ctx, `SELECT version, rule FROM mgmt_rules WHERE id = $1`, n).Scan(&version, &doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return scaler.Rule{}, mgmt.NotFound("id", "no rule %s", id)
	}
	if err != nil {
		return scaler.Rule{}, wrap(ctx, op+" "+id, err)
	}
	return rs.cache.decode(int64(n), version, doc)
}

// Rules implements scaler.RuleStore.
func (rs *RuleStore) Rules(ctx context.Context, f scaler.Filter) ([]scaler.Rule, error) {
	const op = "rules"
	if err := rs.s.ready(ctx, op); err != nil {
		return nil, err
	}
	var labels []byte // NULL: any
	if len(f.Labels) > 0 {
		var err error
		if labels, err = json.Marshal(f.Labels); err != nil {
			return nil, wrap(ctx, op, err)
		}
	}
	rows, err := rs.s.pool.Query(ctx, `SELECT id, name, version, rule FROM mgmt_rules
WHERE ($1 = '' OR service = $1) AND ($2::jsonb IS NULL OR labels @> $2::jsonb)
ORDER BY id`, f.Service, labels)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	defer rows.Close()
	byName := scaler.Filter{Name: f.Name}
	out := []scaler.Rule{}
	var (
		n, version int64
		name       string
		doc        []byte
	)
	for rows.Next() {
		if err := rows.Scan(&n, &name, &version, &doc); err != nil {
			return nil, wrap(ctx, op, err)
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
		return nil, wrap(ctx, op, err)
	}
	return out, nil
}

// Revision implements scaler.RuleStore.
func (rs *RuleStore) Revision(ctx context.Context) (int64, error) {
	const op = "rules revision"
	if err := rs.s.ready(ctx, op); err != nil {
		return 0, err
	}
	var rev int64
	if err := rs.s.pool.QueryRow(ctx, `SELECT revision FROM mgmt_rules_counter WHERE one = 1`).Scan(&rev); err != nil {
		return 0, wrap(ctx, op, err)
	}
	return rev, nil
}

// SaveStatuses implements scaler.RuleStore, in one statement. A status
// for a rule that is not stored is dropped.
func (rs *RuleStore) SaveStatuses(ctx context.Context, statuses map[string][]byte) error {
	const op = "save rule statuses"
	if err := rs.s.ready(ctx, op); err != nil {
		return err
	}
	ids := make([]int64, 0, len(statuses))
	byNum := make(map[int64][]byte, len(statuses))
	for id, b := range statuses {
		if n, ok := scaler.ParseRuleID(id); ok {
			ids = append(ids, int64(n))
			if b == nil {
				b = []byte{}
			}
			byNum[int64(n)] = b
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids) // rows locked in one order, by every saver
	docs := make([][]byte, len(ids))
	for i, n := range ids {
		docs[i] = byNum[n]
	}
	_, err := rs.s.pool.Exec(ctx, `WITH s AS (SELECT * FROM unnest($1::bigint[], $2::bytea[]) AS s (id, status)),
live AS (SELECT id FROM mgmt_rules WHERE id = ANY ($1::bigint[]) ORDER BY id FOR SHARE)
INSERT INTO mgmt_rule_status (id, status)
SELECT s.id, s.status FROM s JOIN live USING (id) ORDER BY s.id
ON CONFLICT (id) DO UPDATE SET status = excluded.status`, ids, docs)
	return rs.fail(ctx, op, err)
}

// Statuses implements scaler.RuleStore.
func (rs *RuleStore) Statuses(ctx context.Context, ids []string) (map[string][]byte, error) {
	const op = "rule statuses"
	if err := rs.s.ready(ctx, op); err != nil {
		return nil, err
	}
	nums := make([]int64, 0, len(ids))
	for _, id := range ids {
		if n, ok := scaler.ParseRuleID(id); ok {
			nums = append(nums, int64(n))
		}
	}
	out := make(map[string][]byte, len(nums))
	if len(nums) == 0 {
		return out, nil
	}
	rows, err := rs.s.pool.Query(ctx, `SELECT id, status FROM mgmt_rule_status WHERE id = ANY ($1::bigint[])`, nums)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			n int64
			b []byte
		)
		if err := rows.Scan(&n, &b); err != nil {
			return nil, wrap(ctx, op, err)
		}
		if b == nil {
			b = []byte{}
		}
		out[ruleID(n)] = b
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, op, err)
	}
	return out, nil
}

// write runs f in a transaction and gives its error a kind.
func (rs *RuleStore) write(ctx context.Context, op string, f func(tx pgx.Tx) error) error {
	return rs.fail(ctx, op, pgx.BeginFunc(ctx, rs.s.pool, f))
}

// fail keeps the kind of an error that has one, makes a unique violation
// on mgmt_rules a conflict, and wraps anything else.
func (rs *RuleStore) fail(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var me *mgmt.Error
	if errors.As(err, &me) && ctx.Err() == nil {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		switch pgErr.ConstraintName {
		case "mgmt_rules_service_key":
			return mgmt.Conflict("service", "postgres: %s: another rule has the service: %w", op, err)
		case "mgmt_rules_pkey":
			return mgmt.Conflict("id", "postgres: %s: the rule ID is taken: %w", op, err)
		}
	}
	return wrap(ctx, op, err)
}

// serviceFree returns a conflict on "service" when a rule other than
// except (an ID number; 0: none) has service.
func serviceFree(ctx context.Context, tx pgx.Tx, service string, except int64) error {
	var other int64
	err := tx.QueryRow(ctx, `SELECT id FROM mgmt_rules WHERE service = $1 AND id <> $2`, service, except).Scan(&other)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	return mgmt.Conflict("service", "service %q already has rule %s", service, ruleID(other))
}

func ruleID(n int64) string { return "AR-" + strconv.FormatInt(n, 10) }

// encodeRule returns r's JSON without its ID and version, which are
// columns of their own, and its labels' JSON object.
func encodeRule(r scaler.Rule) (doc, labels []byte, err error) {
	r.ID, r.Version = "", 0
	if doc, err = r.MarshalJSON(); err != nil {
		return nil, nil, mgmt.Errorf(mgmt.KindInternal, "", "postgres: encode rule: %w", err)
	}
	l := r.Labels
	if l == nil {
		l = mgmt.Labels{}
	}
	if labels, err = json.Marshal(l); err != nil {
		return nil, nil, mgmt.Errorf(mgmt.KindInternal, "", "postgres: encode rule labels: %w", err)
	}
	return doc, labels, nil
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
			return scaler.Rule{}, mgmt.Errorf(mgmt.KindInternal, "", "postgres: rule %s is stored damaged: %w", ruleID(n), err)
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
