package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// AppendLabels exposes appendLabels to the fuzz test.
var AppendLabels = appendLabels

// EmptyLedger deletes every account and transfer of s's ledger, for the
// tests that reuse a database.
func EmptyLedger(ctx context.Context, s *Store) error {
	var b pgx.Batch
	b.Queue("TRUNCATE ledger_transfers, ledger_accounts")
	b.Queue("UPDATE ledger_meta SET last = NULL")
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, &b).Close() })
}

// Pool returns s's pool, for the benchmark of the usual way.
func Pool(s *Store) *pgxpool.Pool { return s.pool }
