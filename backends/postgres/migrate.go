package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	mgmt "github.com/hms-platform/mgmt"
)

// ErrSchemaTooNew is wrapped by Open's error when the database's schema was
// migrated by a newer build than this one.
var ErrSchemaTooNew = errors.New("the database schema is newer than this build")

//go:embed migrations/*.sql
var migrationFiles embed.FS

// MigrationsTable records the applied migrations: version, name and
// applied_at.
const MigrationsTable = "mgmt_schema_migrations"

// migrationLock is the key of the advisory lock held while migrating:
// "hms-mgmt" in ASCII.
const migrationLock int64 = 0x686d732d6d676d74

type migration struct {
	version int64
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. Their
// files are named <version>_<name>.sql, such as 0001_budget.sql.
func migrations() ([]migration, error) {
	names, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		return nil, errorf("migrations: %w", err)
	}
	var out []migration
	for _, e := range names {
		v, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		version, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil || version <= 0 {
			return nil, errorf("migration file %s is not named <version>_<name>.sql", e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, errorf("migrations: %w", err)
		}
		out = append(out, migration{version, name, string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, errorf("two migrations have version %d", out[i].version)
		}
	}
	return out, nil
}

// SchemaVersion is the newest migration this build knows.
func SchemaVersion() int64 {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate applies the migrations the database lacks, all in one
// transaction that first takes the advisory lock: a concurrent Open waits
// for it, then finds nothing left to do.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].version
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
			return wrap(ctx, "migrate: lock", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+MigrationsTable+` (
	version    bigint      PRIMARY KEY,
	name       text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
			return wrap(ctx, "migrate: create "+MigrationsTable, err)
		}
		var current int64
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM "+MigrationsTable).Scan(&current); err != nil {
			return wrap(ctx, "migrate: read "+MigrationsTable, err)
		}
		if current > latest {
			return mgmt.Errorf(mgmt.KindConflict, "", "postgres: the database's schema is at version %d, and this build knows versions up to %d: %w; upgrade this program", current, latest, ErrSchemaTooNew)
		}
		for _, m := range ms {
			if m.version <= current {
				continue
			}
			// No arguments: the simple protocol, which runs several statements.
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return wrap(ctx, fmt.Sprintf("migrate: %d_%s", m.version, m.name), err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO "+MigrationsTable+" (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
				return wrap(ctx, "migrate: record version", err)
			}
		}
		return nil
	})
	var kinded *mgmt.Error
	if err != nil && !errors.As(err, &kinded) {
		return wrap(ctx, "migrate", err) // BEGIN or COMMIT failed
	}
	return err
}
