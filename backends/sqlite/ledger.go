package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger"
)

// LedgerStorage is a ledger.Storage in a SQLite database: the tables
// ledger_accounts, ledger_transfers and ledger_meta, next to the budget's
// and the patches'. Get one from (*Store).LedgerStorage, or a ready
// ledger.Durable over it from (*Store).Ledger; it is safe for concurrent
// use and lives as long as its Store.
//
// Write runs on the database's one write connection in a BEGIN IMMEDIATE
// transaction, so that it holds SQLite's write lock from its first
// statement: the ledgers of every process sharing the file are
// serialized. It commits with synchronous=FULL (one sync of the WAL per
// group). The reads run on the read pool and see committed groups only.
type LedgerStorage struct {
	s *Store
}

var _ ledger.Storage = (*LedgerStorage)(nil)

// LedgerStorage returns the ledger.Storage kept in s's database. It shares
// s's connections and prepared statements; s.Close ends it.
func (s *Store) LedgerStorage() *LedgerStorage { return &LedgerStorage{s: s} }

// Ledger returns a ledger.Durable (group commit, the engine's rules) over
// s.LedgerStorage(): the ledger.Backend of the accounts and transfers kept
// in s's database. Several Durables, in this process or others, may share
// the database.
func (s *Store) Ledger(opts ledger.DurableOptions) (*ledger.Durable, error) {
	return ledger.NewDurable(s.LedgerStorage(), opts)
}

// stmtCache prepares each query once per database handle, on first use,
// and keeps it until the Store closes.
type stmtCache struct {
	db    *sql.DB
	mu    sync.Mutex
	m     map[string]*sql.Stmt
	ready atomic.Bool // all of the write queries are prepared (ledgerW)
}

func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[query] = st
	return st, nil
}

// prepared returns a statement prepare has prepared: inside a transaction
// of the one write connection, preparing would wait for the connection the
// transaction holds.
func (c *stmtCache) prepared(query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st, nil
	}
	return nil, mgmt.Errorf(mgmt.KindInternal, "", "sqlite: ledger: a statement was not prepared: %.60s", query)
}

// prepareWrites prepares the statements of a ledger Write, once.
func (c *stmtCache) prepareWrites(ctx context.Context) error {
	if c.ready.Load() {
		return nil
	}
	for _, q := range ledgerWriteQueries() {
		if _, err := c.get(ctx, q); err != nil {
			return err
		}
	}
	c.ready.Store(true)
	return nil
}

// ledgerWriteQueries are the statements of ledgerTx.
var ledgerWriteQueries = sync.OnceValue(func() []string {
	qs := []string{qLast, qAccountStates, qAccountIDs, qTransferStates, qPendingDue, qInsertAccount, qSetBalance, qSetStatus, qSetLast}
	for n := 1; n <= smallSet; n *= 2 {
		qs = append(qs, strings.Replace(qAccountStates, jsonSet, inList(n), 1), strings.Replace(qTransferStates, jsonSet, inList(n), 1))
	}
	for _, n := range insertChunks {
		qs = append(qs, insertTransfersSQL(n))
	}
	return qs
})

func (c *stmtCache) close() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, st := range c.m {
		errs = append(errs, st.Close())
	}
	c.m = nil
	return errs
}

// The columns read, in the order the scan functions take them.
const (
	accountCols  = "id, name, agency, currency, flags, bank_routing, bank_account, bank_type, code, user_data, ts"
	balanceCols  = "debits_pending, debits_posted, credits_pending, credits_posted"
	transferCols = "id, debit_id, credit_id, amount, pending_id, timeout, flags, code, user_data, ts"
)

// The ledger's queries. "IN (SELECT value FROM json_each(?))" takes a set
// of IDs (or names) as one JSON array: one prepared statement serves any
// number of them. Sets of up to smallSet IDs, the common case, use
// "IN (+?1, +?2, …)" instead (see inIDs), which costs less.
//
// A parameter compared with a column is written +?N: SQLite (with STAT4,
// as modernc.org/sqlite builds it) otherwise marks the statement to be
// prepared again whenever an integer bound there changes between 0 or 1
// and another value — every other call, for a hot account 1. The unary +
// changes no value and leaves the index usable.
const (
	qLast             = `SELECT last FROM ledger_meta WHERE id = 1`
	qSetLast          = `UPDATE ledger_meta SET last = ?1 WHERE id = 1`
	qAccountsByID     = `SELECT ` + accountCols + ` FROM ledger_accounts WHERE id IN (SELECT value FROM json_each(?1))`
	qAccountStates    = `SELECT ` + accountCols + `, ` + balanceCols + ` FROM ledger_accounts WHERE id IN (SELECT value FROM json_each(?1))`
	qAccountIDs       = `SELECT name, id FROM ledger_accounts WHERE name IN (SELECT value FROM json_each(?1))`
	qAccountByName    = `SELECT ` + accountCols + ` FROM ledger_accounts WHERE name = ?1`
	qAccountsAfter    = `SELECT ` + accountCols + ` FROM ledger_accounts WHERE id > +?1 ORDER BY id LIMIT ?2`
	qAccountsHigh     = `SELECT ` + accountCols + ` FROM ledger_accounts WHERE id >= +?1 AND id < 0 ORDER BY id LIMIT ?2`
	qTransfersByID    = `SELECT ` + transferCols + ` FROM ledger_transfers WHERE id IN (SELECT value FROM json_each(?1))`
	qTransferStates   = `SELECT ` + transferCols + `, status FROM ledger_transfers WHERE id IN (SELECT value FROM json_each(?1))`
	qPendingDue       = `SELECT ` + transferCols + ` FROM ledger_transfers WHERE status = 1 AND expires_at <= +?1`
	qInsertAccount    = `INSERT INTO ledger_accounts (` + accountCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qSetBalance       = `UPDATE ledger_accounts SET debits_pending = ?2, debits_posted = ?3, credits_pending = ?4, credits_posted = ?5 WHERE id = +?1`
	qSetStatus        = `UPDATE ledger_transfers SET status = ?2 WHERE id = +?1`
	qAccountTransfers = `SELECT ` + transferCols + ` FROM (
    SELECT * FROM (SELECT ` + transferCols + ` FROM ledger_transfers WHERE debit_id = +?1 AND ts > +?2 ORDER BY ts LIMIT ?3)
    UNION ALL
    SELECT * FROM (SELECT ` + transferCols + ` FROM ledger_transfers WHERE credit_id = +?1 AND debit_id <> +?1 AND ts > +?2 ORDER BY ts LIMIT ?3)
) ORDER BY ts LIMIT ?3`
	// The account's last transfer by ?2: the later of the last on each
	// side, each read from the end of a range of its index.
	qPostedAt = `SELECT debit_id, dr_debits_posted, dr_credits_posted, cr_debits_posted, cr_credits_posted FROM ledger_transfers
WHERE ts = max(
    ifnull((SELECT max(ts) FROM ledger_transfers WHERE debit_id = +?1 AND ts <= +?2), -9223372036854775808),
    ifnull((SELECT max(ts) FROM ledger_transfers WHERE credit_id = +?1 AND ts <= +?2), -9223372036854775808))`
	// A pending transfer (flags & 2) of the account, created by at, not
	// expired at at, and not posted or voided (flags & 12) by at.
	qPendingAt = `SELECT ` + transferCols + ` FROM ledger_transfers AS p
WHERE p.debit_id = +?1 AND p.flags & 2 <> 0 AND p.ts <= +?2 AND (p.expires_at IS NULL OR p.expires_at > +?2)
    AND NOT EXISTS (SELECT 1 FROM ledger_transfers AS r WHERE r.pending_id = p.id AND r.pending_id <> 0 AND r.flags & 12 <> 0 AND r.ts <= +?2)
UNION ALL
SELECT ` + transferCols + ` FROM ledger_transfers AS p
WHERE p.credit_id = +?1 AND p.debit_id <> +?1 AND p.flags & 2 <> 0 AND p.ts <= +?2 AND (p.expires_at IS NULL OR p.expires_at > +?2)
    AND NOT EXISTS (SELECT 1 FROM ledger_transfers AS r WHERE r.pending_id = p.id AND r.pending_id <> 0 AND r.flags & 12 <> 0 AND r.ts <= +?2)`
)

// transferInsertCols is the number of parameters per transfer inserted.
const transferInsertCols = 16

// insertChunks are the numbers of transfers one INSERT statement carries,
// largest first: a group's transfers go in statements of 64, then of 8,
// then one by one. Fewer, larger statements cost less to run; these three
// cost little to prepare (16 × 64 parameters are well under SQLite's limit
// of 32,766).
var insertChunks = [...]int{64, 8, 1}

// insertTransfersSQL returns the INSERT of n transfers.
func insertTransfersSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO ledger_transfers (` + transferCols + `, expires_at, status,
    dr_debits_posted, dr_credits_posted, cr_debits_posted, cr_credits_posted) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
	}
	return b.String()
}

// Conversions between the ledger's values and the columns.

// id64 is a uint64 (an ID, user data) as the int64 of the same bits.
func id64(u uint64) int64 { return int64(u) }

// Nanoseconds since the epoch that a time.Time can be compared with:
// times beyond int64 nanoseconds (the zero time, the far future) clamp to
// its ends, where they order the same against every stored time.
var (
	minNanosTime = time.Unix(0, math.MinInt64)
	maxNanosTime = time.Unix(0, math.MaxInt64)
)

func nanos(t time.Time) int64 {
	switch {
	case t.Before(minNanosTime):
		return math.MinInt64
	case t.After(maxNanosTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// storedTime is a timestamp the ledger assigned, refused out of the range
// the schema keeps exactly.
func storedTime(what string, t time.Time) (int64, error) {
	if t.Before(minNanosTime) || t.After(maxNanosTime) {
		return 0, mgmt.Errorf(mgmt.KindInternal, "", "sqlite: ledger: %s %s is outside the years 1678–2262 kept to the nanosecond", what, t)
	}
	return t.UnixNano(), nil
}

// smallSet is the largest set of IDs bound as parameters, one each;
// larger sets are bound as one JSON array.
const smallSet = 8

// inIDs returns q, whose "IN (SELECT value FROM json_each(?1))" takes the
// set ids, and its arguments: for a small set, q with the IN list of one
// parameter per ID (1, 2, 4 or 8 of them, the last ID repeated to fill
// them), so that few statements serve every small set.
func inIDs(q string, ids []uint64) (string, []any) {
	if len(ids) > smallSet || len(ids) == 0 {
		return q, []any{idsJSON(ids)}
	}
	n := 1
	for n < len(ids) {
		n *= 2
	}
	args := make([]any, n)
	for i := range args {
		args[i] = id64(ids[min(i, len(ids)-1)])
	}
	return strings.Replace(q, jsonSet, inList(n), 1), args
}

const jsonSet = "IN (SELECT value FROM json_each(?1))"

// inList returns "IN (+?1, +?2, … +?n)".
func inList(n int) string {
	var b strings.Builder
	b.WriteString("IN (")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("+?" + strconv.Itoa(i+1))
	}
	b.WriteByte(')')
	return b.String()
}

// idsJSON is ids as a JSON array of int64s, for json_each.
func idsJSON(ids []uint64) string {
	b := make([]byte, 0, 2+len(ids)*8)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id64(id), 10)
	}
	return string(append(b, ']'))
}

type scanner interface{ Scan(dest ...any) error }

func scanAccount(sc scanner, more ...any) (ledger.Account, error) {
	var (
		a                             ledger.Account
		id, flags, code, userData, ts int64
		routing, acct, btype          sql.NullString
	)
	err := sc.Scan(append([]any{&id, &a.Name, &a.Agency, &a.Currency, &flags, &routing, &acct, &btype, &code, &userData, &ts}, more...)...)
	if err != nil {
		return ledger.Account{}, err
	}
	a.ID, a.Flags, a.Code, a.UserData, a.Timestamp = uint64(id), ledger.AccountFlags(flags), uint16(code), uint64(userData), fromNanos(ts)
	if routing.Valid {
		a.Bank = &ledger.Bank{RoutingNumber: routing.String, AccountNumber: acct.String, AccountType: ledger.BankAccountType(btype.String)}
	}
	return a, nil
}

func scanTransfer(sc scanner, more ...any) (ledger.Transfer, error) {
	var c [10]int64 // transferCols
	err := sc.Scan(append([]any{&c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &c[6], &c[7], &c[8], &c[9]}, more...)...)
	if err != nil {
		return ledger.Transfer{}, err
	}
	return ledger.Transfer{ID: uint64(c[0]), DebitAccountID: uint64(c[1]), CreditAccountID: uint64(c[2]), Amount: mgmt.Money(c[3]),
		PendingID: uint64(c[4]), Timeout: time.Duration(c[5]), Flags: ledger.TransferFlags(c[6]), Code: uint16(c[7]),
		UserData: uint64(c[8]), Timestamp: fromNanos(c[9])}, nil
}

// query runs a prepared query (in tx when tx is not nil) and calls row for
// each row.
func query(ctx context.Context, tx *sql.Tx, st *sql.Stmt, args []any, row func(*sql.Rows) error) error {
	if tx != nil {
		st = tx.StmtContext(ctx, st)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// read runs a query of the read pool.
func (l *LedgerStorage) read(ctx context.Context, op, q string, args []any, row func(*sql.Rows) error) error {
	if err := checkCtx(ctx, op); err != nil {
		return err
	}
	st, err := l.s.ledgerR.get(ctx, q)
	if err == nil {
		err = query(ctx, nil, st, args, row)
	}
	if err != nil {
		return l.s.fail(ctx, op, err)
	}
	return nil
}

// Write implements ledger.Storage: fn runs in one BEGIN IMMEDIATE
// transaction of the write connection, committed with a sync to disk.
func (l *LedgerStorage) Write(ctx context.Context, fn func(tx ledger.Tx) error) error {
	const op = "ledger write"
	if err := checkCtx(ctx, op); err != nil {
		return err
	}
	if err := l.s.ledgerW.prepareWrites(ctx); err != nil {
		return l.s.fail(ctx, op+": prepare", err)
	}
	sqlTx, err := l.s.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the DSN sets _txlock
	if err != nil {
		return l.s.fail(ctx, op, err)
	}
	if err := fn(&ledgerTx{s: l.s, tx: sqlTx}); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return l.s.fail(ctx, op+": commit", err)
	}
	return nil
}

// ledgerTx is a ledger.Tx: the statements of one Write.
type ledgerTx struct {
	s  *Store
	tx *sql.Tx
}

func (t *ledgerTx) query(ctx context.Context, op, q string, args []any, row func(*sql.Rows) error) error {
	st, err := t.s.ledgerW.prepared(q)
	if err == nil {
		err = query(ctx, t.tx, st, args, row)
	}
	if err != nil {
		return t.s.fail(ctx, op, err)
	}
	return nil
}

func (t *ledgerTx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := t.s.ledgerW.prepared(q)
	if err != nil {
		return nil, err
	}
	return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

// Lock implements ledger.Tx. The transaction holds the write lock since
// it began (BEGIN IMMEDIATE); Lock reads the latest timestamp.
func (t *ledgerTx) Lock(ctx context.Context) (time.Time, error) {
	var last time.Time
	err := t.query(ctx, "ledger lock", qLast, nil, func(r *sql.Rows) error {
		var n sql.NullInt64
		if err := r.Scan(&n); err != nil {
			return err
		}
		if n.Valid {
			last = fromNanos(n.Int64)
		}
		return nil
	})
	return last, err
}

// Accounts implements ledger.Tx.
func (t *ledgerTx) Accounts(ctx context.Context, ids []uint64) ([]ledger.AccountState, error) {
	out := make([]ledger.AccountState, 0, len(ids))
	q, args := inIDs(qAccountStates, ids)
	err := t.query(ctx, "ledger accounts", q, args, func(r *sql.Rows) error {
		var b [4]int64
		a, err := scanAccount(r, &b[0], &b[1], &b[2], &b[3])
		out = append(out, ledger.AccountState{Account: a, Balance: ledger.Balance{AccountID: a.ID,
			DebitsPending: mgmt.Money(b[0]), DebitsPosted: mgmt.Money(b[1]), CreditsPending: mgmt.Money(b[2]), CreditsPosted: mgmt.Money(b[3])}})
		return err
	})
	return out, err
}

// AccountIDs implements ledger.Tx.
func (t *ledgerTx) AccountIDs(ctx context.Context, names []string) (map[string]uint64, error) {
	j, err := json.Marshal(names)
	if err != nil {
		return nil, mgmt.Errorf(mgmt.KindInternal, "", "sqlite: ledger account names: %w", err)
	}
	out := make(map[string]uint64, len(names))
	err = t.query(ctx, "ledger account names", qAccountIDs, []any{string(j)}, func(r *sql.Rows) error {
		var name string
		var id int64
		err := r.Scan(&name, &id)
		out[name] = uint64(id)
		return err
	})
	return out, err
}

// Transfers implements ledger.Tx.
func (t *ledgerTx) Transfers(ctx context.Context, ids []uint64) ([]ledger.TransferState, error) {
	var out []ledger.TransferState
	q, args := inIDs(qTransferStates, ids)
	err := t.query(ctx, "ledger transfers", q, args, func(r *sql.Rows) error {
		var st int64
		x, err := scanTransfer(r, &st)
		out = append(out, ledger.TransferState{Transfer: x, Status: ledger.PendingStatus(st)})
		return err
	})
	return out, err
}

// PendingDue implements ledger.Tx.
func (t *ledgerTx) PendingDue(ctx context.Context, cutoff time.Time) ([]ledger.Transfer, error) {
	var out []ledger.Transfer
	err := t.query(ctx, "ledger pending due", qPendingDue, []any{nanos(cutoff)}, func(r *sql.Rows) error {
		x, err := scanTransfer(r)
		out = append(out, x)
		return err
	})
	return out, err
}

// Save implements ledger.Tx: the new accounts, then the new transfers in
// multi-row INSERTs (with their final statuses), the changed statuses of
// older transfers, the balances, and the latest timestamp.
func (t *ledgerTx) Save(ctx context.Context, c ledger.Commit) error {
	const op = "ledger save"
	if err := t.save(ctx, c); err != nil {
		return t.s.fail(ctx, op, err)
	}
	return nil
}

func (t *ledgerTx) save(ctx context.Context, c ledger.Commit) error {
	for _, a := range c.Accounts {
		ts, err := storedTime("account timestamp", a.Timestamp)
		if err != nil {
			return err
		}
		var routing, acct, btype sql.NullString
		if b := a.Bank; b != nil {
			routing = sql.NullString{String: b.RoutingNumber, Valid: true}
			acct = sql.NullString{String: b.AccountNumber, Valid: true}
			btype = sql.NullString{String: string(b.AccountType), Valid: true}
		}
		if _, err := t.exec(ctx, qInsertAccount, id64(a.ID), a.Name, a.Agency, a.Currency, int64(a.Flags),
			routing, acct, btype, int64(a.Code), id64(a.UserData), ts); err != nil {
			return err
		}
	}

	statuses := c.Statuses
	if len(c.Transfers) > 0 {
		args := make([]any, 0, transferInsertCols*len(c.Transfers))
		inserted := make(map[uint64]bool, len(c.Transfers))
		for i := range c.Transfers {
			r := &c.Transfers[i]
			ts, err := storedTime("transfer timestamp", r.Timestamp)
			if err != nil {
				return err
			}
			var exp sql.NullInt64
			if e := r.ExpiresAt(); !e.IsZero() {
				if exp.Int64, err = storedTime("transfer expiry", e); err != nil {
					return err
				}
				exp.Valid = true
			}
			st := r.Status
			if s, ok := statuses[r.ID]; ok {
				st = s
				inserted[r.ID] = true
			}
			args = append(args, id64(r.ID), id64(r.DebitAccountID), id64(r.CreditAccountID), int64(r.Amount),
				id64(r.PendingID), int64(r.Timeout), int64(r.Flags), int64(r.Code), id64(r.UserData), ts, exp, int64(st),
				int64(r.DebitPosted.Debits), int64(r.DebitPosted.Credits), int64(r.CreditPosted.Debits), int64(r.CreditPosted.Credits))
		}
		if err := t.insertTransfers(ctx, args); err != nil {
			return err
		}
		if len(inserted) > 0 {
			statuses = make(map[uint64]ledger.PendingStatus, len(c.Statuses))
			for id, st := range c.Statuses {
				if !inserted[id] {
					statuses[id] = st
				}
			}
		}
	}

	for _, id := range sortedKeys(statuses) {
		if err := t.exec1(ctx, "status of transfer", id, qSetStatus, id64(id), int64(statuses[id])); err != nil {
			return err
		}
	}
	for _, id := range sortedKeys(c.Balances) {
		b := c.Balances[id]
		if err := t.exec1(ctx, "balance of account", id, qSetBalance, id64(id),
			int64(b.DebitsPending), int64(b.DebitsPosted), int64(b.CreditsPending), int64(b.CreditsPosted)); err != nil {
			return err
		}
	}
	last, err := storedTime("last timestamp", c.Last)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, qSetLast, last)
	return err
}

// exec1 runs an UPDATE of the row of id, which must exist.
func (t *ledgerTx) exec1(ctx context.Context, what string, id uint64, q string, args ...any) error {
	res, err := t.exec(ctx, q, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errors.Join(err, mgmt.Errorf(mgmt.KindInternal, "", "sqlite: ledger: the %s %d to update is not stored", what, id))
	}
	return nil
}

// insertTransfers inserts the rows of args, transferInsertCols each, in
// statements of insertChunks rows.
func (t *ledgerTx) insertTransfers(ctx context.Context, args []any) error {
	for _, n := range insertChunks {
		for len(args) >= n*transferInsertCols {
			if _, err := t.exec(ctx, insertTransfersSQL(n), args[:n*transferInsertCols]...); err != nil {
				return err
			}
			args = args[n*transferInsertCols:]
		}
	}
	return nil
}

func sortedKeys[V any](m map[uint64]V) []uint64 {
	ks := make([]uint64, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Last implements ledger.Storage.
func (l *LedgerStorage) Last(ctx context.Context) (time.Time, error) {
	var last time.Time
	err := l.read(ctx, "ledger last timestamp", qLast, nil, func(r *sql.Rows) error {
		var n sql.NullInt64
		if err := r.Scan(&n); err != nil {
			return err
		}
		if n.Valid {
			last = fromNanos(n.Int64)
		}
		return nil
	})
	return last, err
}

// LookupAccounts implements ledger.Storage.
func (l *LedgerStorage) LookupAccounts(ctx context.Context, ids []uint64) ([]ledger.Account, error) {
	out, err := lookupInOrder(ctx, l, "lookup accounts", qAccountsByID, ids, func(r *sql.Rows) (uint64, ledger.Account, error) {
		a, err := scanAccount(r)
		return a.ID, a, err
	})
	for i := range out {
		if b := out[i].Bank; b != nil { // each its own copy, also for an ID asked twice
			c := *b
			out[i].Bank = &c
		}
	}
	return out, err
}

// LookupTransfers implements ledger.Storage.
func (l *LedgerStorage) LookupTransfers(ctx context.Context, ids []uint64) ([]ledger.Transfer, error) {
	return lookupInOrder(ctx, l, "lookup transfers", qTransfersByID, ids, func(r *sql.Rows) (uint64, ledger.Transfer, error) {
		x, err := scanTransfer(r)
		return x.ID, x, err
	})
}

// lookupInOrder reads the rows of q whose IDs are among ids and returns
// them in the order of ids (an ID asked twice is answered twice).
func lookupInOrder[T any](ctx context.Context, l *LedgerStorage, op, q string, ids []uint64, scan func(*sql.Rows) (uint64, T, error)) ([]T, error) {
	found := make(map[uint64]T, len(ids))
	q, args := inIDs(q, ids)
	err := l.read(ctx, op, q, args, func(r *sql.Rows) error {
		id, v, err := scan(r)
		found[id] = v
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(found))
	for _, id := range ids {
		if v, ok := found[id]; ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// AccountByName implements ledger.Storage.
func (l *LedgerStorage) AccountByName(ctx context.Context, name string) (ledger.Account, bool, error) {
	var out ledger.Account
	ok := false
	err := l.read(ctx, "account by name", qAccountByName, []any{name}, func(r *sql.Rows) error {
		var err error
		out, err = scanAccount(r)
		ok = err == nil
		return err
	})
	return out, ok, err
}

// ListAccounts implements ledger.Storage. IDs of 2^63 and more are stored
// as negative numbers: they come after the others, from a second range.
func (l *LedgerStorage) ListAccounts(ctx context.Context, after uint64, limit int) ([]ledger.Account, error) {
	var out []ledger.Account
	row := func(r *sql.Rows) error {
		a, err := scanAccount(r)
		out = append(out, a)
		return err
	}
	high := int64(math.MinInt64) // the first ID of the high range to list
	if after < 1<<63 {
		if err := l.read(ctx, "list accounts", qAccountsAfter, []any{id64(after), limit}, row); err != nil {
			return nil, err
		}
	} else {
		high = id64(after) + 1 // MaxUint64 + 1 is 0: nothing is above it
	}
	if len(out) < limit {
		if err := l.read(ctx, "list accounts", qAccountsHigh, []any{high, limit - len(out)}, row); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AccountTransfers implements ledger.Storage.
func (l *LedgerStorage) AccountTransfers(ctx context.Context, id uint64, after time.Time, limit int) ([]ledger.Transfer, error) {
	var out []ledger.Transfer
	err := l.read(ctx, "account transfers", qAccountTransfers, []any{id64(id), nanos(after), limit}, func(r *sql.Rows) error {
		x, err := scanTransfer(r)
		out = append(out, x)
		return err
	})
	return out, err
}

// BalanceAt implements ledger.Storage: the posted totals from the ends of
// the account's two index ranges, then its pending transfers by at.
func (l *LedgerStorage) BalanceAt(ctx context.Context, id uint64, at time.Time) (ledger.Posted, []ledger.Transfer, error) {
	p, err := l.postedAt(ctx, id, at)
	if err != nil {
		return ledger.Posted{}, nil, err
	}
	pending, err := l.pendingAt(ctx, id, at)
	return p, pending, err
}

func (l *LedgerStorage) postedAt(ctx context.Context, id uint64, at time.Time) (ledger.Posted, error) {
	var p ledger.Posted
	err := l.read(ctx, "posted totals", qPostedAt, []any{id64(id), nanos(at)}, func(r *sql.Rows) error {
		var dr int64
		var c [4]int64
		err := r.Scan(&dr, &c[0], &c[1], &c[2], &c[3])
		if dr == id64(id) {
			p = ledger.Posted{Debits: mgmt.Money(c[0]), Credits: mgmt.Money(c[1])}
		} else {
			p = ledger.Posted{Debits: mgmt.Money(c[2]), Credits: mgmt.Money(c[3])}
		}
		return err
	})
	return p, err
}

func (l *LedgerStorage) pendingAt(ctx context.Context, id uint64, at time.Time) ([]ledger.Transfer, error) {
	var out []ledger.Transfer
	err := l.read(ctx, "pending transfers", qPendingAt, []any{id64(id), nanos(at)}, func(r *sql.Rows) error {
		x, err := scanTransfer(r)
		out = append(out, x)
		return err
	})
	return out, err
}
