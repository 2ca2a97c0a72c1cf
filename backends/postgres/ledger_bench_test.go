package postgres_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/postgres"
	"github.com/hms-platform/mgmt/ledger"
)

// benchClients is how many clients submit transfers at once.
const benchClients = 64

// BenchmarkLedger has 64 clients submit transfers, one per call, from one
// hot account (DebitsMustNotExceedCredits, funded) to another, durably
// (fsync and synchronous_commit on; the benchmark checks the server's
// fsync). ns/op is per transfer.
//
//   - group-commit: the Durable over LedgerStorage: the clients' calls
//     gathered into groups, one transaction each. Reports transfers/s and
//     the mean group size.
//   - row-locks: the usual way, for comparison: a transaction per
//     transfer that locks both accounts' rows (SELECT … FOR UPDATE, in ID
//     order), checks the flag, inserts the transfer, updates both
//     balances and commits, from as many connections as clients.
func BenchmarkLedger(b *testing.B) {
	b.Run("group-commit", func(b *testing.B) {
		s := benchStore(b, 0)
		d, err := s.Ledger(ledger.DurableOptions{})
		if err != nil {
			b.Fatal(err)
		}
		ledgerAccounts(b, d, mgmt.Money(1)<<60)
		var next atomic.Uint64
		next.Store(1000)
		b.ResetTimer()
		{ // b.N transfers, shared by the clients
			groups := d.Groups()
			start := time.Now()
			runClients(b, b.N, func(ctx context.Context) error {
				x := ledger.Transfer{ID: next.Add(1), DebitAccountID: hot, CreditAccountID: payee, Amount: 1}
				res, err := d.CreateTransfers(ctx, []ledger.Transfer{x})
				if err == nil && res[0].Code != ledger.TransferOK {
					err = errors.New(res[0].Code.String())
				}
				return err
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "transfers/s")
			b.ReportMetric(float64(b.N)/float64(d.Groups()-groups), "transfers/group")
		}
	})
	b.Run("row-locks", func(b *testing.B) {
		s := benchStore(b, benchClients)
		d, err := s.Ledger(ledger.DurableOptions{}) // to create the accounts
		if err != nil {
			b.Fatal(err)
		}
		ledgerAccounts(b, d, mgmt.Money(1)<<60)
		pool := postgres.Pool(s)
		var next atomic.Uint64
		next.Store(1000)
		ts := time.Now().UnixNano()
		var tsNext atomic.Int64
		tsNext.Store(ts)
		b.ResetTimer()
		{
			start := time.Now()
			runClients(b, b.N, func(ctx context.Context) error {
				return rowLockTransfer(ctx, pool, next.Add(1), hot, payee, 1, tsNext.Add(1))
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "transfers/s")
		}
	})
}

// benchStore opens a store on a fresh database of the test server, after
// checking that the server syncs to disk.
func benchStore(b *testing.B, maxConns int32) *postgres.Store {
	b.Helper()
	dsn := srv.NewDatabase(b)
	s, err := postgres.Open(ctxFor(b), postgres.Options{DSN: dsn, MaxConns: maxConns})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	var fsync, syncCommit string
	conn := connect(b, dsn)
	if err := conn.QueryRow(ctxFor(b), "SELECT current_setting('fsync'), current_setting('synchronous_commit')").Scan(&fsync, &syncCommit); err != nil {
		b.Fatal(err)
	}
	if fsync != "on" {
		b.Fatalf("the server runs with fsync=%s: the numbers would not be durable ones", fsync)
	}
	b.Logf("server: fsync=%s synchronous_commit=%s (the ledger sets it on for its transactions)", fsync, syncCommit)
	return s
}

// runClients runs n calls of fn from benchClients goroutines.
func runClients(b *testing.B, n int, fn func(ctx context.Context) error) {
	var left atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	for range benchClients {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if err := fn(context.Background()); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
}

// rowLockTransfer is a transfer the usual way, in its own transaction: lock
// both accounts' rows in ID order, check the debit account's flag, insert
// the transfer with the posted totals after it, update both balances.
func rowLockTransfer(ctx context.Context, pool *pgxpool.Pool, id, dr, cr uint64, amount int64, ts int64) error {
	enc := func(v uint64) int64 { return int64(v ^ 1<<63) }
	return pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, flags, debits_pending, debits_posted, credits_posted FROM ledger_accounts
WHERE id = ANY($1) ORDER BY id FOR UPDATE`, []int64{enc(dr), enc(cr)})
		if err != nil {
			return err
		}
		type acct struct{ flags, dp, dpo, cpo int64 }
		accts := map[int64]*acct{}
		var aid int64
		var a acct
		if _, err := pgx.ForEachRow(rows, []any{&aid, &a.flags, &a.dp, &a.dpo, &a.cpo}, func() error {
			c := a
			accts[aid] = &c
			return nil
		}); err != nil {
			return err
		}
		d, c := accts[enc(dr)], accts[enc(cr)]
		if d == nil || c == nil {
			return errors.New("account not found")
		}
		if d.flags&int64(ledger.DebitsMustNotExceedCredits) != 0 && d.dp+d.dpo+amount > d.cpo {
			return errors.New("exceeds credits")
		}
		var batch pgx.Batch
		batch.Queue(`INSERT INTO ledger_transfers (id, debit, credit, amount, timeout, flags, code, user_data, ts,
	dr_debits_posted, dr_credits_posted, cr_debits_posted, cr_credits_posted)
VALUES ($1, $2, $3, $4, 0, 0, 0, $5, $6, $7, $8, $9, $10)`,
			enc(id), enc(dr), enc(cr), amount, enc(0), ts, d.dpo+amount, d.cpo, 0, c.cpo+amount)
		batch.Queue(`UPDATE ledger_accounts SET debits_posted = debits_posted + $2 WHERE id = $1`, enc(dr), amount)
		batch.Queue(`UPDATE ledger_accounts SET credits_posted = credits_posted + $2 WHERE id = $1`, enc(cr), amount)
		return tx.SendBatch(ctx, &batch).Close()
	})
}
