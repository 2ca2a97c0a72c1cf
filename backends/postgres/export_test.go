package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// AppendLabels exposes appendLabels to the fuzz test.
var AppendLabels = appendLabels

// EmptyLedger deletes every account and transfer of s's ledger, for the
// tests that reuse a database, and vacuums the tables (cheaper than
// TRUNCATE, which makes new files, for a few rows).
func EmptyLedger(ctx context.Context, s *Store) error {
	var b pgx.Batch
	b.Queue("DELETE FROM ledger_transfers")
	b.Queue("DELETE FROM ledger_accounts")
	b.Queue("UPDATE ledger_meta SET last = NULL")
	if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, &b).Close() }); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, "VACUUM ledger_transfers, ledger_accounts")
	return err
}

// Pool returns s's pool, for the benchmark of the usual way.
func Pool(s *Store) *pgxpool.Pool { return s.pool }
