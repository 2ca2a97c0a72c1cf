package logship

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
)

// FullPolicy says what Buffer.Add does when the queue is full.
type FullPolicy int

const (
	// DropNewest drops the records being added, counts them, and logs
	// one line per BufferOptions.LogEvery drops to the fallback handler.
	DropNewest FullPolicy = iota
	// Block waits for room up to BufferOptions.BlockFor (and the
	// caller's context), then drops as DropNewest does.
	Block
)

// BufferOptions configure a Buffer.
type BufferOptions struct {
	Queue  Queue // required
	Policy FullPolicy
	// BlockFor bounds the wait under Block; required (> 0) with Block.
	BlockFor time.Duration
	// Clock defaults to the real clock.
	Clock clock.Clock
	// Fallback receives the buffer's own complaints (drops, queue
	// errors): never the buffer itself. Default: text on stderr.
	Fallback slog.Handler
	// LogEvery logs the 1st drop and then one line per LogEvery drops;
	// default 1000.
	LogEvery int64
	// Added is called after records were enqueued (e.g. Shipper.Wake).
	Added func()
}

// Buffer is the producers' side of a Queue: Add applies the full policy,
// never silently and never holding records in memory. It is itself a
// Queue (give it to the Shipper): its Ack, DeadLetter and Settle wake the
// producers blocked for room. Safe for concurrent use.
type Buffer struct {
	o   BufferOptions
	log *slog.Logger

	mu    sync.Mutex
	freed chan struct{} // closed when room may have been made

	dropped, failed atomic.Int64
}

var (
	_ Queue   = (*Buffer)(nil)
	_ Settler = (*Buffer)(nil)
)

// NewBuffer validates opts and returns a Buffer.
func NewBuffer(opts BufferOptions) (*Buffer, error) {
	switch {
	case opts.Queue == nil:
		return nil, mgmt.Invalid("queue", "is required")
	case opts.Policy != DropNewest && opts.Policy != Block:
		return nil, mgmt.Invalid("policy", "unknown full policy %d", opts.Policy)
	case opts.Policy == Block && opts.BlockFor <= 0:
		return nil, mgmt.Invalid("blockFor", "must be > 0 with the Block policy, got %s", opts.BlockFor)
	case isHandler(opts.Fallback):
		return nil, mgmt.Invalid("fallback", "a logship Handler would log the buffer's complaints into a buffer: give stderr's or another handler")
	case opts.LogEvery < 0:
		return nil, mgmt.Invalid("logEvery", "must be ≥ 0, got %d", opts.LogEvery)
	}
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	if opts.Fallback == nil {
		opts.Fallback = slog.NewTextHandler(os.Stderr, nil)
	}
	if opts.LogEvery == 0 {
		opts.LogEvery = 1000
	}
	return &Buffer{o: opts, log: slog.New(opts.Fallback), freed: make(chan struct{})}, nil
}

// Dropped counts the records dropped because the queue was full.
func (b *Buffer) Dropped() int64 { return b.dropped.Load() }

// Failed counts the records lost to other queue errors.
func (b *Buffer) Failed() int64 { return b.failed.Load() }

// Add enqueues rs, applying the full policy. It returns nil when they
// were queued, or the error that made it drop them (counted and logged
// already).
func (b *Buffer) Add(ctx context.Context, rs ...Record) error {
	var deadline <-chan time.Time
	for {
		b.mu.Lock()
		freed := b.freed
		b.mu.Unlock()
		err := b.o.Queue.Enqueue(ctx, rs)
		if err == nil {
			if b.o.Added != nil {
				b.o.Added()
			}
			return nil
		}
		if !errors.Is(err, ErrFull) {
			n := b.failed.Add(int64(len(rs)))
			b.log.LogAttrs(ctx, slog.LevelError, "logship: records lost", slog.Int("records", len(rs)),
				slog.Int64("lost_total", n), slog.String("error", err.Error()))
			return err
		}
		if b.o.Policy == Block && ctx.Err() == nil {
			if deadline == nil {
				t := b.o.Clock.Timer(b.o.BlockFor)
				defer t.Stop()
				deadline = t.C
			}
			select {
			case <-freed:
				continue
			case <-deadline:
			case <-ctx.Done():
			}
		}
		b.drop(ctx, len(rs), err)
		return err
	}
}

func (b *Buffer) drop(ctx context.Context, n int, err error) {
	total := b.dropped.Add(int64(n))
	// Log when the total crosses 1 or a multiple of LogEvery.
	if prev := total - int64(n); prev == 0 || prev/b.o.LogEvery != total/b.o.LogEvery {
		b.log.LogAttrs(ctx, slog.LevelWarn, "logship: queue full, records dropped",
			slog.Int("records", n), slog.Int64("dropped_total", total), slog.String("error", err.Error()))
	}
}

// signal wakes the producers waiting for room.
func (b *Buffer) signal() {
	b.mu.Lock()
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// Enqueue implements Queue: the queue's, without the policy.
func (b *Buffer) Enqueue(ctx context.Context, rs []Record) error { return b.o.Queue.Enqueue(ctx, rs) }

// Next implements Queue.
func (b *Buffer) Next(ctx context.Context, max int, now time.Time) ([]Item, error) {
	return b.o.Queue.Next(ctx, max, now)
}

// Ack implements Queue.
func (b *Buffer) Ack(ctx context.Context, ids []string) error {
	defer b.signal()
	return b.o.Queue.Ack(ctx, ids)
}

// Retry implements Queue.
func (b *Buffer) Retry(ctx context.Context, rs []Retry) error { return b.o.Queue.Retry(ctx, rs) }

// DeadLetter implements Queue.
func (b *Buffer) DeadLetter(ctx context.Context, ds []Dead) error {
	defer b.signal()
	return b.o.Queue.DeadLetter(ctx, ds)
}

// Settle implements Settler.
func (b *Buffer) Settle(ctx context.Context, acks []string, retries []Retry, dead []Dead) error {
	defer b.signal()
	return settle(ctx, b.o.Queue, acks, retries, dead)
}

// Depth implements Queue.
func (b *Buffer) Depth(ctx context.Context) (Depth, error) { return b.o.Queue.Depth(ctx) }

func isHandler(h slog.Handler) bool {
	_, ok := h.(*Handler)
	return ok
}
