package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/internal/groupcommit"
)

// Options configure a Store.
type Options struct {
	// DSN is a libpq connection string: a URL
	// ("postgres://user:pass@host:5432/db?sslmode=verify-full") or
	// key=value pairs. pgx's settings (pool_max_conns,
	// default_query_exec_mode, …) may appear in it. Required.
	DSN string
	// MaxConns bounds the connection pool; 0 keeps pgx's default (the
	// larger of 4 and the number of CPUs), or pool_max_conns from the DSN.
	MaxConns int32
}

// Store is a budget.Store on PostgreSQL. Create it with Open; it is safe for
// concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	closed atomic.Bool

	patchGroup groupcommit.Group[*patchTx] // the group commit of every PatchStore of s
}

// Open connects to the database, brings its schema up to date and returns
// the store. Several processes may Open the same database at once: the
// migrations run one at a time under a transaction-scoped advisory lock. A
// database whose schema is newer than this build knows is refused with an
// error wrapping ErrSchemaTooNew.
//
// Errors: a bad DSN or option is of kind invalid (the message never repeats
// the DSN, which may hold a password); a server that cannot be reached, or
// ctx ending, is of kind unavailable.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.DSN == "" {
		return nil, mgmt.Invalid("dsn", "is required")
	}
	if opts.MaxConns < 0 {
		return nil, mgmt.Invalid("maxConns", "must be ≥ 0, got %d", opts.MaxConns)
	}
	cfg, err := pgxpool.ParseConfig(opts.DSN)
	if err != nil {
		// pgx's message quotes the DSN, redacting passwords only on a best
		// effort basis: say nothing of it.
		return nil, mgmt.Invalid("dsn", "is not a PostgreSQL connection string (a postgres:// URL or key=value pairs); it is not shown here as it may hold a password")
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, wrap(ctx, "open", err)
	}
	s := &Store{pool: pool}
	s.patchGroup.Commit = s.commitPatches
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	if err := fillWindows(ctx, pool); err != nil {
		pool.Close()
		return nil, wrap(ctx, "migrate: patch windows", err)
	}
	return s, nil
}

// Close closes the pool's connections, waiting for those in use to be
// released. Calls after the first do nothing; methods called after Close
// fail with an error of kind unavailable.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.pool.Close()
	return nil
}

// ready reports ctx's end or a closed store before any work.
func (s *Store) ready(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return mgmt.Unavailable("postgres: %s: %w", op, err)
	}
	if s.closed.Load() {
		return mgmt.Unavailable("postgres: %s: the store is closed", op)
	}
	return nil
}

// wrap gives err a kind: unavailable for ctx's end, connection failures
// and transient server states; invalid for data the server rejects;
// internal otherwise.
func wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return mgmt.Unavailable("postgres: %s: %w", op, cerr)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch class := pgErr.Code[:2]; class {
		case "08", // connection exception
			"40", // transaction rollback: serialization failure, deadlock
			"53", // insufficient resources
			"57", // operator intervention: shutdown, cancel, cannot connect now
			"58": // system error (I/O)
			return mgmt.Unavailable("postgres: %s: %w", op, err)
		case "22", "23": // data exception, integrity constraint violation
			return mgmt.Errorf(mgmt.KindInvalid, "", "postgres: %s: %w", op, err)
		}
		return mgmt.Errorf(mgmt.KindInternal, "", "postgres: %s: %w", op, err)
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &connErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, pgconn.ErrConnClosed) ||
		pgconn.Timeout(err) || pgconn.SafeToRetry(err) {
		return mgmt.Unavailable("postgres: %s: %w", op, err)
	}
	return mgmt.Errorf(mgmt.KindInternal, "", "postgres: %s: %w", op, err)
}

// errorf is fmt.Errorf for the package's internal errors.
func errorf(format string, args ...any) error { return fmt.Errorf("postgres: "+format, args...) }
