package logship

import (
	"context"
	"slices"
	"sync"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// MemQueueOptions bound a MemQueue.
type MemQueueOptions struct {
	MaxRows  int64 // records queued at most; required, > 0
	MaxBytes int64 // Record.Size total at most; required, > 0
	// MaxDead bounds the dead letters kept (the oldest go first); the
	// default is 1000. Depth.Dead counts those kept; Shipper.Stats counts all.
	MaxDead int
}

// MemQueue is a Queue in memory, bounded by rows and bytes: for tests and
// for hosts that accept losing the queue with the process. Make it with
// NewMemQueue; it is safe for concurrent use.
type MemQueue struct {
	opts MemQueueOptions

	mu    sync.Mutex
	items []*memItem // in enqueue order
	byID  map[string]*memItem
	bytes int64
	dead  []DeadLetter
}

type memItem struct {
	Item
	nextAt time.Time
}

// DeadLetter is a record that will never be delivered, and why.
type DeadLetter struct {
	Record
	Attempts int
	Reason   string
}

var _ Queue = (*MemQueue)(nil)

// NewMemQueue returns an empty MemQueue.
func NewMemQueue(opts MemQueueOptions) (*MemQueue, error) {
	switch {
	case opts.MaxRows <= 0:
		return nil, mgmt.Invalid("maxRows", "must be > 0, got %d", opts.MaxRows)
	case opts.MaxBytes <= 0:
		return nil, mgmt.Invalid("maxBytes", "must be > 0, got %d", opts.MaxBytes)
	case opts.MaxDead < 0:
		return nil, mgmt.Invalid("maxDead", "must be ≥ 0, got %d", opts.MaxDead)
	}
	if opts.MaxDead == 0 {
		opts.MaxDead = 1000
	}
	return &MemQueue{opts: opts, byID: map[string]*memItem{}}, nil
}

// Enqueue implements Queue.
func (q *MemQueue) Enqueue(ctx context.Context, rs []Record) error {
	if err := ctx.Err(); err != nil {
		return mgmt.Unavailable("logship: enqueue: %w", err)
	}
	var size int64
	for _, r := range rs {
		if err := r.Validate(); err != nil {
			return err
		}
		size += r.Size()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if int64(len(q.items)+len(rs)) > q.opts.MaxRows || q.bytes+size > q.opts.MaxBytes {
		return mgmt.Unavailable("logship: %d records of %d bytes do not fit (%d/%d rows, %d/%d bytes): %w",
			len(rs), size, len(q.items), q.opts.MaxRows, q.bytes, q.opts.MaxBytes, ErrFull)
	}
	for _, r := range rs {
		if _, dup := q.byID[r.ID]; dup {
			continue // already queued: at least once, not twice
		}
		it := &memItem{Item: Item{Record: r}}
		q.items = append(q.items, it)
		q.byID[r.ID] = it
		q.bytes += r.Size()
	}
	return nil
}

// Next implements Queue.
func (q *MemQueue) Next(ctx context.Context, max int, now time.Time) ([]Item, error) {
	if err := ctx.Err(); err != nil {
		return nil, mgmt.Unavailable("logship: next: %w", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []Item
	for _, it := range q.items {
		if len(out) == max {
			break
		}
		if !it.nextAt.After(now) {
			out = append(out, it.Item)
		}
	}
	return out, nil
}

// Ack implements Queue.
func (q *MemQueue) Ack(ctx context.Context, ids []string) error {
	return q.Settle(ctx, ids, nil, nil)
}

// Retry implements Queue.
func (q *MemQueue) Retry(ctx context.Context, rs []Retry) error {
	return q.Settle(ctx, nil, rs, nil)
}

// DeadLetter implements Queue.
func (q *MemQueue) DeadLetter(ctx context.Context, ds []Dead) error {
	return q.Settle(ctx, nil, nil, ds)
}

// Settle implements Settler: all of it under one lock.
func (q *MemQueue) Settle(ctx context.Context, acks []string, retries []Retry, dead []Dead) error {
	if err := ctx.Err(); err != nil {
		return mgmt.Unavailable("logship: settle: %w", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	gone := map[string]bool{}
	for _, id := range acks {
		if _, ok := q.byID[id]; ok {
			gone[id] = true
		}
	}
	for _, r := range retries {
		if it, ok := q.byID[r.ID]; ok {
			it.Attempts++
			it.nextAt = r.NextAt
		}
	}
	for _, d := range dead {
		it, ok := q.byID[d.ID]
		if !ok {
			continue
		}
		gone[d.ID] = true
		q.dead = append(q.dead, DeadLetter{Record: it.Record, Attempts: it.Attempts, Reason: d.Reason})
	}
	if n := len(q.dead) - q.opts.MaxDead; n > 0 {
		q.dead = slices.Delete(q.dead, 0, n)
	}
	if len(gone) == 0 {
		return nil
	}
	q.items = slices.DeleteFunc(q.items, func(it *memItem) bool {
		if gone[it.ID] {
			delete(q.byID, it.ID)
			q.bytes -= it.Size()
			return true
		}
		return false
	})
	return nil
}

// Depth implements Queue.
func (q *MemQueue) Depth(ctx context.Context) (Depth, error) {
	if err := ctx.Err(); err != nil {
		return Depth{}, mgmt.Unavailable("logship: depth: %w", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return Depth{Rows: int64(len(q.items)), Bytes: q.bytes, Dead: int64(len(q.dead))}, nil
}

// DeadLetters returns the dead letters kept, oldest first.
func (q *MemQueue) DeadLetters() []DeadLetter {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.dead)
}
