package postgres

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger"
)

// LedgerStorage is a ledger.Storage on PostgreSQL: the tables
// ledger_accounts, ledger_transfers and ledger_meta of the store's
// database. Get one from (*Store).LedgerStorage, or a ready ledger from
// (*Store).Ledger; it shares the store's pool and is safe for concurrent
// use. Several processes may hold a ledger over the same database: each
// group's transaction first locks ledger_meta's one row, so groups apply
// one at a time across all of them.
//
// A group's transaction is READ COMMITTED (after the lock, each statement
// sees what the previous writer committed) with synchronous_commit on,
// whatever the session's or the server's default: an acknowledged transfer
// is on disk. It takes six round trips whatever its size: BEGIN with the
// lock, the pending transfers due, the transfers and the accounts the
// group names (each one statement with = ANY($1)), everything it decided
// in one pipelined batch (multi-row INSERTs from unnest(…) arrays, UPDATEs
// from unnest(…)), and COMMIT.
type LedgerStorage struct {
	s *Store

	// accounts caches the accounts found: an account never changes
	// (its balances live in its row, but are not cached) and is never
	// deleted, so an account once read is the same for every process.
	mu       sync.Mutex
	accounts map[uint64]ledger.Account
}

// maxCachedAccounts bounds LedgerStorage.accounts: when full, it starts
// over.
const maxCachedAccounts = 1 << 16

var _ ledger.Storage = (*LedgerStorage)(nil)

// LedgerStorage returns the ledger.Storage kept in s's database. It shares
// s's pool: s.Close closes it.
func (s *Store) LedgerStorage() *LedgerStorage {
	return &LedgerStorage{s: s, accounts: map[uint64]ledger.Account{}}
}

// Ledger returns a ledger (ledger.Durable: group commit, the rules of
// package ledger) over s's database, with opts. It shares s's pool: s.Close
// closes it. Each group of concurrent calls is one transaction, committed
// durably.
func (s *Store) Ledger(opts ledger.DurableOptions) (*ledger.Durable, error) {
	return ledger.NewDurable(s.LedgerStorage(), opts)
}

// The encodings. A uint64 is stored as v - 2^63 (the bit pattern with the
// top bit flipped), so that bigint order is uint64 order.
func encID(v uint64) int64 { return int64(v ^ 1<<63) }
func decID(v int64) uint64 { return uint64(v) ^ 1<<63 }

func encIDs(ids []uint64) []int64 {
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = encID(id)
	}
	return out
}

// Times are Unix nanoseconds. nanos clamps a time outside int64's range
// (years 1678 to 2262; the zero time among them) to its ends, which is
// exact for comparisons with stored times; stamp refuses such a time.
func nanos(t time.Time) int64 {
	switch s := t.Unix(); {
	case s < math.MinInt64/int64(time.Second):
		return math.MinInt64
	case s > math.MaxInt64/int64(time.Second)-1:
		return math.MaxInt64
	}
	return t.UnixNano()
}

func stamp(t time.Time) (int64, error) {
	n := nanos(t)
	if !time.Unix(0, n).Equal(t) {
		return 0, errorf("ledger: timestamp %s is outside the years 1678 to 2262 that Unix nanoseconds hold", t)
	}
	return n, nil
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

const accountCols = `id, name, agency, currency, flags, bank_routing, bank_account, bank_type, code, user_data, ts`

func scanAccount(row pgx.CollectableRow, extra ...any) (ledger.Account, error) {
	var (
		a                     ledger.Account
		id, ud, ts            int64
		flags, code           int32
		routing, number, kind *string
	)
	dest := append([]any{&id, &a.Name, &a.Agency, &a.Currency, &flags, &routing, &number, &kind, &code, &ud, &ts}, extra...)
	if err := row.Scan(dest...); err != nil {
		return a, err
	}
	a.ID, a.UserData, a.Timestamp = decID(id), decID(ud), fromNanos(ts)
	a.Flags, a.Code = ledger.AccountFlags(flags), uint16(code)
	if routing != nil && number != nil && kind != nil {
		a.Bank = &ledger.Bank{RoutingNumber: *routing, AccountNumber: *number, AccountType: ledger.BankAccountType(*kind)}
	}
	return a, nil
}

const transferCols = `id, debit, credit, amount, pending_id, timeout, flags, code, user_data, ts`

func scanTransfer(row pgx.CollectableRow, extra ...any) (ledger.Transfer, error) {
	var (
		t                              ledger.Transfer
		id, dr, cr, amount, to, ud, ts int64
		pending                        *int64
		flags, code                    int32
	)
	dest := append([]any{&id, &dr, &cr, &amount, &pending, &to, &flags, &code, &ud, &ts}, extra...)
	if err := row.Scan(dest...); err != nil {
		return t, err
	}
	t.ID, t.DebitAccountID, t.CreditAccountID, t.UserData = decID(id), decID(dr), decID(cr), decID(ud)
	if pending != nil {
		t.PendingID = decID(*pending)
	}
	t.Amount, t.Timeout, t.Timestamp = mgmt.Money(amount), time.Duration(to), fromNanos(ts)
	t.Flags, t.Code = ledger.TransferFlags(flags), uint16(code)
	return t, nil
}

func collectTransfers(rows pgx.Rows, err error) ([]ledger.Transfer, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (ledger.Transfer, error) { return scanTransfer(row) })
}

// Write implements ledger.Storage: fn runs in one READ COMMITTED
// transaction on one connection of the pool, committed with
// synchronous_commit on. BEGIN goes with the first statement (Lock's). A
// transaction that saved nothing (every event of the group existed or
// failed) is rolled back instead: it only read what earlier writers had
// committed durably, and a rollback needs no sync to disk.
func (l *LedgerStorage) Write(ctx context.Context, fn func(tx ledger.Tx) error) error {
	const op = "ledger: write"
	if err := l.s.ready(ctx, op); err != nil {
		return err
	}
	conn, err := l.s.pool.Acquire(ctx)
	if err != nil {
		return wrap(ctx, op, err)
	}
	// A connection left in a transaction (a failure below) is closed
	// rather than reused: pgxpool destroys it on Release.
	defer conn.Release()
	t := &ledgerTx{l: l, conn: conn.Conn()}
	err = fn(t)
	switch {
	case err == nil && t.saved:
		tag, err := t.conn.Exec(ctx, "COMMIT")
		if err == nil && tag.String() != "COMMIT" { // an aborted transaction "commits" as ROLLBACK
			err = errorf("%s: the transaction was rolled back (%s)", op, tag)
		}
		return wrap(ctx, op+": commit", err)
	case t.begun:
		if _, rerr := t.conn.Exec(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil && err == nil {
			err = wrap(ctx, op+": rollback", rerr)
		}
	}
	return err
}

// ledgerTx is a ledger.Tx: one group's transaction.
type ledgerTx struct {
	l     *LedgerStorage
	conn  *pgx.Conn
	begun bool // BEGIN was sent
	saved bool // Save succeeded
}

// batch sends b, after BEGIN and the lock when they have not been sent.
func (t *ledgerTx) batch(ctx context.Context, b *pgx.Batch) error {
	if !t.begun {
		pre := &pgx.Batch{}
		pre.Queue("BEGIN ISOLATION LEVEL READ COMMITTED")
		pre.Queue("SET LOCAL synchronous_commit TO on")
		pre.QueuedQueries = append(pre.QueuedQueries, b.QueuedQueries...)
		b = pre
		t.begun = true
	}
	return t.conn.SendBatch(ctx, b).Close()
}

// query runs one statement of the transaction.
func (t *ledgerTx) query(ctx context.Context, sql string, args []any, fn func(pgx.Rows) error) error {
	var b pgx.Batch
	b.Queue(sql, args...).Query(func(rows pgx.Rows) error { return fn(rows) })
	return t.batch(ctx, &b)
}

// Lock implements ledger.Tx: BEGIN, synchronous_commit on for the
// transaction, and the lock of ledger_meta's row, in one round trip.
func (t *ledgerTx) Lock(ctx context.Context) (time.Time, error) {
	var b pgx.Batch
	var last *int64
	b.Queue(`SELECT last FROM ledger_meta FOR UPDATE`).QueryRow(func(row pgx.Row) error { return row.Scan(&last) })
	if err := t.batch(ctx, &b); err != nil {
		return time.Time{}, wrap(ctx, "ledger: lock", err)
	}
	if last == nil {
		return time.Time{}, nil
	}
	return fromNanos(*last), nil
}

// Accounts implements ledger.Tx.
func (t *ledgerTx) Accounts(ctx context.Context, ids []uint64) ([]ledger.AccountState, error) {
	var out []ledger.AccountState
	err := t.query(ctx, `SELECT `+accountCols+`, debits_pending, debits_posted, credits_pending, credits_posted
FROM ledger_accounts WHERE id = ANY($1)`, []any{encIDs(ids)}, func(rows pgx.Rows) (err error) {
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ledger.AccountState, error) {
			var dp, dpo, cp, cpo int64
			a, err := scanAccount(row, &dp, &dpo, &cp, &cpo)
			return ledger.AccountState{Account: a, Balance: ledger.Balance{AccountID: a.ID,
				DebitsPending: mgmt.Money(dp), DebitsPosted: mgmt.Money(dpo), CreditsPending: mgmt.Money(cp), CreditsPosted: mgmt.Money(cpo)}}, err
		})
		return err
	})
	return out, wrap(ctx, "ledger: read accounts", err)
}

// AccountIDs implements ledger.Tx.
func (t *ledgerTx) AccountIDs(ctx context.Context, names []string) (map[string]uint64, error) {
	out := map[string]uint64{}
	err := t.query(ctx, `SELECT name, id FROM ledger_accounts WHERE name = ANY($1)`, []any{names}, func(rows pgx.Rows) error {
		var name string
		var id int64
		_, err := pgx.ForEachRow(rows, []any{&name, &id}, func() error {
			out[name] = decID(id)
			return nil
		})
		return err
	})
	return out, wrap(ctx, "ledger: read account names", err)
}

// Transfers implements ledger.Tx.
func (t *ledgerTx) Transfers(ctx context.Context, ids []uint64) ([]ledger.TransferState, error) {
	var out []ledger.TransferState
	err := t.query(ctx, `SELECT `+transferCols+`, status FROM ledger_transfers WHERE id = ANY($1)`, []any{encIDs(ids)}, func(rows pgx.Rows) (err error) {
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ledger.TransferState, error) {
			var st int16
			x, err := scanTransfer(row, &st)
			return ledger.TransferState{Transfer: x, Status: ledger.PendingStatus(st)}, err
		})
		return err
	})
	return out, wrap(ctx, "ledger: read transfers", err)
}

// PendingDue implements ledger.Tx: the partial index on expires_at of the
// pending transfers.
func (t *ledgerTx) PendingDue(ctx context.Context, cutoff time.Time) ([]ledger.Transfer, error) {
	var out []ledger.Transfer
	err := t.query(ctx, `SELECT `+transferCols+` FROM ledger_transfers WHERE status = 1 AND expires_at <= $1`, []any{nanos(cutoff)},
		func(rows pgx.Rows) (err error) {
			out, err = collectTransfers(rows, nil)
			return err
		})
	return out, wrap(ctx, "ledger: read pending transfers due", err)
}

// Save implements ledger.Tx: up to five statements (new accounts, new
// transfers, balances, statuses of older transfers, last) in one round
// trip.
func (t *ledgerTx) Save(ctx context.Context, c ledger.Commit) error {
	var b pgx.Batch
	if n := len(c.Accounts); n > 0 {
		var (
			ids, uds, tss                                   = make([]int64, n), make([]int64, n), make([]int64, n)
			flags, codes                                    = make([]int32, n), make([]int32, n)
			names, agencies, currencies, routing, num, kind = make([]string, n), make([]string, n), make([]string, n), make([]*string, n), make([]*string, n), make([]*string, n)
		)
		for i, a := range c.Accounts {
			ts, err := stamp(a.Timestamp)
			if err != nil {
				return err
			}
			ids[i], uds[i], tss[i] = encID(a.ID), encID(a.UserData), ts
			flags[i], codes[i] = int32(a.Flags), int32(a.Code)
			names[i], agencies[i], currencies[i] = a.Name, a.Agency, a.Currency
			if bk := a.Bank; bk != nil {
				typ := string(bk.AccountType)
				routing[i], num[i], kind[i] = &bk.RoutingNumber, &bk.AccountNumber, &typ
			}
		}
		b.Queue(`INSERT INTO ledger_accounts (`+accountCols+`)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::text[], $7::text[], $8::text[], $9::integer[], $10::bigint[], $11::bigint[])`,
			ids, names, agencies, currencies, flags, routing, num, kind, codes, uds, tss)
	}
	if n := len(c.Transfers); n > 0 {
		var (
			ids, drs, crs, amounts, pendings, timeouts = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]*int64, n), make([]int64, n)
			flags, codes                               = make([]int32, n), make([]int32, n)
			uds, tss, expires                          = make([]int64, n), make([]int64, n), make([]*int64, n)
			statuses                                   = make([]int16, n)
			drD, drC, crD, crC                         = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		)
		for i, r := range c.Transfers {
			ts, err := stamp(r.Timestamp)
			if err != nil {
				return err
			}
			ids[i], drs[i], crs[i], uds[i], tss[i] = encID(r.ID), encID(r.DebitAccountID), encID(r.CreditAccountID), encID(r.UserData), ts
			amounts[i], timeouts[i] = int64(r.Amount), int64(r.Timeout)
			flags[i], codes[i] = int32(r.Flags), int32(r.Code)
			if r.PendingID != 0 {
				p := encID(r.PendingID)
				pendings[i] = &p
			}
			if exp := r.ExpiresAt(); !exp.IsZero() {
				e := nanos(exp)
				expires[i] = &e
			}
			st := r.Status
			if s, ok := c.Statuses[r.ID]; ok {
				st = s // decided in the same group: written once
			}
			statuses[i] = int16(st)
			drD[i], drC[i] = int64(r.DebitPosted.Debits), int64(r.DebitPosted.Credits)
			crD[i], crC[i] = int64(r.CreditPosted.Debits), int64(r.CreditPosted.Credits)
		}
		b.Queue(`INSERT INTO ledger_transfers (`+transferCols+`, expires_at, status, dr_debits_posted, dr_credits_posted, cr_debits_posted, cr_credits_posted)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::integer[], $8::integer[], $9::bigint[], $10::bigint[], $11::bigint[], $12::smallint[], $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[])`,
			ids, drs, crs, amounts, pendings, timeouts, flags, codes, uds, tss, expires, statuses, drD, drC, crD, crC)
	}
	if n := len(c.Balances); n > 0 {
		ids, dp, dpo, cp, cpo := make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n)
		for id, bal := range c.Balances {
			ids = append(ids, encID(id))
			dp, dpo = append(dp, int64(bal.DebitsPending)), append(dpo, int64(bal.DebitsPosted))
			cp, cpo = append(cp, int64(bal.CreditsPending)), append(cpo, int64(bal.CreditsPosted))
		}
		b.Queue(`UPDATE ledger_accounts AS a SET debits_pending = u.dp, debits_posted = u.dpo, credits_pending = u.cp, credits_posted = u.cpo
FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS u (id, dp, dpo, cp, cpo) WHERE a.id = u.id`,
			ids, dp, dpo, cp, cpo).Exec(func(tag pgconn.CommandTag) error { return rowsAffected("balances", tag, n) })
	}
	if len(c.Statuses) > 0 {
		isNew := make(map[uint64]bool, len(c.Transfers))
		for _, r := range c.Transfers {
			isNew[r.ID] = true
		}
		var ids []int64
		var sts []int16
		for id, st := range c.Statuses {
			if !isNew[id] {
				ids, sts = append(ids, encID(id)), append(sts, int16(st))
			}
		}
		if n := len(ids); n > 0 {
			b.Queue(`UPDATE ledger_transfers AS t SET status = u.st
FROM unnest($1::bigint[], $2::smallint[]) AS u (id, st) WHERE t.id = u.id`, ids, sts).
				Exec(func(tag pgconn.CommandTag) error { return rowsAffected("statuses", tag, n) })
		}
	}
	last, err := stamp(c.Last)
	if err != nil {
		return err
	}
	b.Queue(`UPDATE ledger_meta SET last = $1`, last)
	if err := t.batch(ctx, &b); err != nil {
		return wrap(ctx, "ledger: save", err)
	}
	t.saved = true
	return nil
}

func rowsAffected(what string, tag pgconn.CommandTag, want int) error {
	if got := tag.RowsAffected(); got != int64(want) {
		return errorf("ledger: save %s: %d rows updated, want %d", what, got, want)
	}
	return nil
}

// Last implements ledger.Storage.
func (l *LedgerStorage) Last(ctx context.Context) (time.Time, error) {
	const op = "ledger: last"
	if err := l.s.ready(ctx, op); err != nil {
		return time.Time{}, err
	}
	var last *int64
	if err := l.s.pool.QueryRow(ctx, `SELECT last FROM ledger_meta`).Scan(&last); err != nil {
		return time.Time{}, wrap(ctx, op, err)
	}
	if last == nil {
		return time.Time{}, nil
	}
	return fromNanos(*last), nil
}

// LookupAccounts implements ledger.Storage. Accounts found once come from
// memory after: only IDs never found are queried.
func (l *LedgerStorage) LookupAccounts(ctx context.Context, ids []uint64) ([]ledger.Account, error) {
	const op = "ledger: lookup accounts"
	if err := l.s.ready(ctx, op); err != nil {
		return nil, err
	}
	byID := make(map[uint64]ledger.Account, len(ids))
	var missing []uint64
	l.mu.Lock()
	for _, id := range ids {
		if a, ok := l.accounts[id]; ok {
			byID[id] = a
		} else {
			missing = append(missing, id)
		}
	}
	l.mu.Unlock()
	if len(missing) > 0 {
		rows, err := l.s.pool.Query(ctx, `SELECT `+accountCols+` FROM ledger_accounts WHERE id = ANY($1)`, encIDs(missing))
		if err != nil {
			return nil, wrap(ctx, op, err)
		}
		found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ledger.Account, error) { return scanAccount(row) })
		if err != nil {
			return nil, wrap(ctx, op, err)
		}
		l.mu.Lock()
		if len(l.accounts)+len(found) > maxCachedAccounts {
			clear(l.accounts)
		}
		for _, a := range found {
			byID[a.ID], l.accounts[a.ID] = a, a
		}
		l.mu.Unlock()
	}
	var out []ledger.Account
	for _, id := range ids {
		if a, ok := byID[id]; ok {
			if a.Bank != nil { // each result its own
				bk := *a.Bank
				a.Bank = &bk
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// LookupTransfers implements ledger.Storage.
func (l *LedgerStorage) LookupTransfers(ctx context.Context, ids []uint64) ([]ledger.Transfer, error) {
	const op = "ledger: lookup transfers"
	if err := l.s.ready(ctx, op); err != nil {
		return nil, err
	}
	found, err := collectTransfers(l.s.pool.Query(ctx, `SELECT `+transferCols+` FROM ledger_transfers WHERE id = ANY($1)`, encIDs(ids)))
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	byID := make(map[uint64]ledger.Transfer, len(found))
	for _, x := range found {
		byID[x.ID] = x
	}
	var out []ledger.Transfer
	for _, id := range ids {
		if x, ok := byID[id]; ok {
			out = append(out, x)
		}
	}
	return out, nil
}

// AccountByName implements ledger.Storage.
func (l *LedgerStorage) AccountByName(ctx context.Context, name string) (ledger.Account, bool, error) {
	const op = "ledger: account by name"
	if err := l.s.ready(ctx, op); err != nil {
		return ledger.Account{}, false, err
	}
	rows, err := l.s.pool.Query(ctx, `SELECT `+accountCols+` FROM ledger_accounts WHERE name = $1`, name)
	if err != nil {
		return ledger.Account{}, false, wrap(ctx, op, err)
	}
	a, err := pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (ledger.Account, error) { return scanAccount(row) })
	if errors.Is(err, pgx.ErrNoRows) {
		return ledger.Account{}, false, nil
	}
	if err != nil {
		return ledger.Account{}, false, wrap(ctx, op, err)
	}
	return a, true, nil
}

// ListAccounts implements ledger.Storage: a range of the primary key.
func (l *LedgerStorage) ListAccounts(ctx context.Context, after uint64, limit int) ([]ledger.Account, error) {
	const op = "ledger: list accounts"
	if err := l.s.ready(ctx, op); err != nil {
		return nil, err
	}
	rows, err := l.s.pool.Query(ctx, `SELECT `+accountCols+` FROM ledger_accounts WHERE id > $1 ORDER BY id LIMIT $2`, encID(after), limit)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ledger.Account, error) { return scanAccount(row) })
	return out, wrap(ctx, op, err)
}

// AccountTransfers implements ledger.Storage: the two indexes (debit, ts)
// and (credit, ts), merged.
func (l *LedgerStorage) AccountTransfers(ctx context.Context, id uint64, after time.Time, limit int) ([]ledger.Transfer, error) {
	const op = "ledger: account transfers"
	if err := l.s.ready(ctx, op); err != nil {
		return nil, err
	}
	out, err := collectTransfers(l.s.pool.Query(ctx, `SELECT `+transferCols+` FROM (
	(SELECT `+transferCols+` FROM ledger_transfers WHERE debit = $1 AND ts > $2 ORDER BY ts LIMIT $3)
	UNION ALL
	(SELECT `+transferCols+` FROM ledger_transfers WHERE credit = $1 AND ts > $2 ORDER BY ts LIMIT $3)
) AS x ORDER BY ts LIMIT $3`, encID(id), nanos(after), limit))
	return out, wrap(ctx, op, err)
}

// The statements of BalanceAt. The flags are literals, so
// that the planner matches the partial indexes' predicates: 2 is Pending,
// 12 PostPending|VoidPending.
const (
	postedAtSQL = `SELECT d, c FROM (
	(SELECT ts, dr_debits_posted AS d, dr_credits_posted AS c FROM ledger_transfers WHERE debit = $1 AND ts <= $2 ORDER BY ts DESC LIMIT 1)
	UNION ALL
	(SELECT ts, cr_debits_posted, cr_credits_posted FROM ledger_transfers WHERE credit = $1 AND ts <= $2 ORDER BY ts DESC LIMIT 1)
) AS x ORDER BY ts DESC LIMIT 1`
	pendingAtSQL = `SELECT ` + transferCols + ` FROM (
	(SELECT ` + transferCols + `, expires_at FROM ledger_transfers WHERE debit = $1 AND ts <= $2 AND flags & 2 <> 0)
	UNION ALL
	(SELECT ` + transferCols + `, expires_at FROM ledger_transfers WHERE credit = $1 AND ts <= $2 AND flags & 2 <> 0)
) AS p
WHERE (p.expires_at IS NULL OR p.expires_at > $2)
	AND NOT EXISTS (SELECT FROM ledger_transfers AS r WHERE r.pending_id = p.id AND r.ts <= $2 AND r.flags & 12 <> 0)`
)

// BalanceAt implements ledger.Storage: the account's last transfer by at,
// on either side (two index probes), and its Pending transfers by at (the
// partial indexes of Pending transfers by debit and by credit) that no
// post or void by at resolved and that had not expired at at — two
// statements sent in one round trip.
func (l *LedgerStorage) BalanceAt(ctx context.Context, id uint64, at time.Time) (ledger.Posted, []ledger.Transfer, error) {
	const op = "ledger: balance"
	if err := l.s.ready(ctx, op); err != nil {
		return ledger.Posted{}, nil, err
	}
	var (
		b       pgx.Batch
		p       ledger.Posted
		pending []ledger.Transfer
	)
	// One statement would do, but a batch of two keeps each plan simple.
	b.Queue(postedAtSQL, encID(id), nanos(at)).QueryRow(func(row pgx.Row) error {
		var d, c int64
		err := row.Scan(&d, &c)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		p = ledger.Posted{Debits: mgmt.Money(d), Credits: mgmt.Money(c)}
		return err
	})
	b.Queue(pendingAtSQL, encID(id), nanos(at)).Query(func(rows pgx.Rows) (err error) {
		pending, err = collectTransfers(rows, nil)
		return err
	})
	if err := l.s.pool.SendBatch(ctx, &b).Close(); err != nil {
		return ledger.Posted{}, nil, wrap(ctx, op, err)
	}
	return p, pending, nil
}
