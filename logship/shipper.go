package logship

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
)

// ShipperOptions configure a Shipper.
type ShipperOptions struct {
	Queue Queue // required
	Sink  Sink  // required
	// Clock defaults to the real clock.
	Clock clock.Clock
	// BatchSize is the most records sent in one request; default 500.
	BatchSize int
	// Poll is how long Run waits when nothing is due (or until Wake);
	// default 1s.
	Poll time.Duration
	// BackoffBase and BackoffMax bound the retry delay: attempt n (from
	// 1) waits BackoffBase·2^(n-1), at most BackoffMax, with full jitter
	// on its upper half (between d/2 and d). Defaults 1s and 5m.
	BackoffBase, BackoffMax time.Duration
	// MaxAttempts dead-letters a record after this many failed
	// deliveries; 0 retries for ever (the queue's bounds still hold).
	MaxAttempts int
	// Inflight is how many batches Run has in flight at most: with 2 or
	// more, it takes the next due batch (not counting the records in
	// flight) and sends it while earlier ones are sent and settled, each
	// batch settled on its own outcomes. Default 1: one batch at a time.
	Inflight int
	// SendTimeout bounds one Send; default 30s.
	SendTimeout time.Duration
	// Jitter returns a number in [0, 1); default math/rand/v2's Float64.
	Jitter func() float64
	// Log receives the shipper's own lines: errors of the queue, and one
	// line per batch with dead letters (count and first reason). Never
	// a Handler of the queue it ships (it would feed itself); default
	// text on stderr.
	Log *slog.Logger
}

// Stats counts per record, not per batch. Read it with Shipper.Stats.
type Stats struct {
	Delivered     int64 // acked
	Retried       int64 // Retry calls, one per record
	Dead          int64 // dead-lettered
	Splits        int64 // batches halved after a 413
	RequestErrors int64 // Send calls that failed as a whole
}

// Shipper moves records from a Queue to a Sink: it reads due batches,
// sends them, and settles each record by its own outcome. Make it with
// NewShipper and call Run (one goroutine) or Step; Stats and Wake are safe
// from any goroutine.
type Shipper struct {
	o    ShipperOptions
	wake chan struct{}

	delivered, retried, dead, splits, reqErrs atomic.Int64
}

// NewShipper validates opts and returns a Shipper.
func NewShipper(opts ShipperOptions) (*Shipper, error) {
	switch {
	case opts.Queue == nil:
		return nil, mgmt.Invalid("queue", "is required")
	case opts.Sink == nil:
		return nil, mgmt.Invalid("sink", "is required")
	case opts.BatchSize < 0:
		return nil, mgmt.Invalid("batchSize", "must be ≥ 0, got %d", opts.BatchSize)
	case opts.Poll < 0, opts.BackoffBase < 0, opts.BackoffMax < 0, opts.SendTimeout < 0:
		return nil, mgmt.Invalid("poll", "durations must be ≥ 0")
	case opts.Inflight < 0:
		return nil, mgmt.Invalid("inflight", "must be ≥ 0, got %d", opts.Inflight)
	case opts.MaxAttempts < 0:
		return nil, mgmt.Invalid("maxAttempts", "must be ≥ 0, got %d", opts.MaxAttempts)
	}
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = 500
	}
	if opts.Inflight == 0 {
		opts.Inflight = 1
	}
	if opts.Poll == 0 {
		opts.Poll = time.Second
	}
	if opts.BackoffBase == 0 {
		opts.BackoffBase = time.Second
	}
	if opts.BackoffMax == 0 {
		opts.BackoffMax = 5 * time.Minute
	}
	if opts.BackoffMax < opts.BackoffBase {
		return nil, mgmt.Invalid("backoffMax", "%s is below backoffBase %s", opts.BackoffMax, opts.BackoffBase)
	}
	if opts.SendTimeout == 0 {
		opts.SendTimeout = 30 * time.Second
	}
	if opts.Jitter == nil {
		opts.Jitter = rand.Float64
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return &Shipper{o: opts, wake: make(chan struct{}, 1)}, nil
}

// Stats returns the counters so far.
func (s *Shipper) Stats() Stats {
	return Stats{
		Delivered: s.delivered.Load(), Retried: s.retried.Load(), Dead: s.dead.Load(),
		Splits: s.splits.Load(), RequestErrors: s.reqErrs.Load(),
	}
}

// Wake makes a waiting Run look at the queue now (records were enqueued).
func (s *Shipper) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run ships until ctx ends, then returns ctx's error. Errors of the queue
// or the sink do not stop it: it waits Poll and tries again. After a
// request that failed as a whole (the sink unreachable), it waits Poll
// before the next step whatever is due, and Wake does not cut that wait
// short: during an outage the queue is not cycled through, one retry per
// record, while producers fill it.
func (s *Shipper) Run(ctx context.Context) error {
	if s.o.Inflight > 1 {
		return s.runInflight(ctx)
	}
	for {
		n, failed, err := s.step(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			s.o.Log.LogAttrs(ctx, slog.LevelWarn, "logship: shipping step failed; trying again after the poll interval",
				slog.String("error", err.Error()), slog.Duration("poll", s.o.Poll))
		}
		if err == nil && n > 0 && !failed {
			continue // more may be due
		}
		wake := s.wake
		if failed {
			wake = nil // producers' wake-ups do not end this wait
		}
		t := s.o.Clock.Timer(s.o.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// Step sends one batch of due records and settles them. It returns how
// many records it took from the queue.
func (s *Shipper) Step(ctx context.Context) (int, error) {
	n, _, err := s.step(ctx)
	return n, err
}

// step is Step, and says whether a request of the batch failed as a
// whole.
func (s *Shipper) step(ctx context.Context) (n int, failed bool, err error) {
	items, err := s.o.Queue.Next(ctx, s.o.BatchSize, s.o.Clock.Now())
	if err != nil || len(items) == 0 {
		return 0, false, err
	}
	failed, err = s.deliver(ctx, items)
	return len(items), failed, err
}

// deliver sends items and settles them; it says whether a request
// failed as a whole.
func (s *Shipper) deliver(ctx context.Context, items []Item) (failed bool, err error) {
	var acks []string
	var retries []Retry
	var dead []Dead
	reqErrs := s.reqErrs.Load()
	s.ship(ctx, items, &acks, &retries, &dead)
	failed = s.reqErrs.Load() != reqErrs
	// Settle with a context of its own: an ack lost to a cancelled ctx
	// would only resend, but there is no reason to lose it.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.SendTimeout)
	defer cancel()
	if err := settle(sctx, s.o.Queue, acks, retries, dead); err != nil {
		return failed, fmt.Errorf("logship: settle %d records: %w", len(items), err)
	}
	s.delivered.Add(int64(len(acks)))
	s.retried.Add(int64(len(retries)))
	total := s.dead.Add(int64(len(dead)))
	if len(dead) > 0 {
		s.o.Log.LogAttrs(ctx, slog.LevelWarn, "logship: records dead-lettered", slog.Int("records", len(dead)),
			slog.Int64("dead_total", total), slog.String("first_reason", dead[0].Reason))
	}
	return failed, nil
}

// runInflight is Run with up to Inflight batches in flight. The IDs in
// flight are left out of the next batches; they leave the set after
// their batch is settled, under the lock Next is called with, so that a
// Next either sees the settlement or leaves the records out.
func (s *Shipper) runInflight(ctx context.Context) error {
	done := make(chan bool, s.o.Inflight) // a batch landed: whether a request failed
	var mu sync.Mutex
	flying := map[string]struct{}{}
	busy := 0
	defer func() {
		for ; busy > 0; busy-- {
			<-done
		}
	}()
	pause := false // a request failed as a whole: wait Poll, whatever wakes
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for more := true; more; {
			select {
			case failed := <-done:
				busy--
				pause = pause || failed
			default:
				more = false
			}
		}
		if pause || busy == s.o.Inflight {
			var t *clock.Timer
			var tc <-chan time.Time
			if pause {
				t = s.o.Clock.Timer(s.o.Poll)
				tc = t.C
			}
			pause = false
			for waiting := true; waiting; {
				select {
				case <-ctx.Done():
					waiting = false
				case failed := <-done:
					busy--
					pause = pause || failed
					waiting = tc != nil // a pause waits its timer out
				case <-tc:
					waiting = false
				}
			}
			if t != nil {
				t.Stop()
			}
			continue
		}
		mu.Lock()
		items, err := s.o.Queue.Next(ctx, s.o.BatchSize+len(flying), s.o.Clock.Now())
		batch := items[:0]
		for _, it := range items {
			if _, ok := flying[it.ID]; !ok && len(batch) < s.o.BatchSize {
				batch = append(batch, it)
			}
		}
		for _, it := range batch {
			flying[it.ID] = struct{}{}
		}
		mu.Unlock()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			s.o.Log.LogAttrs(ctx, slog.LevelWarn, "logship: shipping step failed; trying again after the poll interval",
				slog.String("error", err.Error()), slog.Duration("poll", s.o.Poll))
		}
		if err != nil || len(batch) == 0 {
			t := s.o.Clock.Timer(s.o.Poll)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-s.wake:
			case failed := <-done:
				busy--
				pause = pause || failed
			case <-t.C:
			}
			t.Stop()
			continue
		}
		busy++
		go func() {
			failed, err := s.deliver(ctx, batch)
			if err != nil && ctx.Err() == nil {
				s.o.Log.LogAttrs(ctx, slog.LevelWarn, "logship: shipping step failed; trying again after the poll interval",
					slog.String("error", err.Error()), slog.Duration("poll", s.o.Poll))
			}
			mu.Lock()
			for _, it := range batch {
				delete(flying, it.ID)
			}
			mu.Unlock()
			done <- failed || err != nil
		}()
	}
}

// ship sends items and classifies each, halving the batch on a 413.
func (s *Shipper) ship(ctx context.Context, items []Item, acks *[]string, retries *[]Retry, dead *[]Dead) {
	rs := make([]Record, len(items))
	for i, it := range items {
		rs[i] = it.Record
	}
	sctx, cancel := context.WithTimeout(ctx, s.o.SendTimeout)
	results, err := s.o.Sink.Send(sctx, rs)
	cancel()
	if err == nil && len(results) != len(rs) {
		err = fmt.Errorf("sink answered %d results for %d records", len(results), len(rs))
	}
	if err != nil && ctx.Err() != nil {
		// Stopped (shutdown), not a failure of the sink: the records stay
		// as they are, without an attempt or a backoff, and go again on
		// the next Step or start. Some may have been stored: at least once.
		return
	}
	if err != nil {
		s.reqErrs.Add(1)
		for _, it := range items {
			s.retry(it, "request: "+err.Error(), retries, dead)
		}
		return
	}
	var split []Item
	for i, r := range results {
		it := items[i]
		switch r.Outcome {
		case Delivered:
			*acks = append(*acks, it.ID)
		case RetryLater:
			s.retry(it, reason(r), retries, dead)
		case TooLarge:
			split = append(split, it)
		default: // Rejected, or an outcome this build does not know
			*dead = append(*dead, Dead{ID: it.ID, Reason: reason(r)})
		}
	}
	switch {
	case len(split) == 1:
		*dead = append(*dead, Dead{ID: split[0].ID, Reason: "413: the record alone is too large for the sink"})
	case len(split) > 1:
		if ctx.Err() != nil { // no time left: try again later
			for _, it := range split {
				s.retry(it, "413, then cancelled", retries, dead)
			}
			return
		}
		s.splits.Add(1)
		h := len(split) / 2
		s.ship(ctx, split[:h], acks, retries, dead)
		s.ship(ctx, split[h:], acks, retries, dead)
	}
}

func reason(r Result) string {
	if r.Status != 0 {
		return fmt.Sprintf("%d %s", r.Status, r.Reason)
	}
	return r.Reason
}

// retry schedules it's next attempt, or dead-letters it after
// MaxAttempts.
func (s *Shipper) retry(it Item, why string, retries *[]Retry, dead *[]Dead) {
	attempt := it.Attempts + 1
	if s.o.MaxAttempts > 0 && attempt >= s.o.MaxAttempts {
		*dead = append(*dead, Dead{ID: it.ID, Reason: fmt.Sprintf("gave up after %d attempts: %s", attempt, why)})
		return
	}
	*retries = append(*retries, Retry{ID: it.ID, NextAt: s.o.Clock.Now().Add(s.Backoff(attempt)), Reason: why})
}

// Backoff returns the delay before attempt+1, after attempt failures
// (attempt ≥ 1): BackoffBase·2^(attempt-1) capped at BackoffMax, then a
// uniformly random point of its upper half.
func (s *Shipper) Backoff(attempt int) time.Duration {
	d := s.o.BackoffBase
	for i := 1; i < attempt && d < s.o.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, s.o.BackoffMax)
	half := d / 2
	return half + time.Duration(s.o.Jitter()*float64(d-half))
}
