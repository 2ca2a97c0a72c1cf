package logship

import (
	"context"
	"errors"
	"time"
)

// ErrFull is wrapped (with kind unavailable) by Queue.Enqueue when the
// records do not fit in the queue's bounds. Nothing of the batch is
// stored then.
var ErrFull = errors.New("logship: queue is full")

// Item is a queued record with its delivery state.
type Item struct {
	Record
	// Attempts counts the failed deliveries so far (Retry calls).
	Attempts int
}

// Retry is the outcome "try again later" for one item.
type Retry struct {
	ID     string
	NextAt time.Time // not handed out by Next before this
	Reason string    // the last failure, for Depth and debugging
}

// Dead is the outcome "never deliverable" for one item.
type Dead struct {
	ID     string
	Reason string // e.g. "400 mapper_parsing_exception: failed to parse field [level]"
}

// Depth is what a queue holds.
type Depth struct {
	Rows  int64 // records waiting for delivery (due or not)
	Bytes int64 // their Record.Size total
	Dead  int64 // dead letters kept
}

// Queue is the durable buffer between the producers (Handler, Auditor)
// and the Shipper. Every method is safe for concurrent use; a queue has
// one consumer (one Shipper), which is why Next needs no lease: an item
// stays queued until Ack or DeadLetter removes it, and a crash before the
// ack sends it again (at least once).
type Queue interface {
	// Enqueue stores the records, all or none: an error wrapping ErrFull
	// when they do not fit the queue's bounds.
	Enqueue(ctx context.Context, rs []Record) error
	// Next returns up to max items due at now (NextAt ≤ now), oldest
	// first.
	Next(ctx context.Context, max int, now time.Time) ([]Item, error)
	// Ack removes delivered items. Unknown IDs are ignored.
	Ack(ctx context.Context, ids []string) error
	// Retry counts one more attempt for each item and hides it until its
	// NextAt.
	Retry(ctx context.Context, rs []Retry) error
	// DeadLetter moves items out of the queue into the dead letters,
	// with their reasons.
	DeadLetter(ctx context.Context, ds []Dead) error
	// Depth reports what the queue holds.
	Depth(ctx context.Context) (Depth, error)
}

// Settle applies a batch's outcomes: acks, retries and dead letters. A
// Queue whose backend can do it in one transaction implements Settler;
// Shipper uses it when present.
type Settler interface {
	Settle(ctx context.Context, acks []string, retries []Retry, dead []Dead) error
}

// settle applies the outcomes through q's Settle, or one call each.
func settle(ctx context.Context, q Queue, acks []string, retries []Retry, dead []Dead) error {
	if s, ok := q.(Settler); ok {
		return s.Settle(ctx, acks, retries, dead)
	}
	if len(acks) > 0 {
		if err := q.Ack(ctx, acks); err != nil {
			return err
		}
	}
	if len(retries) > 0 {
		if err := q.Retry(ctx, retries); err != nil {
			return err
		}
	}
	if len(dead) > 0 {
		return q.DeadLetter(ctx, dead)
	}
	return nil
}
