package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"

	mgmt "github.com/hms-platform/mgmt"
)

// ErrSchemaTooNew is wrapped by Open when the database's schema is at a
// version newer than this build's migrations: a newer build wrote it, and
// this one might misread it. Run the newer build, or restore a backup.
var ErrSchemaTooNew = errors.New("database schema is newer than this build knows")

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one file of migrations/, "0001_init.sql": version 1.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order, from 1.
// A gap in the numbers is accepted (a migration numbered ahead of one
// still being written on another branch): migrate applies every
// migration the database has not recorded, whatever the highest it has.
var migrations = sync.OnceValues(func() ([]migration, error) { return loadMigrations(migrationFS) })

func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, name := range names { // sorted
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		prev := 0
		if len(out) > 0 {
			prev = out[len(out)-1].version
		}
		if !ok || err != nil || len(num) != 4 || v <= prev || (prev == 0 && v != 1) {
			return nil, fmt.Errorf("sqlite: migration %s: want the name NNNN_<what>.sql, numbered from 0001 and after %04d", base, prev)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: strings.TrimSuffix(base, ".sql"), sql: string(b)})
	}
	if len(out) == 0 {
		return nil, errors.New("sqlite: no migrations embedded")
	}
	return out, nil
}

// LatestVersion returns the schema version this build migrates a database
// to.
func LatestVersion() int {
	ms, err := migrations()
	if err != nil {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate brings the database at db (the writer) to the latest version, in
// one immediate transaction: a concurrent Open of the same file waits,
// then finds the work done. It returns the version found and the version
// left.
func migrate(ctx context.Context, db *sql.DB, where string) (from, to int, err error) {
	ms, err := migrations()
	if err != nil {
		return 0, 0, err
	}
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the DSN sets _txlock
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err = tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
) STRICT`); err != nil {
		return 0, 0, err
	}
	var current sql.NullInt64
	if err = tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&current); err != nil {
		return 0, 0, err
	}
	applied := map[int]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return 0, 0, err
	}
	for rows.Next() {
		var v int
		if err = rows.Scan(&v); err != nil {
			rows.Close()
			return 0, 0, err
		}
		applied[v] = true
	}
	if err = rows.Close(); err != nil {
		return 0, 0, err
	}
	from, latest := int(current.Int64), ms[len(ms)-1].version
	if from > latest {
		return from, from, mgmt.Errorf(mgmt.KindConflict, "", "sqlite: %s is at schema version %d, newer than the %d this build knows: %w",
			where, from, latest, ErrSchemaTooNew)
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if _, err = tx.ExecContext(ctx, m.sql); err != nil {
			return from, from, fmt.Errorf("sqlite: migration %s: %w", m.name, err)
		}
		if _, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at)
VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`, m.version, m.name); err != nil {
			return from, from, err
		}
	}
	if err = tx.Commit(); err != nil {
		return from, from, err
	}
	return from, latest, nil
}
