package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hms-platform/mgmt/lease"
)

// Leases is a lease.Lock on PostgreSQL: the table mgmt_leases, next to
// the budget's and the patches'. Get one from (*Store).Leases or
// (*PatchStore).Leases; it is safe for concurrent use, by every host of a
// deployment at once.
//
// Expiries are by the server's clock (clock_timestamp(), which advances
// within a transaction, unlike now()), never by the hosts': replicas on
// hosts whose clocks disagree still agree on who holds a lease. Acquire is
// one INSERT … ON CONFLICT DO UPDATE … WHERE statement, atomic on its
// own: of holders racing for a free lease, exactly one takes it.
type Leases struct {
	s *Store
}

var _ lease.Lock = (*Leases)(nil)

// Leases returns the lease.Lock kept in s's database. It shares s's pool:
// s.Close closes it.
func (s *Store) Leases() *Leases { return &Leases{s: s} }

// Leases returns the lease.Lock kept in p's database. It shares p's pool:
// it works until the pool closes (p.Close, when p came from OpenPatches;
// the Store's Close, when p came from Store.Patches).
func (p *PatchStore) Leases() *Leases { return p.s.Leases() }

// Acquire implements lease.Lock. It takes the lease when it has no row,
// when its row is holder's (a renewal) or when its row has expired, in
// one statement; no row back means another holder has it.
func (l *Leases) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	op := "acquire lease " + strconv.Quote(name)
	if err := l.s.ready(ctx, op); err != nil {
		return false, err
	}
	if err := lease.Check(name, holder, ttl); err != nil {
		return false, err
	}
	var got string
	err := l.s.pool.QueryRow(ctx, `INSERT INTO mgmt_leases AS l (name, holder, expires_at)
VALUES ($1, $2, clock_timestamp() + $3::interval)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE l.holder = excluded.holder OR l.expires_at <= clock_timestamp()
RETURNING holder`, name, holder, ttl).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, wrap(ctx, op, err)
	}
	return got == holder, nil
}

// Release implements lease.Lock.
func (l *Leases) Release(ctx context.Context, name, holder string) error {
	op := "release lease " + strconv.Quote(name)
	if err := l.s.ready(ctx, op); err != nil {
		return err
	}
	if err := lease.CheckRelease(name, holder); err != nil {
		return err
	}
	_, err := l.s.pool.Exec(ctx, `DELETE FROM mgmt_leases WHERE name = $1 AND holder = $2`, name, holder)
	return wrap(ctx, op, err)
}

// Holder implements lease.Lock.
func (l *Leases) Holder(ctx context.Context, name string) (string, error) {
	op := "lease holder " + strconv.Quote(name)
	if err := l.s.ready(ctx, op); err != nil {
		return "", err
	}
	if err := lease.CheckName(name); err != nil {
		return "", err
	}
	var holder string
	err := l.s.pool.QueryRow(ctx, `SELECT holder FROM mgmt_leases WHERE name = $1 AND expires_at > clock_timestamp()`, name).Scan(&holder)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", wrap(ctx, op, err)
	}
	return holder, nil
}
