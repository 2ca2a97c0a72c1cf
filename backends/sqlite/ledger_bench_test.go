package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/ledger"
)

// benchClients is how many clients submit transfers at once.
const benchClients = 64

// Accounts of the benchmark: the hot debit account, which may not go
// below zero, the account it pays, and the account that funded it.
const (
	hotAccount  uint64 = 1
	payee       uint64 = 2
	funding     uint64 = 3
	fundingXfer uint64 = 1 << 40 // the ID of the transfer that funds hot
)

// ledgerFixture creates the three accounts in s and funds the hot one with
// funds cents.
func ledgerFixture(tb testing.TB, d *ledger.Durable, funds mgmt.Money) {
	tb.Helper()
	ctx := context.Background()
	ares, err := d.CreateAccounts(ctx, []ledger.Account{
		{ID: hotAccount, Name: "Treasury", Agency: "treasury", Currency: mgmt.Currency, Flags: ledger.DebitsMustNotExceedCredits},
		{ID: payee, Name: "GPO", Agency: "gpo", Currency: mgmt.Currency},
		{ID: funding, Name: "Funding", Agency: "treasury", Currency: mgmt.Currency},
	})
	require.NoError(tb, err)
	for _, r := range ares {
		require.NoError(tb, r.Err())
	}
	tres, err := d.CreateTransfers(ctx, []ledger.Transfer{{ID: fundingXfer, DebitAccountID: funding, CreditAccountID: hotAccount, Amount: funds}})
	require.NoError(tb, err)
	require.Equal(tb, ledger.TransferOK, tres[0].Code)
}

// BenchmarkLedger measures durable transfers (a file database,
// synchronous=FULL) from 64 concurrent clients, each submitting one
// transfer per call, all debiting one hot account whose balance limit is
// checked: through the ledger's group commit (Store.Ledger), and "the
// usual way", one database transaction per transfer on the same write
// connection. It reports transfers/s, and the mean group size.
func BenchmarkLedger(b *testing.B) {
	b.Run("GroupCommit", func(b *testing.B) {
		s := open(b)
		defer s.Close()
		d, err := s.Ledger(ledger.DurableOptions{})
		require.NoError(b, err)
		ledgerFixture(b, d, mgmt.Money(b.N+1))
		groups := d.Groups()
		ctx := context.Background()
		b.ResetTimer()
		start := time.Now()
		runClients(b, func(i uint64) error {
			res, err := d.CreateTransfers(ctx, []ledger.Transfer{{ID: i, DebitAccountID: hotAccount, CreditAccountID: payee, Amount: 1}})
			if err == nil && res[0].Code != ledger.TransferOK {
				err = res[0].Err()
			}
			return err
		})
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "transfers/s")
		b.ReportMetric(float64(b.N)/float64(d.Groups()-groups), "transfers/group")
	})
	b.Run("TxPerTransfer", func(b *testing.B) {
		s := open(b)
		defer s.Close()
		d, err := s.Ledger(ledger.DurableOptions{})
		require.NoError(b, err)
		ledgerFixture(b, d, mgmt.Money(b.N+1))
		u := newUsualWay(b, s)
		b.ResetTimer()
		start := time.Now()
		runClients(b, u.transfer)
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "transfers/s")
		b.ReportMetric(1, "transfers/group")
	})
}

// runClients runs benchClients goroutines that call do with the numbers 1
// to b.N, each once.
func runClients(b *testing.B, do func(i uint64) error) {
	var next atomic.Uint64
	var wg sync.WaitGroup
	errs := make(chan error, benchClients)
	for range benchClients {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > uint64(b.N) {
					return
				}
				if err := do(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// usualWay applies a simple transfer in a database transaction of its
// own: BEGIN IMMEDIATE, read the latest timestamp and both balances, check
// the debit account's limit, insert the transfer with its posted totals,
// update both balances and the latest timestamp, COMMIT. It shares the
// Store's write connection, as a hand-written SQLite store would.
type usualWay struct {
	db                                   *sql.DB
	last, balance, insert, update, stamp *sql.Stmt
}

var errExceedsCredits = errors.New("exceeds credits")

func newUsualWay(b *testing.B, s *sqlite.Store) *usualWay {
	db := s.WriteDB()
	u := &usualWay{db: db}
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{
		{&u.last, `SELECT last FROM ledger_meta WHERE id = 1`},
		{&u.balance, `SELECT flags, debits_pending, debits_posted, credits_pending, credits_posted FROM ledger_accounts WHERE id = ?`},
		{&u.insert, `INSERT INTO ledger_transfers (id, debit_id, credit_id, amount, pending_id, timeout, flags, code, user_data, ts, expires_at, status,
    dr_debits_posted, dr_credits_posted, cr_debits_posted, cr_credits_posted) VALUES (?, ?, ?, ?, 0, 0, 0, 0, 0, ?, NULL, 0, ?, ?, ?, ?)`},
		{&u.update, `UPDATE ledger_accounts SET debits_posted = ?2, credits_posted = ?3 WHERE id = ?1`},
		{&u.stamp, `UPDATE ledger_meta SET last = ?1 WHERE id = 1`},
	} {
		var err error
		*p.st, err = db.Prepare(p.q)
		require.NoError(b, err)
		b.Cleanup(func() { (*p.st).Close() })
	}
	return u
}

func (u *usualWay) transfer(id uint64) (err error) {
	ctx := context.Background()
	tx, err := u.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the store's DSN sets _txlock
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var last int64
	if err := tx.Stmt(u.last).QueryRowContext(ctx).Scan(&last); err != nil {
		return err
	}
	ts := max(time.Now().UnixNano(), last+1)
	var bal [2][5]int64
	for i, acct := range []uint64{hotAccount, payee} {
		b := &bal[i]
		if err := tx.Stmt(u.balance).QueryRowContext(ctx, int64(acct)).Scan(&b[0], &b[1], &b[2], &b[3], &b[4]); err != nil {
			return err
		}
	}
	dr, cr := bal[0], bal[1]
	const amount = 1
	if ledger.AccountFlags(dr[0])&ledger.DebitsMustNotExceedCredits != 0 && dr[1]+dr[2]+amount > dr[4] {
		return errExceedsCredits
	}
	dr[2] += amount
	cr[4] += amount
	if _, err := tx.Stmt(u.insert).ExecContext(ctx, int64(id), int64(hotAccount), int64(payee), amount, ts, dr[2], dr[4], cr[2], cr[4]); err != nil {
		return err
	}
	if _, err := tx.Stmt(u.update).ExecContext(ctx, int64(hotAccount), dr[2], dr[4]); err != nil {
		return err
	}
	if _, err := tx.Stmt(u.update).ExecContext(ctx, int64(payee), cr[2], cr[4]); err != nil {
		return err
	}
	if _, err := tx.Stmt(u.stamp).ExecContext(ctx, ts); err != nil {
		return err
	}
	return tx.Commit()
}
