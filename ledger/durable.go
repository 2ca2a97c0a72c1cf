package ledger

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"
	mgmt "github.com/hms-platform/mgmt"
)

// Durable is a Backend over a [Storage] with group commit: the batches of
// concurrent callers are gathered into one storage transaction, applied one
// after the other in arrival order (each batch is its own, so a linked
// chain never spans two callers), and committed with one sync to disk. Each
// caller receives its own results. A failure of the transaction fails every
// caller of the group with a KindUnavailable error and applies nothing —
// except when the storage lost touch with its database while the commit
// itself was under way (a connection to PostgreSQL dropped during COMMIT):
// then the group may have been committed all the same. Either way,
// resubmitting the same batch is safe: transfer IDs are idempotency keys,
// and what was applied answers exists.
//
// A Durable is safe for concurrent use. It keeps no state of the ledger in
// memory between groups, so several processes may share one Storage.
type Durable struct {
	storage Storage
	clock   clock.Clock
	timeout time.Duration
	max     int

	mu      sync.Mutex
	queue   []*request
	running bool
	taken   int // batches of the group running
	groups  atomic.Int64
	onGroup func(events int, d time.Duration, err error)
}

var _ Backend = (*Durable)(nil)

// DurableOptions configure a Durable.
type DurableOptions struct {
	// Clock assigns timestamps and expires pending transfers; the real
	// clock when nil.
	Clock clock.Clock
	// WriteTimeout bounds one group's transaction; 0 means 30 seconds. It
	// is the group's own deadline: a caller leaving does not cut the
	// others' transaction short.
	WriteTimeout time.Duration
	// MaxGroup bounds the events (accounts and transfers) of one group; 0
	// means MaxBatch. A batch larger than the rest of a group waits for
	// the next group; every batch fits in an empty one.
	MaxGroup int
	// OnGroup, when not nil, is called after every group's transaction
	// with the group's events (accounts and transfers), how long the
	// transaction took on Clock and its error (nil: committed). It runs
	// on the committing goroutine before the group's callers return: keep
	// it short (a metrics observer, say).
	OnGroup func(events int, d time.Duration, err error)
}

// NewDurable returns a Durable over s.
func NewDurable(s Storage, opts DurableOptions) (*Durable, error) {
	if s == nil {
		return nil, mgmt.Invalid("storage", "a durable ledger needs a storage")
	}
	d := &Durable{storage: s, clock: opts.Clock, timeout: opts.WriteTimeout, max: opts.MaxGroup, onGroup: opts.OnGroup}
	if d.clock == nil {
		d.clock = clock.New()
	}
	if d.timeout <= 0 {
		d.timeout = 30 * time.Second
	}
	if d.max <= 0 || d.max > MaxBatch {
		d.max = MaxBatch
	}
	return d, nil
}

// Groups returns how many groups have committed: with Stats-like use in
// benchmarks, the mean group size is transfers / Groups().
func (d *Durable) Groups() int64 { return d.groups.Load() }

// request is one caller's batch.
type request struct {
	ctx       context.Context
	accounts  []Account // a CreateAccounts batch, or
	transfers []Transfer
	aRes      []AccountResult
	tRes      []TransferResult
	err       error
	state     atomic.Int32
	done      chan struct{}
}

const (
	queued int32 = iota
	taken
	withdrawn
)

func (r *request) size() int { return max(len(r.accounts), len(r.transfers), 1) }

// CreateAccounts creates the accounts, one result per account.
func (d *Durable) CreateAccounts(ctx context.Context, accounts []Account) ([]AccountResult, error) {
	if err := checkBatch(ctx, len(accounts)); err != nil {
		return nil, err
	}
	r := &request{ctx: ctx, accounts: accounts, done: make(chan struct{})}
	if err := d.do(r); err != nil {
		return nil, err
	}
	return r.aRes, nil
}

// CreateTransfers applies the transfers in order, one result per transfer.
func (d *Durable) CreateTransfers(ctx context.Context, transfers []Transfer) ([]TransferResult, error) {
	if err := checkBatch(ctx, len(transfers)); err != nil {
		return nil, err
	}
	r := &request{ctx: ctx, transfers: transfers, done: make(chan struct{})}
	if err := d.do(r); err != nil {
		return nil, err
	}
	return r.tRes, nil
}

// do queues r and waits for its group. A caller whose ctx ends while r is
// still queued withdraws it; once taken, r completes and do reports what
// happened, so that an error always means nothing of r was applied.
func (d *Durable) do(r *request) error {
	if r.accounts == nil && r.transfers == nil {
		// An empty batch decides nothing.
		r.aRes, r.tRes = []AccountResult{}, []TransferResult{}
		return nil
	}
	d.mu.Lock()
	d.queue = append(d.queue, r)
	lead := !d.running
	d.running = true
	d.mu.Unlock()
	if lead {
		go d.runGroups()
	}
	select {
	case <-r.done:
		return r.err
	case <-r.ctx.Done():
		if r.state.CompareAndSwap(queued, withdrawn) {
			return mgmt.Errorf(mgmt.KindUnavailable, "", "ledger: %w", r.ctx.Err())
		}
		<-r.done
		return r.err
	}
}

// maxYields bounds how often a group waits for more callers to queue.
const maxYields = 8

// queued returns how many events wait for a group.
func (d *Durable) queued() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, r := range d.queue {
		n += r.size()
	}
	return n
}

// runGroups runs groups until the queue is empty.
func (d *Durable) runGroups() {
	for {
		// Let the callers that are runnable reach the queue first: on few
		// cores they would otherwise wait behind this group, whose
		// statements and sync hold the thread, and every group would hold
		// one batch.
		for range maxYields {
			n := d.queued()
			runtime.Gosched()
			if m := d.queued(); m <= n || m >= d.max {
				break
			}
		}
		d.mu.Lock()
		var g []*request
		n, i := 0, 0
		for ; i < len(d.queue); i++ {
			r := d.queue[i]
			if len(g) > 0 && n+r.size() > d.max {
				break
			}
			if r.state.CompareAndSwap(queued, taken) {
				g = append(g, r)
				n += r.size()
			}
		}
		d.queue = append(d.queue[:0:0], d.queue[i:]...)
		if len(g) == 0 && len(d.queue) == 0 {
			d.running = false
			d.mu.Unlock()
			return
		}
		d.taken = len(g)
		d.mu.Unlock()
		if len(g) > 0 {
			d.runGroup(g)
		}
		d.mu.Lock()
		d.taken = 0
		d.mu.Unlock()
	}
}

func (d *Durable) runGroup(g []*request) {
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	start := d.clock.Now()
	err := d.storage.Write(ctx, func(tx Tx) error { return d.apply(ctx, tx, g) })
	if d.onGroup != nil {
		events := 0
		for _, r := range g {
			events += r.size()
		}
		d.onGroup(events, d.clock.Since(start), err)
	}
	if err == nil {
		d.groups.Add(1)
	} else {
		err = mgmt.Errorf(mgmt.KindUnavailable, "", "ledger: the group of %d batches was not committed, nothing of it applied: %w", len(g), err)
	}
	for _, r := range g {
		if err != nil {
			r.err, r.aRes, r.tRes = err, nil, nil
		}
		close(r.done)
	}
}

// apply decides the group's batches in tx and saves the outcome.
func (d *Durable) apply(ctx context.Context, tx Tx, g []*request) error {
	last, err := tx.Lock(ctx)
	if err != nil {
		return err
	}
	now := d.clock.Now()
	s, err := load(ctx, tx, last, Cutoff(now, last), g)
	if err != nil {
		return err
	}
	start := make(map[uint64]Posted, len(s.balances))
	for id, b := range s.balances {
		start[id] = Posted{Debits: b.DebitsPosted, Credits: b.CreditsPosted}
	}
	c := Commit{Balances: map[uint64]Balance{}, Statuses: map[uint64]PendingStatus{}, Last: last}
	for _, r := range g {
		var ch Changes
		if r.accounts != nil {
			r.aRes, ch = ApplyAccounts(s, now, s.last, r.accounts)
		} else {
			r.tRes, ch = ApplyTransfers(s, now, s.last, r.transfers)
		}
		s.commit(ch)
		c.Accounts = append(c.Accounts, ch.Accounts...)
		for _, t := range ch.Transfers {
			c.Transfers = append(c.Transfers, Record{Transfer: t})
		}
		for id, b := range ch.Balances {
			c.Balances[id] = b
		}
		for id, st := range ch.Statuses {
			c.Statuses[id] = st
		}
	}
	c.Last = s.last
	if err := runningTotals(start, &c); err != nil {
		return err
	}
	if len(c.Accounts) == 0 && len(c.Transfers) == 0 && len(c.Balances) == 0 && len(c.Statuses) == 0 {
		return nil // nothing to write: every event existed or failed
	}
	return tx.Save(ctx, c)
}

// runningTotals fills in each new transfer's posted totals of its two
// accounts, from the totals before the group, and checks that they end
// where the engine's balances do.
func runningTotals(start map[uint64]Posted, c *Commit) error {
	tot := start
	for i := range c.Transfers {
		r := &c.Transfers[i]
		if r.Flags&Pending != 0 {
			r.Status = StatusPending
		}
		if r.Flags&(Pending|VoidPending) == 0 {
			dr := tot[r.DebitAccountID]
			var err error
			if dr.Debits, err = dr.Debits.Add(r.Amount); err != nil {
				return mgmt.Errorf(mgmt.KindInternal, "", "ledger: posted totals of account %d: %w", r.DebitAccountID, err)
			}
			tot[r.DebitAccountID] = dr
			cr := tot[r.CreditAccountID]
			if cr.Credits, err = cr.Credits.Add(r.Amount); err != nil {
				return mgmt.Errorf(mgmt.KindInternal, "", "ledger: posted totals of account %d: %w", r.CreditAccountID, err)
			}
			tot[r.CreditAccountID] = cr
		}
		r.DebitPosted, r.CreditPosted = tot[r.DebitAccountID], tot[r.CreditAccountID]
	}
	for id, b := range c.Balances {
		if p := tot[id]; p.Debits != b.DebitsPosted || p.Credits != b.CreditsPosted {
			return mgmt.Errorf(mgmt.KindInternal, "", "ledger: account %d: posted totals %v/%v disagree with the balance %v/%v",
				id, p.Debits, p.Credits, b.DebitsPosted, b.CreditsPosted)
		}
	}
	return nil
}

// snapshot is the part of the stored ledger a group reads, loaded up
// front, with the group's changes applied as it goes: the engine's Store.
type snapshot struct {
	last      time.Time
	accounts  map[uint64]Account
	names     map[string]uint64
	balances  map[uint64]Balance
	transfers map[uint64]Transfer
	statuses  map[uint64]PendingStatus
	due       []Transfer
}

func (s *snapshot) Account(id uint64) (Account, bool)        { a, ok := s.accounts[id]; return a, ok }
func (s *snapshot) AccountByName(name string) (uint64, bool) { id, ok := s.names[name]; return id, ok }
func (s *snapshot) Balance(id uint64) Balance                { return s.balances[id] }
func (s *snapshot) Transfer(id uint64) (Transfer, bool)      { t, ok := s.transfers[id]; return t, ok }
func (s *snapshot) Status(id uint64) PendingStatus           { return s.statuses[id] }

func (s *snapshot) PendingDue(cutoff time.Time) []Transfer {
	var out []Transfer
	for _, t := range s.due {
		if s.statuses[t.ID] == StatusPending && !t.ExpiresAt().After(cutoff) {
			out = append(out, t)
		}
	}
	return out
}

func (s *snapshot) commit(c Changes) {
	for _, a := range c.Accounts {
		s.accounts[a.ID] = a
		s.names[a.Name] = a.ID
	}
	for id, b := range c.Balances {
		s.balances[id] = b
	}
	for _, t := range c.Transfers {
		s.transfers[t.ID] = t
	}
	for id, st := range c.Statuses {
		s.statuses[id] = st
	}
	if c.Last.After(s.last) {
		s.last = c.Last
	}
}

// load reads what the group's batches may look at: the pending transfers
// due by cutoff, the transfers the batches name (their IDs and pending
// IDs), the accounts of all of these and of the batches, with balances,
// and the IDs of the new accounts' names. Everything else is unknown to
// the group, and so new.
func load(ctx context.Context, tx Tx, last, cutoff time.Time, g []*request) (*snapshot, error) {
	s := &snapshot{last: last, accounts: map[uint64]Account{}, names: map[string]uint64{},
		balances: map[uint64]Balance{}, transfers: map[uint64]Transfer{}, statuses: map[uint64]PendingStatus{}}
	due, err := tx.PendingDue(ctx, cutoff)
	if err != nil {
		return nil, err
	}
	sort.Slice(due, func(i, j int) bool { return due[i].Timestamp.Before(due[j].Timestamp) })
	s.due = due
	accts := set{}
	for _, t := range due {
		s.transfers[t.ID], s.statuses[t.ID] = t, StatusPending
		accts.add(t.DebitAccountID, t.CreditAccountID)
	}
	xfers := set{}
	var names []string
	for _, r := range g {
		for _, t := range r.transfers {
			xfers.add(t.ID, t.PendingID)
			accts.add(t.DebitAccountID, t.CreditAccountID)
		}
		for _, a := range r.accounts {
			accts.add(a.ID)
			names = append(names, a.Name)
		}
	}
	for id := range s.transfers {
		delete(xfers, id)
	}
	if len(xfers) > 0 {
		found, err := tx.Transfers(ctx, xfers.list())
		if err != nil {
			return nil, err
		}
		for _, t := range found {
			s.transfers[t.ID], s.statuses[t.ID] = t.Transfer, t.Status
			accts.add(t.DebitAccountID, t.CreditAccountID)
		}
	}
	if len(accts) > 0 {
		found, err := tx.Accounts(ctx, accts.list())
		if err != nil {
			return nil, err
		}
		for _, a := range found {
			s.accounts[a.ID], s.balances[a.ID] = a.Account, a.Balance
			s.names[a.Name] = a.ID
		}
	}
	if len(names) > 0 {
		ids, err := tx.AccountIDs(ctx, names)
		if err != nil {
			return nil, err
		}
		for n, id := range ids {
			s.names[n] = id
		}
	}
	return s, nil
}

// set is a set of IDs, 0 left out.
type set map[uint64]struct{}

func (s set) add(ids ...uint64) {
	for _, id := range ids {
		if id != 0 {
			s[id] = struct{}{}
		}
	}
}

func (s set) list() []uint64 {
	out := make([]uint64, 0, len(s))
	for id := range s {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// unavailable wraps a storage failure of a read.
func unavailable(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *mgmt.Error
	if errors.As(err, &e) {
		return err
	}
	return mgmt.Errorf(mgmt.KindUnavailable, "", "ledger: %s: %w", op, err)
}

// LookupAccounts returns the accounts found, in the order asked.
func (d *Durable) LookupAccounts(ctx context.Context, ids []uint64) ([]Account, error) {
	if err := checkBatch(ctx, len(ids)); err != nil {
		return nil, err
	}
	out, err := d.storage.LookupAccounts(ctx, ids)
	if out == nil && err == nil {
		out = []Account{}
	}
	return out, unavailable("lookup accounts", err)
}

// LookupTransfers returns the transfers found, in the order asked.
func (d *Durable) LookupTransfers(ctx context.Context, ids []uint64) ([]Transfer, error) {
	if err := checkBatch(ctx, len(ids)); err != nil {
		return nil, err
	}
	out, err := d.storage.LookupTransfers(ctx, ids)
	if out == nil && err == nil {
		out = []Transfer{}
	}
	return out, unavailable("lookup transfers", err)
}

// AccountByName returns the account with that name.
func (d *Durable) AccountByName(ctx context.Context, name string) (Account, error) {
	if err := checkBatch(ctx, 0); err != nil {
		return Account{}, err
	}
	a, ok, err := d.storage.AccountByName(ctx, name)
	if err != nil {
		return Account{}, unavailable("account by name", err)
	}
	if !ok {
		return Account{}, mgmt.NotFound("name", "account %q not found", name)
	}
	return a, nil
}

// ListAccounts returns up to limit accounts with an ID above after.
func (d *Durable) ListAccounts(ctx context.Context, after uint64, limit int) ([]Account, error) {
	if err := checkBatch(ctx, 0); err != nil {
		return nil, err
	}
	n, err := pageLimit(limit)
	if err != nil {
		return nil, err
	}
	out, err := d.storage.ListAccounts(ctx, after, n)
	if out == nil && err == nil {
		out = []Account{}
	}
	return out, unavailable("list accounts", err)
}

func (d *Durable) exists(ctx context.Context, id uint64, field string) error {
	found, err := d.storage.LookupAccounts(ctx, []uint64{id})
	if err != nil {
		return unavailable("lookup accounts", err)
	}
	if len(found) == 0 {
		return mgmt.NotFound(field, "account %d not found", id)
	}
	return nil
}

// Balance returns the account's balance now (at zero) or at time at: the
// posted totals after its last transfer by then, and the pending
// transfers still pending then.
//
// The reads are not one transaction, and need not be: history at or
// before the latest timestamp assigned (read first) never changes, since
// every later transfer gets a later timestamp. So the balance is that of
// the ledger as of that timestamp, with pending transfers expired by at
// (by now: Cutoff of the clock and that timestamp) released.
func (d *Durable) Balance(ctx context.Context, id uint64, at time.Time) (Balance, error) {
	if err := checkBatch(ctx, 0); err != nil {
		return Balance{}, err
	}
	if err := d.exists(ctx, id, "accountID"); err != nil {
		return Balance{}, err
	}
	last, err := d.storage.Last(ctx)
	if err != nil {
		return Balance{}, unavailable("last timestamp", err)
	}
	if at.IsZero() {
		at = Cutoff(d.clock.Now(), last)
	}
	asOf := at
	if asOf.After(last) {
		asOf = last
	}
	p, pend, err := d.storage.BalanceAt(ctx, id, asOf)
	if err != nil {
		return Balance{}, unavailable("balance", err)
	}
	b := Balance{AccountID: id, DebitsPosted: p.Debits, CreditsPosted: p.Credits}
	for _, t := range pend {
		if exp := t.ExpiresAt(); !exp.IsZero() && !exp.After(at) {
			continue // expired by at
		}
		if t.DebitAccountID == id {
			b.DebitsPending, err = b.DebitsPending.Add(t.Amount)
		} else {
			b.CreditsPending, err = b.CreditsPending.Add(t.Amount)
		}
		if err != nil {
			return Balance{}, mgmt.Errorf(mgmt.KindInternal, "", "balance of account %d at %s: %w", id, at, err)
		}
	}
	return b, nil
}

// AccountTransfers returns a page of the account's transfers, oldest first.
func (d *Durable) AccountTransfers(ctx context.Context, f AccountFilter) (Page, error) {
	if err := checkBatch(ctx, 0); err != nil {
		return Page{}, err
	}
	limit, err := pageLimit(f.Limit)
	if err != nil {
		return Page{}, err
	}
	if err := d.exists(ctx, f.AccountID, "filter.accountID"); err != nil {
		return Page{}, err
	}
	ts, err := d.storage.AccountTransfers(ctx, f.AccountID, f.After, limit+1)
	if err != nil {
		return Page{}, unavailable("account transfers", err)
	}
	p := Page{Transfers: ts}
	if len(ts) > limit {
		p.Transfers = ts[:limit]
		p.Next = ts[limit-1].Timestamp
	}
	if p.Transfers == nil {
		p.Transfers = []Transfer{}
	}
	return p, nil
}

// String describes the Durable for logs.
func (d *Durable) String() string { return fmt.Sprintf("ledger.Durable(%d groups)", d.Groups()) }
