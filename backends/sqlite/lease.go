package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/hms-platform/mgmt/lease"
)

// Leases is a lease.Lock in a SQLite database: the table leases, next to
// the budget's and the patches'. Get one from (*Store).Leases or
// (*PatchStore).Leases; it is safe for concurrent use, by every process
// that opens the file.
//
// Expiries are Unix microseconds by the host's wall clock: the processes
// sharing a file share a host, and its clock. Acquire and Release are
// write transactions (BEGIN IMMEDIATE) on the database's one write
// connection, reading the clock once they hold SQLite's write lock;
// Acquire is one INSERT … ON CONFLICT DO UPDATE … WHERE statement, so of
// holders racing for a free lease, in this process or others, exactly one
// takes it. Holder reads on the read pool.
type Leases struct {
	s *Store
}

var _ lease.Lock = (*Leases)(nil)

// Leases returns the lease.Lock kept in s's database. It shares s's
// connections: s.Close closes it.
func (s *Store) Leases() *Leases { return &Leases{s: s} }

// Leases returns the lease.Lock kept in p's database. It shares p's
// connections: it works until the database closes (p.Close, when p came
// from OpenPatches; the Store's Close, when p came from Store.Patches).
func (p *PatchStore) Leases() *Leases { return p.s.Leases() }

// Acquire implements lease.Lock. It takes the lease when it has no row,
// when its row is holder's (a renewal) or when its row has expired, in
// one statement; no row changed means another holder has it.
func (l *Leases) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	op := "acquire lease " + strconv.Quote(name)
	if err := checkCtx(ctx, op); err != nil {
		return false, err
	}
	if err := lease.Check(name, holder, ttl); err != nil {
		return false, err
	}
	var took bool
	err := l.s.write(ctx, op, func(tx *sql.Tx) error {
		now := time.Now().UnixMicro() // under the write lock
		res, err := tx.ExecContext(ctx, `INSERT INTO leases (name, holder, expires_us) VALUES (?1, ?2, ?3)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_us = excluded.expires_us
WHERE leases.holder = excluded.holder OR leases.expires_us <= ?4`,
			name, holder, now+ttl.Microseconds(), now)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		took = n == 1
		return err
	})
	if err != nil {
		return false, err
	}
	return took, nil
}

// Release implements lease.Lock.
func (l *Leases) Release(ctx context.Context, name, holder string) error {
	op := "release lease " + strconv.Quote(name)
	if err := checkCtx(ctx, op); err != nil {
		return err
	}
	if err := lease.CheckRelease(name, holder); err != nil {
		return err
	}
	return l.s.write(ctx, op, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder)
		return err
	})
}

// Holder implements lease.Lock.
func (l *Leases) Holder(ctx context.Context, name string) (string, error) {
	op := "lease holder " + strconv.Quote(name)
	if err := checkCtx(ctx, op); err != nil {
		return "", err
	}
	if err := lease.CheckName(name); err != nil {
		return "", err
	}
	var holder string
	err := l.s.r.QueryRowContext(ctx, `SELECT holder FROM leases WHERE name = ? AND expires_us > ?`, name, time.Now().UnixMicro()).Scan(&holder)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", l.s.fail(ctx, op, err)
	}
	return holder, nil
}
