package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/internal/groupcommit"
	"github.com/hms-platform/mgmt/budget"
)

// Memory is the Path of a private, in-memory database: nothing survives
// Close.
const Memory = ":memory:"

// Options configure Open.
type Options struct {
	// Path is the database file, created (with its directory's
	// permissions) when missing, or Memory. Required.
	Path string
	// MaxReaders bounds the connections that serve reads (Cap, Caps,
	// Spend, Alerts) at once; the default is 4. Writes go through one
	// connection of their own.
	MaxReaders int
	// BusyTimeout is how long a statement waits for a lock another process
	// holds on the file before it fails with an error of kind unavailable;
	// the default is 5s. Writers in this process wait for each other in
	// Go, under their contexts, and never for this.
	BusyTimeout time.Duration
	// WriterCache and ReaderCache bound SQLite's page cache (PRAGMA
	// cache_size, in whole KiB) of the write connection and of each read
	// connection, in bytes; the defaults are 64 MiB and 16 MiB. The page
	// cache is most of a Store's memory once its database outgrows it (a
	// long logship queue does): the process's resident set grows to about
	// twice the writer's cache on top of the Go runtime's.
	WriterCache, ReaderCache int64
}

const (
	defaultMaxReaders  = 4
	defaultBusyTimeout = 5 * time.Second
	defaultWriterCache = 64 << 20
	defaultReaderCache = 16 << 20
)

// Store is a budget.Store in a SQLite database. Open returns one; it is safe
// for concurrent use.
type Store struct {
	path string
	w    *sql.DB // one connection: every write
	r    *sql.DB // the read pool; w itself for Memory

	insert       [chunkBits + 1]*sql.Stmt // [i]: the INSERT of 1<<i records
	putCap       *sql.Stmt
	markAlert    *sql.Stmt
	spendService *sql.Stmt

	patchGroup groupcommit.Group[*writeTx] // the group commit of every PatchStore of s
	patchStmts map[string]*sql.Stmt        // writeQueries, prepared on w

	ledgerW, ledgerR stmtCache // the ledger's statements, prepared on first use on w and r
	auditW, auditR   stmtCache // the audit chain's, likewise

	closeOnce sync.Once
	closeErr  error
}

var _ budget.Store = (*Store)(nil)

// Open opens (creating when missing) the database at opts.Path and
// migrates its schema to LatestVersion in one transaction. A database
// whose schema is newer than this build's is refused with an error
// wrapping ErrSchemaTooNew. Close the Store when done.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.MaxReaders == 0 {
		opts.MaxReaders = defaultMaxReaders
	}
	if opts.BusyTimeout == 0 {
		opts.BusyTimeout = defaultBusyTimeout
	}
	if opts.WriterCache == 0 {
		opts.WriterCache = defaultWriterCache
	}
	if opts.ReaderCache == 0 {
		opts.ReaderCache = defaultReaderCache
	}
	s := &Store{path: opts.Path}
	s.patchGroup.Commit = s.commitPatches
	ok := false
	defer func() {
		if !ok {
			_ = s.Close()
		}
	}()

	var err error
	if s.w, err = sql.Open("sqlite", dsn(opts, writerParams+cacheParam(opts.WriterCache))); err != nil {
		return nil, s.fail(ctx, "open "+opts.Path, err)
	}
	// The one write connection lives as long as the Store: for Memory it
	// is the database.
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if err := migrateRetrying(ctx, s.w, opts); err != nil {
		return nil, s.fail(ctx, "migrate "+opts.Path, err)
	}
	if err := fillWindows(ctx, s.w); err != nil {
		return nil, s.fail(ctx, "migrate "+opts.Path+": patch windows", err)
	}

	if opts.Path == Memory {
		s.r = s.w
	} else {
		if s.r, err = sql.Open("sqlite", dsn(opts, readerParams+cacheParam(opts.ReaderCache))); err != nil {
			return nil, s.fail(ctx, "open "+opts.Path, err)
		}
		s.r.SetMaxOpenConns(opts.MaxReaders)
		s.r.SetMaxIdleConns(opts.MaxReaders)
		s.r.SetConnMaxIdleTime(time.Minute)
	}
	s.ledgerW.db, s.ledgerR.db = s.w, s.r
	s.auditW.db, s.auditR.db = s.w, s.r

	for _, p := range []struct {
		stmt  **sql.Stmt
		db    *sql.DB
		query string
	}{
		{&s.putCap, s.w, `INSERT INTO caps (id, cap) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET cap = excluded.cap`},
		{&s.markAlert, s.w, `INSERT INTO alerts (cap_id, period, forecast, percent, seq, amount_cents, value_cents, at_s, at_ns, target)
VALUES (?1, ?2, ?3, ?4, (SELECT IFNULL(MAX(seq), 0) + 1 FROM alerts WHERE cap_id = ?1 AND period = ?2), ?5, ?6, ?7, ?8, ?9)
ON CONFLICT DO NOTHING`},
		{&s.spendService, s.r, `SELECT SUM(amount_cents) FROM records WHERE service = ? AND at >= ? AND at < ?`},
	} {
		if *p.stmt, err = p.db.PrepareContext(ctx, p.query); err != nil {
			return nil, s.fail(ctx, "prepare", err)
		}
	}
	s.patchStmts = map[string]*sql.Stmt{}
	for _, q := range writeQueries() {
		st, err := s.w.PrepareContext(ctx, q)
		if err != nil {
			return nil, s.fail(ctx, "prepare", err)
		}
		s.patchStmts[q] = st
	}
	for i := range s.insert {
		if s.insert[i], err = s.w.PrepareContext(ctx, insertSQL(1<<i)); err != nil {
			return nil, s.fail(ctx, "prepare", err)
		}
	}
	ok = true
	return s, nil
}

// The connections' settings (modernc.org/sqlite DSN parameters, applied
// to each connection as it opens):
//
//   - journal_mode=WAL: readers and the writer do not block each other;
//   - synchronous=FULL: a commit is on disk when the call returns (WAL
//     and NORMAL would lose the last commits at a power cut);
//   - _txlock=immediate: a write transaction takes the lock as it begins,
//     so that it never fails part-way for a lock another process holds;
//   - temp_store=memory: statement journals stay in memory;
//   - cache_size: Options.WriterCache for the writer (64 MiB by
//     default), Options.ReaderCache per reader (16 MiB);
//   - query_only on the readers, so that a write there is a bug caught.
const (
	writerParams = "&_journal_mode=wal&_txlock=immediate&_pragma=temp_store(memory)"
	readerParams = "&_query_only=on"
)

// cacheParam is the cache_size pragma for a page cache of bytes (a
// negative cache_size counts KiB).
func cacheParam(bytes int64) string {
	return "&_pragma=cache_size(-" + strconv.FormatInt(max(bytes>>10, 1), 10) + ")"
}

func dsn(opts Options, params string) string {
	return opts.Path + "?_busy_timeout=" + strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10) +
		"&_foreign_keys=on&_synchronous=full" + params
}

func (o *Options) validate() error {
	switch {
	case o.Path == "":
		return mgmt.Invalid("path", "is required: a file, or %q", Memory)
	case strings.ContainsAny(o.Path, "?#"):
		return mgmt.Invalid("path", "%q: '?' and '#' are not allowed in a database path", o.Path)
	case strings.HasPrefix(o.Path, "file:"):
		return mgmt.Invalid("path", "%q: give a file path, not a URI", o.Path)
	case o.MaxReaders < 0:
		return mgmt.Invalid("maxReaders", "must be ≥ 0, got %d", o.MaxReaders)
	case o.BusyTimeout < 0:
		return mgmt.Invalid("busyTimeout", "must be ≥ 0, got %s", o.BusyTimeout)
	case o.WriterCache < 0:
		return mgmt.Invalid("writerCache", "must be ≥ 0, got %d", o.WriterCache)
	case o.ReaderCache < 0:
		return mgmt.Invalid("readerCache", "must be ≥ 0, got %d", o.ReaderCache)
	}
	return nil
}

// Close closes the database. Calls after the first return the first's
// result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		stmts := append(s.insert[:], s.putCap, s.markAlert, s.spendService)
		for _, st := range s.patchStmts {
			stmts = append(stmts, st)
		}
		errs = append(errs, s.ledgerW.close()...)
		errs = append(errs, s.ledgerR.close()...)
		errs = append(errs, s.auditW.close()...)
		errs = append(errs, s.auditR.close()...)
		for _, st := range stmts {
			if st != nil {
				errs = append(errs, st.Close())
			}
		}
		if s.r != nil && s.r != s.w {
			errs = append(errs, s.r.Close())
		}
		if s.w != nil {
			errs = append(errs, s.w.Close())
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("sqlite: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// fail maps err, from an operation on ctx, to the module's error kinds: the
// migrateRetrying runs migrate, again while the file is busy for at most
// the busy timeout: a connection opening a file that another process is
// creating or migrating can get SQLITE_BUSY at once, before the busy
// handler applies (switching the file to WAL needs an exclusive lock).
func migrateRetrying(ctx context.Context, db *sql.DB, opts Options) error {
	deadline := time.Now().Add(opts.BusyTimeout) // a bound on waiting, not a clock the store reads
	wait := 5 * time.Millisecond
	for {
		_, _, err := migrate(ctx, db, opts.Path)
		var se *sqlite3.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3lib.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// fail maps err, from an operation on ctx, to the module's error kinds: the
// end of ctx, and a lock that another process held too long, are
// unavailable; a kind already set is kept; anything else is internal.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return mgmt.Unavailable("sqlite: %s: %w", op, cerr)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return mgmt.Unavailable("sqlite: %s: %w", op, err)
	}
	var se *sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3lib.SQLITE_BUSY, sqlite3lib.SQLITE_LOCKED:
			return mgmt.Unavailable("sqlite: %s: %w", op, err)
		}
	}
	var me *mgmt.Error
	if errors.As(err, &me) {
		return err
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// checkCtx returns the error of a call whose context has already ended.
func checkCtx(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return mgmt.Unavailable("sqlite: %s: %w", op, err)
	}
	return nil
}
