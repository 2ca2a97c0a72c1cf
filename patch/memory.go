package patch

import (
	"context"
	"slices"
	"sync"

	mgmt "github.com/hms-platform/mgmt"
)

// Memory is an in-process Store: the default for tests and the demo. It
// keeps nothing across restarts. Create with NewMemory.
type Memory struct {
	mu      sync.Mutex
	nextID  int64
	records map[int64]*Record
	cursors map[string]string
	closed  bool
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{records: map[int64]*Record{}, cursors: map[string]string{}}
}

func (m *Memory) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return mgmt.Unavailable("patch store is closed")
	}
	return nil
}

// live returns clones of tenant's live records other than except, by ID,
// without their acks.
func (m *Memory) live(tenant string, except int64) []Record {
	var out []Record
	for _, r := range m.records {
		if r.Patch.Tenant == tenant && r.Status.Live() && r.Patch.ID != except {
			c := *r
			c.Acks = nil
			out = append(out, c.Clone())
		}
	}
	slices.SortFunc(out, func(a, b Record) int { return int(a.Patch.ID - b.Patch.ID) })
	return out
}

// Create implements Store.
func (m *Memory) Create(ctx context.Context, tenant string, decide func(live []Record) (Record, error)) (Record, error) {
	if err := m.lock(ctx); err != nil {
		return Record{}, err
	}
	defer m.mu.Unlock()
	r, err := decide(m.live(tenant, 0))
	if err != nil {
		return Record{}, err
	}
	if err := CheckNew(tenant, &r); err != nil {
		return Record{}, err
	}
	m.nextID++
	r.Patch.ID = m.nextID
	stored := r.Clone()
	m.records[r.Patch.ID] = &stored
	return r.Clone(), nil
}

// Update implements Store.
func (m *Memory) Update(ctx context.Context, id int64, fn func(cur *Record, live []Record) error) (Record, error) {
	if err := m.lock(ctx); err != nil {
		return Record{}, err
	}
	defer m.mu.Unlock()
	old, ok := m.records[id]
	if !ok {
		return Record{}, mgmt.NotFound("id", "no patch %d", id)
	}
	cur := old.Clone()
	if err := fn(&cur, m.live(old.Patch.Tenant, id)); err != nil {
		return Record{}, err
	}
	if err := CheckUpdate(old, &cur); err != nil {
		return Record{}, err
	}
	stored := cur.Clone()
	m.records[id] = &stored
	return cur, nil
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, id int64) (Record, error) {
	if err := m.lock(ctx); err != nil {
		return Record{}, err
	}
	defer m.mu.Unlock()
	r, ok := m.records[id]
	if !ok {
		return Record{}, mgmt.NotFound("id", "no patch %d", id)
	}
	return r.Clone(), nil
}

// List implements Store.
func (m *Memory) List(ctx context.Context, f Filter) ([]Record, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	out := []Record{}
	for _, r := range m.records {
		if !f.Matches(r) {
			continue
		}
		if f.OmitAcks {
			c := *r
			c.Acks = nil
			out = append(out, c.Clone())
		} else {
			out = append(out, r.Clone())
		}
	}
	slices.SortFunc(out, func(a, b Record) int { return int(a.Patch.ID - b.Patch.ID) })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// Cursor implements Store.
func (m *Memory) Cursor(ctx context.Context, name string) (string, error) {
	if err := m.lock(ctx); err != nil {
		return "", err
	}
	defer m.mu.Unlock()
	return m.cursors[name], nil
}

// SetCursor implements Store.
func (m *Memory) SetCursor(ctx context.Context, name, value string) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.cursors[name] = value
	return nil
}

// Close implements Store. Later calls fail as unavailable.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
