package patch

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// Memory is an in-process Store: the default for tests and the demo. It
// keeps nothing across restarts. Create with NewMemory.
type Memory struct {
	mu      sync.Mutex
	nextID  int64
	records map[int64]*Record
	index   map[indexKey]*keyIndex // the live records, by tenant and key
	cursors map[string]string
	closed  bool
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{records: map[int64]*Record{}, index: map[indexKey]*keyIndex{}, cursors: map[string]string{}}
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

// indexKey names the live records of a tenant that change a key.
type indexKey struct{ tenant, key string }

// keyIndex holds the live records of one indexKey ordered by window start,
// and the longest window among them ever: the records whose windows
// overlap [start, end) are among those starting in [start-span, end).
type keyIndex struct {
	entries []indexEntry
	span    time.Duration
}

type indexEntry struct {
	start time.Time
	id    int64
}

func compareEntries(a, b indexEntry) int {
	if c := a.start.Compare(b.start); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// reindex adds r to the index when it became live, or removes it when it
// stopped being live.
func (m *Memory) reindex(r *Record, wasLive bool) {
	if r.Status.Live() == wasLive {
		return
	}
	e := indexEntry{start: r.Patch.Window.Start, id: r.Patch.ID}
	for k := range r.Patch.Changes {
		ik := indexKey{r.Patch.Tenant, k}
		ix := m.index[ik]
		if ix == nil {
			ix = &keyIndex{}
			m.index[ik] = ix
		}
		i, found := slices.BinarySearchFunc(ix.entries, e, compareEntries)
		switch {
		case !wasLive && !found:
			ix.entries = slices.Insert(ix.entries, i, e)
			ix.span = max(ix.span, r.Patch.Window.End.Sub(r.Patch.Window.Start))
		case wasLive && found:
			ix.entries = slices.Delete(ix.entries, i, i+1)
			if len(ix.entries) == 0 {
				delete(m.index, ik)
			}
		}
	}
}

// live returns clones of tenant's live records other than except that
// scope selects, by ID, without their acks.
func (m *Memory) live(tenant string, except int64, scope Scope) []Record {
	keys, _ := scope.IndexKeys()
	seen := map[int64]bool{}
	var out []Record
	for _, k := range keys {
		ix := m.index[indexKey{tenant, k}]
		if ix == nil {
			continue
		}
		lo := indexEntry{start: scope.Window.Start.Add(-ix.span)}
		i, _ := slices.BinarySearchFunc(ix.entries, lo, compareEntries)
		for ; i < len(ix.entries) && ix.entries[i].start.Before(scope.Window.End); i++ {
			id := ix.entries[i].id
			r := m.records[id]
			if seen[id] || id == except || !scope.Matches(r) {
				continue
			}
			seen[id] = true
			c := *r
			c.Acks = nil
			out = append(out, c.Clone())
		}
	}
	slices.SortFunc(out, func(a, b Record) int { return cmp.Compare(a.Patch.ID, b.Patch.ID) })
	return out
}

// Create implements Store.
func (m *Memory) Create(ctx context.Context, tenant string, scope Scope, decide func(live []Record) (Record, error)) (Record, error) {
	if err := m.lock(ctx); err != nil {
		return Record{}, err
	}
	defer m.mu.Unlock()
	r, err := decide(m.live(tenant, 0, scope))
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
	m.reindex(&stored, false)
	return r.Clone(), nil
}

// Update implements Store.
func (m *Memory) Update(ctx context.Context, id int64, scope func(p *Patch) Scope, fn func(cur *Record, live []Record) error) (Record, error) {
	if err := m.lock(ctx); err != nil {
		return Record{}, err
	}
	defer m.mu.Unlock()
	old, ok := m.records[id]
	if !ok {
		return Record{}, mgmt.NotFound("id", "no patch %d", id)
	}
	cur := old.Clone()
	var live []Record
	if scope != nil {
		live = m.live(old.Patch.Tenant, id, scope(&cur.Patch))
	}
	if err := fn(&cur, live); err != nil {
		return Record{}, err
	}
	if err := CheckUpdate(old, &cur); err != nil {
		return Record{}, err
	}
	stored := cur.Clone()
	m.records[id] = &stored
	m.reindex(&stored, old.Status.Live())
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
	slices.SortFunc(out, func(a, b Record) int { return cmp.Compare(a.Patch.ID, b.Patch.ID) })
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
