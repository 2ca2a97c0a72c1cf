package scaler

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	mgmt "github.com/hms-platform/mgmt"
)

// RuleStore keeps the rules, durably in a real store, and is shared by
// every replica of a host: the Controller reads it (Revision at every
// tick, Rules when it moved) and writes to it, and keeps only the runtime
// state of each rule (its engine, last decision and history) itself.
// scalertest.RunRuleStore is its conformance suite; MemoryRules, and
// backends/sqlite's and backends/postgres's RuleStores, pass it. Every
// method is safe for concurrent use.
type RuleStore interface {
	// CreateRule stores r, valid, with Version 1 under a new ID "AR-n"
	// (n one more than any ID the store has given, across every replica
	// sharing it) — or under r.ID when it is set (a restore: a conflict
	// when taken). A second rule for r.Service is a conflict on field
	// "service".
	CreateRule(ctx context.Context, r Rule) (Rule, error)
	// UpdateRule replaces the rule r.ID by r, valid, and returns it with
	// its Version one higher. r.Version 0 replaces whatever is stored;
	// any other must equal the stored Version, or the update is a
	// conflict on field "version" (someone changed the rule since r was
	// read). A rule that does not exist: not found. Moving the rule to a
	// service that has another rule: a conflict on field "service".
	UpdateRule(ctx context.Context, r Rule) (Rule, error)
	// DeleteRule removes rule id; not found when there is none.
	DeleteRule(ctx context.Context, id string) error
	// Rule returns rule id; not found when there is none.
	Rule(ctx context.Context, id string) (Rule, error)
	// Rules returns the rules that match f, ordered by ID number.
	Rules(ctx context.Context, f Filter) ([]Rule, error)
	// Revision changes whenever a rule is created, updated or deleted,
	// through any replica: the Controller lists the rules again only
	// when it moved. It never repeats a value it returned before for a
	// different set of rules. Saving statuses does not move it.
	Revision(ctx context.Context) (int64, error)
	// SaveStatuses stores the status of rules as the Controller that
	// evaluates them encoded it (an opaque document per rule ID, a few
	// KiB at most), replacing what was stored for them, in one write.
	// A status for a rule that does not exist (deleted meanwhile) is
	// dropped, not an error. Deleting a rule deletes its status.
	SaveStatuses(ctx context.Context, statuses map[string][]byte) error
	// Statuses returns the stored status of each of ids that has one.
	Statuses(ctx context.Context, ids []string) (map[string][]byte, error)
}

// Filter selects rules. Empty fields match everything.
type Filter struct {
	// Name matches rules whose name contains it, ignoring case.
	Name    string
	Service string
	// Labels must all be present with equal values.
	Labels mgmt.Labels
}

// Match reports whether r passes f. Stores that filter in Go use it.
func (f Filter) Match(r *Rule) bool {
	if f.Name != "" && !strings.Contains(strings.ToLower(r.Name), strings.ToLower(f.Name)) {
		return false
	}
	if f.Service != "" && r.Service != f.Service {
		return false
	}
	return r.Labels.Contains(f.Labels)
}

// MemoryRules is a RuleStore in memory: the Controller's default, for one
// process that keeps nothing across restarts.
type MemoryRules struct {
	mu       sync.RWMutex
	rules    map[string]Rule
	statuses map[string][]byte
	nextID   int
	rev      int64
}

// NewMemoryRules returns an empty MemoryRules.
func NewMemoryRules() *MemoryRules {
	return &MemoryRules{rules: map[string]Rule{}, statuses: map[string][]byte{}, nextID: 1}
}

var _ RuleStore = (*MemoryRules)(nil)

func (m *MemoryRules) serviceTaken(service, except string) (string, bool) {
	for id, r := range m.rules {
		if r.Service == service && id != except {
			return id, true
		}
	}
	return "", false
}

// CreateRule implements RuleStore.
func (m *MemoryRules) CreateRule(ctx context.Context, r Rule) (Rule, error) {
	if err := ctx.Err(); err != nil {
		return Rule{}, err
	}
	r = r.Clone()
	if err := r.Validate(); err != nil {
		return Rule{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if other, taken := m.serviceTaken(r.Service, ""); taken {
		return Rule{}, mgmt.Conflict("service", "service %q already has rule %s", r.Service, other)
	}
	n := m.nextID
	if r.ID != "" {
		var ok bool
		if n, ok = ParseRuleID(r.ID); !ok {
			return Rule{}, mgmt.Invalid("id", "%q is not a rule ID like AR-1", r.ID)
		}
		if _, dup := m.rules[r.ID]; dup {
			return Rule{}, mgmt.Conflict("id", "rule %s already exists", r.ID)
		}
	}
	r.ID, r.Version = "AR-"+strconv.Itoa(n), 1
	m.nextID = max(m.nextID, n+1)
	m.rules[r.ID] = r
	m.rev++
	return r.Clone(), nil
}

// UpdateRule implements RuleStore.
func (m *MemoryRules) UpdateRule(ctx context.Context, r Rule) (Rule, error) {
	if err := ctx.Err(); err != nil {
		return Rule{}, err
	}
	r = r.Clone()
	if err := r.Validate(); err != nil {
		return Rule{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.rules[r.ID]
	if !ok {
		return Rule{}, mgmt.NotFound("id", "no rule %s", r.ID)
	}
	if r.Version != 0 && r.Version != old.Version {
		return Rule{}, staleVersion(r.ID, r.Version, old.Version)
	}
	if other, taken := m.serviceTaken(r.Service, r.ID); taken {
		return Rule{}, mgmt.Conflict("service", "service %q already has rule %s", r.Service, other)
	}
	r.Version = old.Version + 1
	m.rules[r.ID] = r
	m.rev++
	return r.Clone(), nil
}

// staleVersion is the conflict of an update made from an old read.
func staleVersion(id string, got, stored int64) error {
	return mgmt.Conflict("version", "is %d, but rule %s is at version %d: it changed since it was read; read it again and reapply the change", got, id, stored)
}

// DeleteRule implements RuleStore.
func (m *MemoryRules) DeleteRule(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.rules[id]; !ok {
		return mgmt.NotFound("id", "no rule %s", id)
	}
	delete(m.rules, id)
	delete(m.statuses, id)
	m.rev++
	return nil
}

// SaveStatuses implements RuleStore.
func (m *MemoryRules) SaveStatuses(ctx context.Context, statuses map[string][]byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, b := range statuses {
		if _, ok := m.rules[id]; ok {
			m.statuses[id] = slices.Clone(b)
		}
	}
	return nil
}

// Statuses implements RuleStore.
func (m *MemoryRules) Statuses(ctx context.Context, ids []string) (map[string][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string][]byte, len(ids))
	for _, id := range ids {
		if b, ok := m.statuses[id]; ok {
			out[id] = slices.Clone(b)
		}
	}
	return out, nil
}

// Rule implements RuleStore.
func (m *MemoryRules) Rule(ctx context.Context, id string) (Rule, error) {
	if err := ctx.Err(); err != nil {
		return Rule{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	r, ok := m.rules[id]
	if !ok {
		return Rule{}, mgmt.NotFound("id", "no rule %s", id)
	}
	return r.Clone(), nil
}

// Rules implements RuleStore.
func (m *MemoryRules) Rules(ctx context.Context, f Filter) ([]Rule, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	out := []Rule{}
	for _, r := range m.rules {
		if f.Match(&r) {
			out = append(out, r.Clone())
		}
	}
	m.mu.RUnlock()
	SortRules(out)
	return out, nil
}

// Revision implements RuleStore.
func (m *MemoryRules) Revision(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.rev, nil
}

// SortRules orders rules by ID number.
func SortRules(rules []Rule) {
	sort.Slice(rules, func(i, j int) bool {
		a, _ := ParseRuleID(rules[i].ID)
		b, _ := ParseRuleID(rules[j].ID)
		return a < b
	})
}
