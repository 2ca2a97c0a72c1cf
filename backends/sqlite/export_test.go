package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"testing"
)

// Exported for the tests of package sqlite_test.
var (
	TimeKey        = timeKey
	BoundKey       = boundKey
	AppendLabels   = appendLabels
	LoadMigrations = func(fsys fs.FS) (int, error) {
		ms, err := loadMigrations(fsys)
		return len(ms), err
	}
)

// Pragma returns a pragma's value on the write connection, or on a read
// connection.
func (s *Store) Pragma(ctx context.Context, reader bool, name string) (string, error) {
	db := s.w
	if reader {
		db = s.r
	}
	var v string
	err := db.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v)
	return v, err
}

// TotalChanges returns SQLite's count of rows the write connection has
// inserted, updated or deleted since it opened.
func (p *PatchStore) TotalChanges(tb testing.TB) int64 {
	tb.Helper()
	var n int64
	if err := p.s.w.QueryRowContext(tb.Context(), "SELECT total_changes()").Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// QueuedWrites returns the patch writes waiting for the next group.
func (p *PatchStore) QueuedWrites() int { return p.s.patchGroup.Queued() }

// GroupCommits returns the group transactions committed.
func (p *PatchStore) GroupCommits() int64 { return p.s.patchGroup.Commits() }

// Exec runs a statement on the write connection.
func (s *Store) Exec(ctx context.Context, query string) error {
	_, err := s.w.ExecContext(ctx, query)
	return err
}

// WriteDB returns the database handle of the one write connection.
func (s *Store) WriteDB() *sql.DB { return s.w }
