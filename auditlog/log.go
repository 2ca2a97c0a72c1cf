package auditlog

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
)

// FullPolicy says what Audit does when the buffer is full.
type FullPolicy int

const (
	// Block waits for room up to Options.BlockFor (or the end of the
	// caller's context, if sooner), then drops the event, counted and
	// logged at level Error. The default: an audit trail should lose
	// nothing it can keep.
	Block FullPolicy = iota
	// Drop drops the event at once, counted and logged at level Error.
	Drop
)

// Options configure New.
type Options struct {
	// Store keeps the chain. Required.
	Store Store
	// Key signs the checkpoints. Required.
	Key ed25519.PrivateKey
	// CheckpointEvery: a checkpoint is signed once this many entries
	// follow the last one; the default is 1000.
	CheckpointEvery uint64
	// CheckpointInterval: a checkpoint is signed this long after the last
	// one when entries followed it; the default is 10s.
	CheckpointInterval time.Duration
	// Buffer bounds the events waiting to be stored; the default is 65536.
	Buffer int
	// MaxBatch bounds the events stored in one Store.Append (one
	// transaction); the default is 4096.
	MaxBatch int
	// Full is what Audit does when the buffer is full; the default Block.
	Full FullPolicy
	// BlockFor bounds the wait of Block; the default is 1s.
	BlockFor time.Duration
	// RetryMax bounds the wait between attempts to store a batch that
	// failed; the default is 5s. The first wait is 50ms, doubling.
	RetryMax time.Duration
	// Clock is the clock of checkpoints, waits and retries; the default
	// is the real clock.
	Clock clock.Clock
	// Logger receives dropped events and store failures; the default is
	// slog.Default().
	Logger *slog.Logger
}

func (o *Options) validate() error {
	switch {
	case o.Store == nil:
		return mgmt.Invalid("store", "is required")
	case len(o.Key) != ed25519.PrivateKeySize:
		return mgmt.Invalid("key", "must be an Ed25519 private key of %d bytes, got %d", ed25519.PrivateKeySize, len(o.Key))
	case o.CheckpointInterval < 0:
		return mgmt.Invalid("checkpointInterval", "must be ≥ 0, got %s", o.CheckpointInterval)
	case o.Buffer < 0:
		return mgmt.Invalid("buffer", "must be ≥ 0, got %d", o.Buffer)
	case o.MaxBatch < 0:
		return mgmt.Invalid("maxBatch", "must be ≥ 0, got %d", o.MaxBatch)
	case o.Full != Block && o.Full != Drop:
		return mgmt.Invalid("full", "must be Block or Drop, got %d", o.Full)
	case o.BlockFor < 0:
		return mgmt.Invalid("blockFor", "must be ≥ 0, got %s", o.BlockFor)
	case o.RetryMax < 0:
		return mgmt.Invalid("retryMax", "must be ≥ 0, got %s", o.RetryMax)
	}
	if o.CheckpointEvery == 0 {
		o.CheckpointEvery = 1000
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = 10 * time.Second
	}
	if o.Buffer == 0 {
		o.Buffer = 65536
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = 4096
	}
	if o.BlockFor == 0 {
		o.BlockFor = time.Second
	}
	if o.RetryMax == 0 {
		o.RetryMax = 5 * time.Second
	}
	if o.Clock == nil {
		o.Clock = clock.New()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// Log is an mgmt.Auditor that appends every event to the chain in its
// Store. New starts it; Close stops it. Its methods are safe for
// concurrent use.
type Log struct {
	opts Options
	pub  ed25519.PublicKey

	mu     sync.RWMutex // held for reading while sending on ch; Close closes ch under it
	closed bool
	ch     chan []byte // canonical events

	flush  chan chan struct{}
	ctx    context.Context // the writer's; cancelled when Close gives up
	cancel context.CancelFunc
	done   chan struct{}

	dropped, stored, lost atomic.Uint64
	// What Stats reports of the writer's state.
	statSeq, statCPSeq atomic.Uint64
	statCPAt           atomic.Pointer[time.Time]

	// The writer's state.
	seq   uint64
	head  Hash
	cpSeq uint64
	cpAt  time.Time

	closeOnce sync.Once
	closeErr  error
}

var _ mgmt.Auditor = (*Log)(nil)

// New starts a Log that continues the chain in opts.Store.
func New(ctx context.Context, opts Options) (*Log, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	last, ok, err := opts.Store.Last(ctx)
	if err != nil {
		return nil, fmt.Errorf("auditlog: read the chain's head: %w", err)
	}
	cps, err := opts.Store.Checkpoints(ctx)
	if err != nil {
		return nil, fmt.Errorf("auditlog: read the checkpoints: %w", err)
	}
	l := &Log{
		opts:  opts,
		pub:   opts.Key.Public().(ed25519.PublicKey),
		ch:    make(chan []byte, opts.Buffer),
		flush: make(chan chan struct{}),
		done:  make(chan struct{}),
		cpAt:  opts.Clock.Now(),
	}
	if ok {
		l.seq, l.head = last.Seq, last.Hash
	}
	if n := len(cps); n > 0 {
		l.cpSeq = cps[n-1].Seq
		l.statCPAt.Store(&cps[n-1].At)
	}
	l.statSeq.Store(l.seq)
	l.statCPSeq.Store(l.cpSeq)
	l.ctx, l.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go l.run()
	return l, nil
}

// PublicKey returns the key that verifies the Log's checkpoints.
func (l *Log) PublicKey() ed25519.PublicKey { return l.pub }

// Audit encodes e and buffers it for the writer. When the buffer is full
// the Options.Full policy applies. An event that cannot be encoded, or
// that arrives after Close, is dropped, counted and logged.
func (l *Log) Audit(ctx context.Context, e mgmt.AuditEvent) {
	b, err := Canonical(e)
	if err != nil {
		l.drop(ctx, e, err.Error())
		return
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		l.drop(ctx, e, "the audit log is closed")
		return
	}
	select {
	case l.ch <- b:
		return
	default:
	}
	if l.opts.Full == Block {
		t := l.opts.Clock.Timer(l.opts.BlockFor)
		defer t.Stop()
		select {
		case l.ch <- b:
			return
		case <-t.C:
			l.drop(ctx, e, fmt.Sprintf("the buffer of %d events stayed full for %s", l.opts.Buffer, l.opts.BlockFor))
		case <-ctx.Done():
			l.drop(ctx, e, "the buffer is full and the caller's context ended: "+ctx.Err().Error())
		}
		return
	}
	l.drop(ctx, e, fmt.Sprintf("the buffer of %d events is full", l.opts.Buffer))
}

func (l *Log) drop(ctx context.Context, e mgmt.AuditEvent, why string) {
	n := l.dropped.Add(1)
	l.opts.Logger.LogAttrs(ctx, slog.LevelError, "AUDIT EVENT DROPPED: not in the audit chain",
		slog.String("why", why), slog.Uint64("dropped_total", n),
		slog.Time("at", e.At), slog.String("actor", e.Actor), slog.String("action", e.Action),
		slog.String("resource", e.Resource), slog.String("tenant", e.Tenant), slog.String("outcome", e.Outcome))
}

// Dropped returns how many events Audit dropped: buffer full, encoding
// failure, or after Close.
func (l *Log) Dropped() uint64 { return l.dropped.Load() }

// Stored returns how many events the Log stored.
func (l *Log) Stored() uint64 { return l.stored.Load() }

// Lost returns how many buffered events were never stored: the Store
// kept failing until Close gave up.
func (l *Log) Lost() uint64 { return l.lost.Load() }

// Flush waits until the events buffered before the call are stored (or
// lost, see Lost), or ctx ends.
func (l *Log) Flush(ctx context.Context) error {
	reply := make(chan struct{})
	select {
	case l.flush <- reply:
	case <-l.done:
		return nil
	case <-ctx.Done():
		return mgmt.Unavailable("auditlog: flush: %w", ctx.Err())
	}
	select {
	case <-reply:
		return nil
	case <-ctx.Done():
		return mgmt.Unavailable("auditlog: flush: %w", ctx.Err())
	}
}

// Close stops taking events, stores those buffered, signs a last
// checkpoint and returns. When ctx ends first it gives up: the events not
// yet stored are lost (Lost), and it says so in its error. Calls after the
// first return the first's result.
func (l *Log) Close(ctx context.Context) error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		close(l.ch)
		l.mu.Unlock()
		select {
		case <-l.done:
		case <-ctx.Done():
			l.cancel()
			<-l.done
		}
		l.cancel()
		if n := l.lost.Load(); n > 0 {
			l.closeErr = mgmt.Unavailable("auditlog: close: %d events were not stored", n)
		}
	})
	return l.closeErr
}

// run is the writer.
func (l *Log) run() {
	defer close(l.done)
	tick := l.opts.Clock.Ticker(l.opts.CheckpointInterval)
	defer tick.Stop()
	batch := make([][]byte, 0, l.opts.MaxBatch)
	for {
		select {
		case b, ok := <-l.ch:
			if !ok {
				l.checkpoint(true)
				return
			}
			batch = append(batch[:0], b)
			open := l.take(&batch)
			l.write(batch)
			if !open {
				l.checkpoint(true)
				return
			}
		case reply := <-l.flush:
			open := true
			for open && len(l.ch) > 0 {
				batch = batch[:0]
				open = l.take(&batch)
				l.write(batch)
			}
			close(reply)
			if !open {
				l.checkpoint(true)
				return
			}
		case <-tick.C:
			l.checkpoint(l.opts.Clock.Since(l.cpAt) >= l.opts.CheckpointInterval)
		}
	}
}

// take adds to batch what is buffered, up to MaxBatch; it returns false
// when ch is closed.
func (l *Log) take(batch *[][]byte) bool {
	for len(*batch) < l.opts.MaxBatch {
		select {
		case b, ok := <-l.ch:
			if !ok {
				return false
			}
			*batch = append(*batch, b)
		default:
			return true
		}
	}
	return true
}

// write chains batch after the head and stores it, retrying until it is
// stored or Close gives up.
func (l *Log) write(batch [][]byte) {
	if len(batch) == 0 {
		return
	}
	var h []byte
	recs := make([]Record, len(batch))
	wait := 50 * time.Millisecond
	for {
		prev := l.head
		for i, b := range batch {
			seq := l.seq + uint64(i) + 1
			recs[i] = Record{Seq: seq, Data: b, PrevHash: prev}
			recs[i].Hash = chainHash(&h, prev, b, seq)
			prev = recs[i].Hash
		}
		err := l.opts.Store.Append(l.ctx, recs)
		if err == nil {
			break
		}
		// The commit may have happened all the same, or another writer
		// may have moved the head: read it.
		last, ok, lerr := l.opts.Store.Last(l.ctx)
		if lerr == nil && ok && last.Seq == recs[len(recs)-1].Seq && last.Hash == recs[len(recs)-1].Hash {
			break
		}
		if lerr == nil && ok && last.Seq != l.seq {
			l.opts.Logger.Warn("auditlog: the chain's head moved: another writer shares the store; continuing after it",
				slog.Uint64("expected_seq", l.seq), slog.Uint64("head_seq", last.Seq))
			l.seq, l.head = last.Seq, last.Hash
			continue
		}
		l.opts.Logger.Error("auditlog: storing audit events failed; retrying", slog.Int("events", len(batch)),
			slog.Uint64("first_seq", recs[0].Seq), slog.Any("err", err), slog.Duration("retry_in", wait))
		select {
		case <-l.ctx.Done():
			n := l.lost.Add(uint64(len(batch)))
			l.opts.Logger.Error("AUDIT EVENTS LOST: the store kept failing until close", slog.Int("events", len(batch)),
				slog.Uint64("lost_total", n), slog.Any("err", err))
			return
		case <-l.opts.Clock.After(wait):
		}
		wait = min(2*wait, l.opts.RetryMax)
	}
	l.seq, l.head = recs[len(recs)-1].Seq, recs[len(recs)-1].Hash
	l.statSeq.Store(l.seq)
	l.stored.Add(uint64(len(batch)))
	l.checkpoint(l.seq-l.cpSeq >= l.opts.CheckpointEvery)
}

// checkpoint signs and stores a checkpoint of the head when due and
// entries follow the last one.
func (l *Log) checkpoint(due bool) {
	if !due || l.seq == l.cpSeq {
		return
	}
	c := Sign(l.opts.Key, l.seq, l.head, l.opts.Clock.Now())
	if err := l.opts.Store.AddCheckpoint(l.ctx, c); err != nil {
		if mgmt.KindOf(err) == mgmt.KindConflict {
			l.cpSeq = l.seq // another writer signed it
			l.statCPSeq.Store(l.cpSeq)
			return
		}
		l.opts.Logger.Error("auditlog: storing a checkpoint failed; retrying with the next one",
			slog.Uint64("seq", l.seq), slog.Any("err", err))
		return
	}
	l.cpSeq, l.cpAt = l.seq, c.At
	l.statCPSeq.Store(l.cpSeq)
	l.statCPAt.Store(&c.At)
}
