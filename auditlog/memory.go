package auditlog

import (
	"context"
	"slices"
	"sync"

	mgmt "github.com/hms-platform/mgmt"
)

// Memory is a Store in memory, for tests and examples. Its zero value is
// empty and ready; it is safe for concurrent use.
type Memory struct {
	mu      sync.Mutex
	records []Record // Seq order; not necessarily contiguous (tests tamper)
	cps     []Checkpoint
}

var _ Store = (*Memory)(nil)

// Append implements Store.
func (m *Memory) Append(ctx context.Context, records []Record) error {
	if err := ctx.Err(); err != nil {
		return mgmt.Unavailable("auditlog: memory: append: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var last uint64
	if n := len(m.records); n > 0 {
		last = m.records[n-1].Seq
	}
	for i, r := range records {
		if (i == 0 && r.Seq != last+1) || (i > 0 && r.Seq != records[i-1].Seq+1) {
			return mgmt.Errorf(mgmt.KindConflict, "", "auditlog: memory: append seq %d: it does not follow seq %d", r.Seq, last)
		}
	}
	for _, r := range records {
		r.Data = slices.Clone(r.Data)
		m.records = append(m.records, r)
	}
	return nil
}

// Last implements Store.
func (m *Memory) Last(ctx context.Context) (Record, bool, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, false, mgmt.Unavailable("auditlog: memory: last: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.records) == 0 {
		return Record{}, false, nil
	}
	return m.records[len(m.records)-1], true, nil
}

// Scan implements Reader.
func (m *Memory) Scan(ctx context.Context, from uint64, fn func(Record) error) error {
	m.mu.Lock()
	i, _ := slices.BinarySearchFunc(m.records, from, func(r Record, s uint64) int {
		switch {
		case r.Seq < s:
			return -1
		case r.Seq > s:
			return 1
		}
		return 0
	})
	recs := m.records[i:len(m.records):len(m.records)]
	m.mu.Unlock()
	for _, r := range recs {
		if err := ctx.Err(); err != nil {
			return mgmt.Unavailable("auditlog: memory: scan: %w", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// AddCheckpoint implements Store.
func (m *Memory) AddCheckpoint(ctx context.Context, c Checkpoint) error {
	if err := ctx.Err(); err != nil {
		return mgmt.Unavailable("auditlog: memory: checkpoint: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	i, found := slices.BinarySearchFunc(m.cps, c.Seq, func(x Checkpoint, s uint64) int { return cmpU(x.Seq, s) })
	if found {
		return mgmt.Errorf(mgmt.KindConflict, "", "auditlog: memory: a checkpoint at seq %d exists", c.Seq)
	}
	c.Signature = slices.Clone(c.Signature)
	m.cps = slices.Insert(m.cps, i, c)
	return nil
}

// Checkpoints implements Reader.
func (m *Memory) Checkpoints(ctx context.Context) ([]Checkpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, mgmt.Unavailable("auditlog: memory: checkpoints: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.cps), nil
}

// Tamper calls fn with the stored records and checkpoints, under the
// lock, and keeps what it returns: for tests that break the chain.
func (m *Memory) Tamper(fn func(records []Record, cps []Checkpoint) ([]Record, []Checkpoint)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records, m.cps = fn(m.records, m.cps)
	slices.SortStableFunc(m.records, func(a, b Record) int { return cmpU(a.Seq, b.Seq) })
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
