package budget

import (
	"context"
	"sort"
	"sync"

	mgmt "github.com/hms-platform/mgmt"
)

// Memory is the in-memory Store: for tests, the demo and single-process
// hosts that need no durability. The zero value is not usable; call
// NewMemory.
type Memory struct {
	mu      sync.RWMutex
	caps    map[string]Cap
	ids     map[string]struct{}
	records []Record
	alerts  map[alertKey]int // → index in fired
	fired   []Alert
}

type alertKey struct {
	capID, period string
	threshold     Threshold
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{caps: map[string]Cap{}, ids: map[string]struct{}{}, alerts: map[alertKey]int{}}
}

var _ Store = (*Memory)(nil)

// PutCap implements Store.
func (m *Memory) PutCap(ctx context.Context, c Cap) error {
	if err := ctx.Err(); err != nil {
		return mgmt.Unavailable("budget: %w", err)
	}
	if c.ID == "" {
		return mgmt.Invalid("id", "is required")
	}
	m.mu.Lock()
	m.caps[c.ID] = c.Clone()
	m.mu.Unlock()
	return nil
}

// Cap implements Store.
func (m *Memory) Cap(ctx context.Context, id string) (Cap, error) {
	if err := ctx.Err(); err != nil {
		return Cap{}, mgmt.Unavailable("budget: %w", err)
	}
	m.mu.RLock()
	c, ok := m.caps[id]
	m.mu.RUnlock()
	if !ok {
		return Cap{}, mgmt.NotFound("id", "no cap %q", id)
	}
	return c.Clone(), nil
}

// Caps implements Store.
func (m *Memory) Caps(ctx context.Context) ([]Cap, error) {
	if err := ctx.Err(); err != nil {
		return nil, mgmt.Unavailable("budget: %w", err)
	}
	m.mu.RLock()
	out := make([]Cap, 0, len(m.caps))
	for _, c := range m.caps {
		out = append(out, c.Clone())
	}
	m.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// DeleteCap implements Store.
func (m *Memory) DeleteCap(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return mgmt.Unavailable("budget: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.caps[id]; !ok {
		return mgmt.NotFound("id", "no cap %q", id)
	}
	delete(m.caps, id)
	kept := m.fired[:0]
	for _, a := range m.fired {
		if a.CapID != id {
			kept = append(kept, a)
		}
	}
	clear(m.fired[len(kept):])
	m.fired = kept
	clear(m.alerts)
	for i, a := range m.fired {
		m.alerts[alertKey{a.CapID, a.Period, a.Threshold}] = i
	}
	return nil
}

// AddSpend implements Store.
func (m *Memory) AddSpend(ctx context.Context, recs []Record) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, mgmt.Unavailable("budget: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	added := 0
	for i := range recs {
		if _, dup := m.ids[recs[i].ID]; dup {
			continue
		}
		m.ids[recs[i].ID] = struct{}{}
		r := recs[i]
		r.Labels = r.Labels.Clone()
		m.records = append(m.records, r)
		added++
	}
	return added, nil
}

// Spend implements Store.
func (m *Memory) Spend(ctx context.Context, f SpendFilter) (mgmt.Money, error) {
	if err := ctx.Err(); err != nil {
		return 0, mgmt.Unavailable("budget: %w", err)
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	var sum mgmt.Money
	for i := range m.records {
		if !f.Matches(&m.records[i]) {
			continue
		}
		var err error
		if sum, err = sum.Add(m.records[i].Amount); err != nil {
			return 0, err
		}
	}
	return sum, nil
}

// MarkAlert implements Store.
func (m *Memory) MarkAlert(ctx context.Context, a Alert) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, mgmt.Unavailable("budget: %w", err)
	}
	k := alertKey{a.CapID, a.Period, a.Threshold}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.alerts[k]; ok {
		return false, nil
	}
	m.alerts[k] = len(m.fired)
	m.fired = append(m.fired, a)
	return true, nil
}

// Alerts implements Store.
func (m *Memory) Alerts(ctx context.Context, capID, period string) ([]Alert, error) {
	if err := ctx.Err(); err != nil {
		return nil, mgmt.Unavailable("budget: %w", err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []Alert
	for _, a := range m.fired {
		if a.CapID == capID && a.Period == period {
			out = append(out, a)
		}
	}
	return out, nil
}

// Close implements Store; it does nothing.
func (m *Memory) Close() error { return nil }
