package host

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/bulk"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/logship"
)

// ShipFlags are the -ship-* flags the hosts share: their log records and
// audit events shipped, at least once, through a SQLite queue to a
// search cluster (Elasticsearch, OpenSearch or VictoriaLogs).
type ShipFlags struct {
	URL, Kind, Index, DB, Full string
	MaxRows, MaxBytes          int64
	BlockFor                   time.Duration
}

// Register adds -ship, -ship-kind, -ship-index, -ship-db,
// -ship-max-rows, -ship-max-bytes, -ship-full and -ship-block-for to fs;
// name is the host's, for the queue file's default name.
func (f *ShipFlags) Register(fs *flag.FlagSet, name string) {
	fs.StringVar(&f.URL, "ship", "", "ship logs and audit events to this search cluster's base URL (none: stderr only)")
	fs.StringVar(&f.Kind, "ship-kind", string(bulk.Elasticsearch), "the cluster: elasticsearch, opensearch or victorialogs")
	fs.StringVar(&f.Index, "ship-index", "", `the index (Elasticsearch, OpenSearch; default "logs"); none for VictoriaLogs`)
	fs.StringVar(&f.DB, "ship-db", name+"-logship.db", "the durable queue of records to ship: a SQLite file")
	fs.Int64Var(&f.MaxRows, "ship-max-rows", 1_000_000, "the queue's bound in records")
	fs.Int64Var(&f.MaxBytes, "ship-max-bytes", 1<<30, "the queue's bound in bytes")
	fs.StringVar(&f.Full, "ship-full", "drop", "when the queue is full: drop (the newest, counted, a line per 1000 drops on stderr) or block (up to -ship-block-for, then drop)")
	fs.DurationVar(&f.BlockFor, "ship-block-for", time.Second, "with -ship-full block: how long a log call waits for room")
}

// Ship ships a host's logs and audit events. Setup returns one; nil ships
// nothing.
type Ship struct {
	// Logger writes to the host's logger and to the queue.
	Logger *slog.Logger
	// Auditor writes to the host's logger and to the queue (as a
	// record of kind audit).
	Auditor mgmt.Auditor

	store   *sqlite.Store
	shipper *logship.Shipper
	buffer  *logship.Buffer
	closed  atomic.Bool
}

// Setup opens the queue and the sink, or returns nil without -ship.
// logger is the host's own (stderr): the queue's complaints and the
// shipper's go there, never into the queue. Close the Ship when done.
func (f *ShipFlags) Setup(ctx context.Context, clk clock.Clock, logger *slog.Logger) (*Ship, error) {
	if f.URL == "" {
		return nil, nil
	}
	policy := logship.DropNewest
	switch f.Full {
	case "drop":
	case "block":
		policy = logship.Block
	default:
		return nil, Usagef("-ship-full %q: give drop or block", f.Full)
	}
	sink, err := bulk.New(bulk.Options{Kind: bulk.Kind(strings.ToLower(f.Kind)), URL: f.URL, Index: f.Index})
	if err != nil {
		return nil, Usagef("-ship-*: %v", err)
	}
	store, err := sqlite.Open(ctx, sqlite.Options{Path: f.DB})
	if err != nil {
		return nil, err
	}
	s, err := newShip(store, sink, f, policy, clk, logger)
	if err != nil {
		return nil, errors.Join(Usagef("-ship-*: %v", err), store.Close())
	}
	return s, nil
}

func newShip(store *sqlite.Store, sink logship.Sink, f *ShipFlags, policy logship.FullPolicy, clk clock.Clock, logger *slog.Logger) (*Ship, error) {
	q, err := store.LogQueue(sqlite.LogQueueOptions{MaxRows: f.MaxRows, MaxBytes: f.MaxBytes, Clock: clk})
	if err != nil {
		return nil, err
	}
	s := &Ship{store: store}
	if s.buffer, err = logship.NewBuffer(logship.BufferOptions{Queue: q, Policy: policy, BlockFor: f.BlockFor, Clock: clk,
		Fallback: logger.Handler(), Added: func() { s.shipper.Wake() }}); err != nil {
		return nil, err
	}
	if s.shipper, err = logship.NewShipper(logship.ShipperOptions{Queue: s.buffer, Sink: sink, Clock: clk, Log: logger}); err != nil {
		return nil, err
	}
	h, err := logship.NewHandler(s.buffer, logship.HandlerOptions{Level: levelOf(logger)})
	if err != nil {
		return nil, err
	}
	aud, err := logship.NewAuditor(s.buffer)
	if err != nil {
		return nil, err
	}
	s.Logger = slog.New(slog.NewMultiHandler(logger.Handler(), untilClosed{h, &s.closed}))
	local := mgmt.SlogAuditor(logger)
	s.Auditor = mgmt.AuditFunc(func(ctx context.Context, e mgmt.AuditEvent) {
		local.Audit(ctx, e)
		if !s.closed.Load() {
			aud.Audit(ctx, e)
		}
	})
	return s, nil
}

// levelOf is the lowest level logger writes.
func levelOf(logger *slog.Logger) slog.Level {
	for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn} {
		if logger.Enabled(context.Background(), l) {
			return l
		}
	}
	return slog.LevelError
}

// Run ships until ctx ends (a Server's loop). What is left stays in the
// queue for the next start.
func (s *Ship) Run(ctx context.Context) { _ = s.shipper.Run(ctx) }

// Stats returns the shipper's counters and the records dropped when the
// queue was full.
func (s *Ship) Stats() (logship.Stats, int64) { return s.shipper.Stats(), s.buffer.Dropped() }

// Depth returns what the queue holds.
func (s *Ship) Depth(ctx context.Context) (logship.Depth, error) { return s.buffer.Depth(ctx) }

// Close closes the queue's database. Records logged after it (the
// host's last lines) go to the host's logger only.
func (s *Ship) Close() error {
	s.closed.Store(true)
	return s.store.Close()
}

// untilClosed is h until the Ship closes, then nothing.
type untilClosed struct {
	slog.Handler
	closed *atomic.Bool
}

func (u untilClosed) Enabled(ctx context.Context, l slog.Level) bool {
	return !u.closed.Load() && u.Handler.Enabled(ctx, l)
}

func (u untilClosed) Handle(ctx context.Context, r slog.Record) error {
	if u.closed.Load() {
		return nil
	}
	return u.Handler.Handle(ctx, r)
}

func (u untilClosed) WithAttrs(as []slog.Attr) slog.Handler {
	return untilClosed{u.Handler.WithAttrs(as), u.closed}
}

func (u untilClosed) WithGroup(name string) slog.Handler {
	return untilClosed{u.Handler.WithGroup(name), u.closed}
}

// Start puts the Ship's logger and auditor in *logger and *audit, starts
// shipping, and returns the function that stops it and closes the
// queue: call it after the host's last line (what is queued then goes
// after the next start). A nil Ship (no -ship) changes nothing.
func (s *Ship) Start(logger **slog.Logger, audit *mgmt.Auditor) (stop func()) {
	if s == nil {
		return func() {}
	}
	local := *logger
	*logger, *audit = s.Logger, s.Auditor
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
		if err := s.Close(); err != nil {
			local.Warn("logship: closing the queue", "err", err)
		}
	}
}
